"""One training run as a model (no Qt): prepare its data, train, and tell its status, history and result.

``train_cli.py`` and the app's Train tab both drive a :class:`TrainingRun`; neither builds a
:class:`~vae.train.trainer.Trainer` itself.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ..common.control import QUIET, Cancelled, Control
from ..common.event import Event
from ..data.cache import BUILTIN_COUNT, FaceCache
from ..data.collection import open_datasets
from .run_folder import LAST
from .trainer import EpochEvent, RunResult, TrainConfig, Trainer

STATUSES = ("idle", "preparing", "training", "paused", "stopping", "finished", "failed")
FEW_FACES = 200  # fewer training images than this: the log warns that a model will only memorise them
NOTHING_TRAINED = "stopped while preparing the dataset; nothing was trained"


class TrainingRun:
    """A run from its dataset to its result; :meth:`pause`, :meth:`unpause` and :meth:`stop` work from any thread.

    ``status`` is one of :data:`STATUSES`; a stopped run ends ``finished`` with ``message`` saying where it
    stopped, an error ends it ``failed`` (and is raised). Events, emitted on the thread that caused them:
    ``status_changed(status)``, ``step(StepEvent)``, ``epoch(EpochEvent)``, ``log(message)`` and
    ``data_ready(count, labelled)``.
    """

    def __init__(
        self,
        config: TrainConfig,
        data: str | os.PathLike | list,
        out_dir: str | os.PathLike,
        *,
        resume: bool = False,
        force: bool = False,
        overwrite: bool = False,
        builtin_count: int = BUILTIN_COUNT,
        limit: int | None = None,
        step_every: int = 1,
    ):
        self.config = config
        self.data = list(data) if isinstance(data, (list, tuple)) else [data]
        self.out_dir = Path(out_dir)
        self.resume, self.force, self.overwrite = resume, force, overwrite
        self.builtin_count, self.limit, self.step_every = builtin_count, limit, step_every
        self.status = "idle"
        self.message = ""
        self.history: list[dict] = []
        self.result: RunResult | None = None
        self.cache: FaceCache | None = None
        self.trainer: Trainer | None = None
        self._stop = threading.Event()
        self.status_changed = Event("status_changed")
        self.step = Event("step")
        self.epoch = Event("epoch")
        self.log = Event("log")
        self.data_ready = Event("data_ready")

    @property
    def last_path(self) -> Path:
        return self.out_dir / LAST

    @property
    def training_begun(self) -> bool:
        """Whether the dataset is ready and the trainer was made (a stop now saves a resumable checkpoint)."""
        return self.trainer is not None

    # ---------------------------------------------------------------- control (any thread)
    def pause(self) -> None:
        """Pause after the current step (only while training)."""
        if self.status == "training" and self.trainer is not None:
            self.trainer.pause()
            self._set("paused")

    def unpause(self) -> None:
        if self.status == "paused" and self.trainer is not None:
            self.trainer.unpause()
            self._set("training")

    @property
    def paused(self) -> bool:
        return self.status == "paused"

    def stop(self) -> None:
        """Stop dataset preparation at once, or training at its next step (saving a resumable checkpoint)."""
        self._stop.set()
        if self.trainer is not None:
            self.trainer.stop()
        if self.status in ("preparing", "training", "paused"):
            self._set("stopping")

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # ---------------------------------------------------------------- running (the run's own thread)
    def run(self, control: Control = QUIET) -> RunResult:
        """:meth:`prepare`, then :meth:`train`; a stop while preparing raises :class:`~vae.common.control.Cancelled`."""
        self.prepare(control)
        return self.train()

    def prepare(self, control: Control = QUIET) -> FaceCache:
        """Open (building once, then cached) the dataset; ``control`` hears the progress and may stop it, as
        :meth:`stop` does. What the preparation says goes to the ``log`` event."""
        self._set("preparing")
        steer = Control(lambda: self._stop.is_set() or control.should_stop(), control.progress, self.log.emit)
        try:
            self.cache = open_datasets(
                self.data,
                self.config.model.image_size,
                builtin_count=self.builtin_count,
                limit=self.limit,
                control=steer,
            )
            self.data_ready.emit(len(self.cache), self.cache.has_labels)
            if len(self.cache) < FEW_FACES:
                self.log.emit(
                    f"warning: only {len(self.cache):,} images: too few to learn faces from, a model only memorises "
                    f"them (use {FEW_FACES} at least, thousands for faces like the default model's)"
                )
            steer.check()
        except (Cancelled, KeyboardInterrupt):
            self._end("finished", NOTHING_TRAINED)
            raise
        except BaseException as exc:
            self._end("failed", str(exc))
            raise
        return self.cache

    def train(self) -> RunResult:
        """Train the prepared dataset until the planned end or :meth:`stop`; returns the trainer's result."""
        try:
            self.trainer = Trainer(
                self.config,
                self.cache,
                self.out_dir,
                on_step=self.step.emit,
                on_epoch=self._on_epoch,
                log=self.log.emit,
                step_every=self.step_every,
            )
            if self._stop.is_set():
                self.trainer.stop()
            self._set("stopping" if self._stop.is_set() else "training")
            result = self.trainer.run(resume=self.resume, force=self.force, overwrite=self.overwrite)
        except BaseException as exc:
            self._end("failed", str(exc) or type(exc).__name__)
            raise
        self.result, self.history = result, result.history
        stopped = result.status == "stopped"
        self._end("finished", f"stopped {result.stopped_at}" if stopped else f"finished {result.epochs_done} epochs")
        return result

    def _on_epoch(self, event: EpochEvent) -> None:
        self.history.append(event.metrics)
        self.epoch.emit(event)

    def _end(self, status: str, message: str) -> None:
        self.message = message
        self._set(status)

    def _set(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.status_changed.emit(status)
