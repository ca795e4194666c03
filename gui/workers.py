"""Long work off the GUI thread, in one place.

A :class:`Job` owns its thread from start to end: it runs one function at a time in a fresh
daemon thread, forwards the function's progress and events to the GUI thread, and reports exactly
one outcome (``finished``, ``cancelled`` or ``errored``) after the function has returned. The GUI
thread never waits on the function: the outcome arrives as a queued signal. An error's traceback
goes to the log (``logging``); ``errored`` carries the exception itself. A job whose result is worth
nothing once its window has closed can be abandoned (:meth:`Job.abandon`): being a daemon thread,
it never holds up the app's exit. A :class:`ModelJob` drops a result computed for a model that is
no longer open.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from PySide6.QtCore import QObject, Signal

from vae.common.control import Cancelled, Control
from vae.common.eta import ProgressEta
from vae.data.cartoonset import CsvFormatError
from vae.data.folder import DataError, ImageLoadError
from vae.explore.latent_io import LatentError
from vae.model.attribute_net import ClassifierError
from vae.model.checkpoint import CheckpointError
from vae.model.inference import DrawPrecisionError
from vae.model.network import shares_latent_space
from vae.model.pixel_weights import PixelWeightsError
from vae.train.run_folder import RunFolderError

log = logging.getLogger("face_explorer")
# What bad input raises (a corrupt image, a folder without labels, an unwritable path, a foreign checkpoint): the
# message says it all. Anything else, a plain ValueError included, is a bug, logged with its traceback.
USER_ERRORS = (
    OSError,  # a missing or unwritable file: WriteError, ExportError
    CheckpointError,
    ImageLoadError,
    DataError,
    CsvFormatError,
    LatentError,
    RunFolderError,
    PixelWeightsError,
    ClassifierError,
    DrawPrecisionError,
)


class JobControl(Control):
    """What a job's function is given (a :class:`~vae.common.control.Control`): ask whether to stop, report
    progress, post events (any thread). What it logs goes to the app's log."""

    def __init__(self, worker: "_Worker"):
        super().__init__(log=log.info)
        self._worker = worker
        self._stop = threading.Event()
        self._on_stop: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def should_stop(self) -> bool:
        return self._stop.is_set()

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
    """Runs the function in its daemon thread; it lives in the GUI thread, so its signals reach the job queued."""

    progress = Signal(int, int, str)
    event = Signal(object)
    done = Signal(object)  # this worker, once its function has returned (its ``outcome`` set)

    def __init__(self, name: str, fn, args, kwargs):
        super().__init__()
        self.name, self.fn, self.args, self.kwargs = name, fn, args, kwargs
        self.control = JobControl(self)
        self.outcome: tuple[str, object] = ("errored", RuntimeError("the job ended without a result"))

    def run(self) -> None:
        try:
            self.outcome = ("finished", self.fn(self.control, *self.args, **self.kwargs))
        except Cancelled:
            self.outcome = ("cancelled", None)
        except USER_ERRORS as exc:  # a bad file or folder: the user is told; one line in the log, no traceback
            log.warning("%s: %s", self.name, describe_error(exc))
            self.outcome = ("errored", exc)
        except Exception as exc:  # every failure reaches the GUI as the exception, never a dead thread
            log.error("%s failed", self.name, exc_info=exc)
            self.outcome = ("errored", exc)
        finally:
            self.done.emit(self)


