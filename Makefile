# `make run` installs into .venv and launches the app; `make test` installs with the test extra, checks the style
# (ruff) and runs the suite.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: run test lint install install-test bench

$(PY):
	$(PYTHON) -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install -e .

install-test: $(PY)
	$(PY) -m pip install -e '.[test]'

run: install
	$(PY) main.py

lint: install-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

bench: install
	$(PY) bench/synth_speed.py
	$(PY) bench/train_throughput.py --quick
