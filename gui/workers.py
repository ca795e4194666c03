"""Long work off the GUI thread: a training worker moved to a QThread."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread, Signal, Slot

from vae.cache import BUILTIN_COUNT, open_dataset
from vae.train import TrainConfig, Trainer


class TrainingWorker(QObject):
    """Runs the shared training engine; every outcome ends with ``done`` (emitted from ``finally``)."""

    status = Signal(str)  # what it is doing before steps start (dataset preparation)
    data_ready = Signal(int, bool)  # image count, labels found
    progress = Signal(object)  # vae.train.StepEvent
    epoch_done = Signal(object)  # vae.train.EpochEvent
    log = Signal(str)
    finished = Signal(object)  # vae.train.RunResult
    error = Signal(str)
    done = Signal()

    def __init__(self, config: TrainConfig, data: str, out_dir: str, resume: bool = False,
                 builtin_count: int = BUILTIN_COUNT, step_every: int = 1):
        super().__init__()
        self.config, self.data, self.out_dir, self.resume = config, data, out_dir, resume
        self.builtin_count = builtin_count
        self.step_every = step_every
        self.trainer: Trainer | None = None
        self._stop_requested = threading.Event()
        self._lock = threading.Lock()

    @Slot()
    def run(self) -> None:
        try:
            self.status.emit("preparing the dataset…")
            cache = open_dataset(self.data, self.config.model.image_size, builtin_count=self.builtin_count,
                                 log=self.log.emit)
            self.data_ready.emit(len(cache), cache.has_labels)
            with self._lock:
                if self._stop_requested.is_set():
                    self.status.emit("stopped before training began")
                    return
                self.trainer = Trainer(self.config, cache, self.out_dir, on_step=self.progress.emit,
                                       on_epoch=self.epoch_done.emit, log=self.log.emit, step_every=self.step_every)
            self.status.emit("training")
            self.finished.emit(self.trainer.run(resume=self.resume))
        except Exception as exc:  # every failure reaches the GUI as a message, never a dead thread
            self.error.emit(f"{exc.__class__.__name__}: {exc}" if not str(exc) else str(exc))
        finally:
            self.done.emit()

    # These are called from the GUI thread; the trainer's controls are thread-safe events.
    def stop(self) -> None:
        with self._lock:
            self._stop_requested.set()
            if self.trainer:
                self.trainer.stop()

    def pause(self) -> None:
        if self.trainer:
            self.trainer.pause()

    def resume_training(self) -> None:
        if self.trainer:
            self.trainer.unpause()


def start_in_thread(worker: QObject, thread: QThread) -> None:
    """Move ``worker`` to ``thread`` and start it; the thread quits when the worker is done."""
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.done.connect(thread.quit)
    thread.start()


class FunctionWorker(QObject):
    """Runs one function off the GUI thread: ``finished(result)`` or ``error(message)``, then ``done``."""

    finished = Signal(object)
    error = Signal(str)
    done = Signal()

    def __init__(self, fn, *args, **kwargs):
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs

    @Slot()
    def run(self) -> None:
        try:
            self.finished.emit(self.fn(*self.args, **self.kwargs))
        except Exception as exc:  # reported to the GUI, never lost in the thread
            self.error.emit(str(exc) or exc.__class__.__name__)
        finally:
            self.done.emit()


class Background(QObject):
    """Keeps a function worker and its thread alive until it is done; at most one job at a time.

    ``finished``/``error`` are emitted after the thread has ended, so a new job can start at once.
    """

    finished = Signal(object)
    error = Signal(str)
    running_changed = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.thread: QThread | None = None
        self.worker: FunctionWorker | None = None

    @property
    def busy(self) -> bool:
        return self.thread is not None

    def start(self, fn, *args, **kwargs) -> bool:
        if self.busy:
            return False
        self.worker = FunctionWorker(fn, *args, **kwargs)
        self.thread = QThread()
        self._outcome = None
        self.worker.finished.connect(lambda result: setattr(self, "_outcome", (self.finished, result)))
        self.worker.error.connect(lambda message: setattr(self, "_outcome", (self.error, message)))
        self.worker.done.connect(self._done)
        start_in_thread(self.worker, self.thread)
        self.running_changed.emit(True)
        return True

    def _done(self) -> None:
        self.thread.quit()
        self.thread.wait()
        self.thread = self.worker = None
        self.running_changed.emit(False)
        if self._outcome is not None:
            signal, value = self._outcome
            signal.emit(value)

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.wait()
