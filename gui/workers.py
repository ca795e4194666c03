"""Long work off the GUI thread, in one place.

A :class:`Job` owns its thread from start to end: it runs one function at a time in a fresh
QThread, forwards the function's progress and events to the GUI thread, and reports exactly one
outcome (``finished``, ``cancelled`` or ``errored``) after the thread has ended. The GUI thread
never waits on the thread: cleanup follows ``QThread.finished``. An error's traceback goes to the
log (``logging``); ``errored`` carries the exception itself.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal, Slot

from vae.cache import Cancelled  # dataset preparation raises it when its should_stop() turns true

log = logging.getLogger("face_explorer")


class JobControl:
    """What a job's function is given: ask whether to stop, report progress, post events (any thread)."""

    def __init__(self, worker: "_Worker"):
        self._worker = worker
        self._stop = threading.Event()
        self._on_stop: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if the job was asked to stop."""
        if self._stop.is_set():
            raise Cancelled()

    def progress(self, done: int, total: int, what: str = "") -> None:
        self._worker.progress.emit(int(done), int(total), what)

    def post(self, payload: object) -> None:
        self._worker.event.emit(payload)

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the job is asked to stop (at once if it already was)."""
        with self._lock:
            self._on_stop.append(callback)
            stopped = self._stop.is_set()
        if stopped:
            callback()

    def request_stop(self) -> None:
        with self._lock:
            self._stop.set()
            callbacks = list(self._on_stop)
        for callback in callbacks:
            callback()


class _Worker(QObject):
    progress = Signal(int, int, str)
    event = Signal(object)
    outcome = Signal(str, object)  # "finished" | "cancelled" | "errored", value
    done = Signal()

    def __init__(self, fn, args, kwargs):
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.control = JobControl(self)

    @Slot()
    def run(self) -> None:
        try:
            result = self.fn(self.control, *self.args, **self.kwargs)
            self.outcome.emit("finished", result)
        except Cancelled:
            self.outcome.emit("cancelled", None)
        except Exception as exc:  # every failure reaches the GUI as the exception, never a dead thread
            log.error("%s failed", getattr(self.fn, "__name__", "a background job"), exc_info=exc)
            self.outcome.emit("errored", exc)
        finally:
            self.done.emit()


class Job(QObject):
    """Runs ``fn(control, *args, **kwargs)`` off the GUI thread, one call at a time; see the module docstring.

    ``progress(done, total, what, eta_s)`` estimates the time left from the rate so far (NaN until known).
    """

    started = Signal()
    progress = Signal(int, int, str, float)
    event = Signal(object)
    finished = Signal(object)
    cancelled = Signal()
    errored = Signal(object)
    running_changed = Signal(bool)
    # Every job thread not yet ended, in any window, with its worker (GUI thread only). Holding them
    # here keeps both alive until the thread ends, even when the Job itself is deleted before that.
    _running: dict[QThread, "_Worker"] = {}

    def __init__(self, name: str = "job", parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._outcome: tuple[str, object] | None = None
        self._progress_start: tuple[float, int] | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None

    @classmethod
    def any_running(cls) -> bool:
        """Whether any job's thread is still running (in any window, deleted jobs' threads included)."""
        for thread in [t for t in cls._running if not shiboken6.isValid(t) or not t.isRunning()]:
            del cls._running[thread]
        return bool(cls._running)

    @property
    def stopping(self) -> bool:
        return self._worker is not None and self._worker.control.should_stop()

    def start(self, fn: Callable, *args, **kwargs) -> bool:
        """Start ``fn`` in a new thread; False (and nothing started) while a call is still running."""
        if self.busy:
            return False
        self._worker = _Worker(fn, args, kwargs)
        self._thread = QThread()
        self._outcome = None
        self._progress_start = None
        self._worker.moveToThread(self._thread)
        self._worker.progress.connect(self._on_progress)
        self._worker.event.connect(self.event)
        self._worker.outcome.connect(self._store_outcome)
        self._worker.done.connect(self._thread.quit)
        self._thread.started.connect(self._worker.run)
        self._thread.finished.connect(self._ended)
        self._thread.start()
        Job._running[self._thread] = self._worker
        self.running_changed.emit(True)
        self.started.emit()
        return True

    def cancel(self) -> None:
        """Ask the running call to stop (its function sees ``should_stop()``); returns at once."""
        if self._worker is not None:
            self._worker.control.request_stop()

    def _on_progress(self, done: int, total: int, what: str) -> None:
        now = time.perf_counter()
        if self._progress_start is None or done < self._progress_start[1]:
            self._progress_start = (now, done)
        t0, d0 = self._progress_start
        rate = (done - d0) / (now - t0) if now > t0 and done > d0 else 0.0
        eta = (total - done) / rate if rate > 0 else float("nan")
        self.progress.emit(done, total, what, eta)

    def _store_outcome(self, kind: str, value: object) -> None:
        self._outcome = (kind, value)

    def _ended(self) -> None:
        thread, worker = self._thread, self._worker
        self._thread = self._worker = None
        Job._running.pop(thread, None)
        thread.deleteLater()
        worker.deleteLater()
        self.running_changed.emit(False)
        kind, value = self._outcome or ("errored", RuntimeError(f"{self.name} ended without a result"))
        if kind == "finished":
            self.finished.emit(value)
        elif kind == "cancelled":
            self.cancelled.emit()
        else:
            self.errored.emit(value)


def describe_error(exc: BaseException) -> str:
    """One line for the user: the exception's message, or its class name when it has none."""
    return str(exc) or exc.__class__.__name__


def format_eta(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``; ``–`` while unknown."""
    if not seconds == seconds or seconds in (float("inf"), float("-inf")):
        return "–"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"
