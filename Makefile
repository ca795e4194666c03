# `make run` installs into .venv and launches the app; `make test` installs with the test extra and runs the suite.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: run test install install-test bench

$(PY):
	$(PYTHON) -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install -e .

install-test: $(PY)
	$(PY) -m pip install -e '.[test]'

run: install
	$(PY) main.py

test: install-test
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

bench: install
	$(PY) bench/synth_speed.py
	$(PY) bench/train_throughput.py --quick