class Job(QObject):
    """Runs ``fn(control, *args, **kwargs)`` off the GUI thread, one call at a time; see the module docstring.

    ``progress(done, total, what, eta_s)`` estimates the time left (:class:`~vae.common.eta.ProgressEta`; NaN until
    known).
    ``abandonable`` marks a job whose window need not wait for it beyond a short while when it closes
    (work that writes nothing, such as encoding an image).
    """

    started = Signal()
    progress = Signal(int, int, str, float)
    event = Signal(object)
    finished = Signal(object)
    cancelled = Signal()
    errored = Signal(object)
    running_changed = Signal(bool)
    # Every job thread not yet ended, in any window, with its worker (GUI thread only). Holding them
    # here keeps the workers alive until their threads end, even when the Job itself is deleted or has
    # abandoned its call, so a worker is only ever deleted in the GUI thread.
    _running: dict[threading.Thread, _Worker] = {}

    def __init__(self, name: str = "job", parent: QObject | None = None, abandonable: bool = False):
        super().__init__(parent)
        self.name = name
        self.abandonable = abandonable
        self._thread: threading.Thread | None = None
        self._worker: _Worker | None = None
        self._progress_eta = ProgressEta()

    @property
    def busy(self) -> bool:
        return self._thread is not None

    @classmethod
    def any_running(cls) -> bool:
        """Whether any job's thread is still running (in any window, deleted jobs' and abandoned calls' included)."""
        for thread in [t for t in cls._running if not t.is_alive()]:
            cls._running.pop(thread).deleteLater()
        return bool(cls._running)

    @property
    def stopping(self) -> bool:
        return self._worker is not None and self._worker.control.should_stop()

    def start(self, fn: Callable, *args, **kwargs) -> bool:
        """Start ``fn`` in a new thread; False (and nothing started) while a call is still running."""
        if self.busy:
            return False
        worker = _Worker(self.name, fn, args, kwargs)
        worker.progress.connect(self._on_progress)
        worker.event.connect(self.event)
        worker.done.connect(self._ended)
        self._worker = worker
        self._thread = threading.Thread(target=worker.run, name=f"job: {self.name}", daemon=True)
        self._progress_eta = ProgressEta()
        Job._running[self._thread] = worker
        self._thread.start()
        self.running_changed.emit(True)
        self.started.emit()
        return True

    def cancel(self) -> None:
        """Ask the running call to stop (its function sees ``should_stop()``); returns at once."""
        if self._worker is not None:
            self._worker.control.request_stop()

    def abandon(self) -> None:
        """Stop waiting for the running call: it is asked to stop, whatever it still reports is dropped, and the
        job is idle at once (``cancelled``). Its thread ends on its own, or with the app."""
        worker = self._worker
        if worker is None:
            return
        worker.control.request_stop()
        worker.progress.disconnect(self._on_progress)
        worker.event.disconnect(self.event)
        worker.done.disconnect(self._ended)
        self._thread = self._worker = None  # the thread and its worker stay in Job._running until it ends
        self.running_changed.emit(False)
        self.cancelled.emit()

    def _on_progress(self, done: int, total: int, what: str) -> None:
        self.progress.emit(done, total, what, self._progress_eta.update(done, total))

    def _ended(self, worker: _Worker) -> None:
        if worker is not self._worker:
            return  # an abandoned call's last word, queued before it was abandoned
        thread = self._thread
        self._thread = self._worker = None
        thread.join()  # at once: the function has returned; the thread now lets go of its worker
        Job._running.pop(thread, None)
        worker.deleteLater()
        self.running_changed.emit(False)
        self._deliver(*worker.outcome)

    def _deliver(self, kind: str, value: object) -> None:
        if kind == "finished":
            self.finished.emit(value)
        elif kind == "cancelled":
            self.cancelled.emit()
        else:
            self.errored.emit(value)


class ModelJob(Job):
    """A job whose result belongs to the session's model of the moment it started: a result that arrives
    after another model was opened (or the same file reloaded) is dropped, and the outcome is ``cancelled``;
    so is one that arrives after the job was asked to stop (its panel has moved on).

    ``latent_only`` marks a result made of latents alone (encodings, their layout): it still fits a model that
    encodes with the same encoder (:func:`~vae.model.network.shares_latent_space`), and is kept for it.
    """

    def __init__(
        self,
        session,
        name: str = "job",
        parent: QObject | None = None,
        abandonable: bool = False,
        latent_only: bool = False,
    ):
        super().__init__(name, parent, abandonable)
        self.session = session
        self.latent_only = latent_only
        self._model = None
        self._stop_asked = False

    def start(self, fn: Callable, *args, **kwargs) -> bool:
        if self.busy:
            return False
        self._model, self._stop_asked = self.session.model, False
        return super().start(fn, *args, **kwargs)

    def cancel(self) -> None:
        self._stop_asked = self.busy
        super().cancel()

    def fits(self, model) -> bool:
        """Whether the running (or last) job's result fits ``model``."""
        return model is self._model or (self.latent_only and shares_latent_space(self._model, model))

    def _deliver(self, kind: str, value: object) -> None:
        if kind == "finished" and (self._stop_asked or not self.fits(self.session.model)):
            kind, value = "cancelled", None  # computed for a model that is no longer open: it would not fit
        super()._deliver(kind, value)


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
