"""Train panel: choose data and hyperparameters, watch the losses live, resume or extend a run, load the result."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QMessageBox, QPushButton, QVBoxLayout, QWidget

from vae.data.cache import BUILTIN, is_builtin_source
from vae.train.run_folder import (
    LAST,
    RunFolderError,
    can_resume,
    check_writable,
    free_folder_beside,
    holds_run,
    run_state,
    trained_to,
    unfinished,
    where_stopped,
)
from vae.train.trainer import EpochEvent, StepEvent, TrainConfig
from vae.train.training_run import NOTHING_TRAINED, TrainingRun

from .controls import spin_box
from .dataset_box import DatasetBox
from .loss_plot import LossPlot
from .run_folder_dialog import ask_reuse
from .train_form import TrainForm
from .train_monitor import TrainMonitor
from .train_run import DataReady, LogLine, StatusChanged, epoch_count, train
from .workers import Job, describe_error

__all__ = ["LossPlot", "TrainPanel", "run_state"]


def default_runs_dir() -> Path:
    return Path.home() / "Face Explorer runs"


def stopped_line(where: str) -> str:
    """The status line of a run stopped part-way (``where``: :func:`~vae.train.run_history.stop_position`'s words)."""
    return f"stopped {where} · Resume continues from there"


def finished_line(epochs: int) -> str:
    """The status line of a run that trained to its planned end."""
    return f"finished {epoch_count(epochs)}"


PAUSE_TIP = "Pause training after the current step; Continue carries on"
PAUSE_WAITS = "Pause is offered once training starts: preparing the dataset cannot pause (Stop ends it)"


class TrainPanel(QWidget):
    """Runs training as a :class:`Job` and shows its progress: the losses, the ETA and each epoch's preview."""

    model_ready = Signal(str)  # path of the trained checkpoint, when the user wants it loaded
    dataset_used = Signal(str)  # a dataset folder a run was started on (for File → Recent folders)
    running_changed = Signal(bool)
    error = Signal(str)

    def __init__(self, settings=None, runs_dir: str | Path | None = None, loaded_model_path=None):
        """``loaded_model_path()``: the checkpoint the explorer shows (a run replacing its folder says so)."""
        super().__init__()
        self.settings = settings
        self.runs_dir = Path(runs_dir) if runs_dir else default_runs_dir()
        self.job = Job("training", self)
        self.run: TrainingRun | None = None
        self.config_running: TrainConfig | None = None
        self.last_result = None
        self._plotted_run: str | None = None  # the run folder whose curves the plot shows
        self._last_run_folders: list[str] = []  # the last launch's run folder and the one before, checked when shown
        self.step_every = 1
        self.ask_to_load = True
        self.loaded_model_path = loaded_model_path or (lambda: None)

        self.dataset = DatasetBox(settings)
        self.builtin_radio, self.folder_radio = self.dataset.builtin_radio, self.dataset.folder_radio
        self.folder_edit, self.data_info = self.dataset.folder_edit, self.dataset.data_info
        self.set_folder, self.describe_folder = self.dataset.set_folder, self.dataset.describe_folder

        self.form = TrainForm(settings, self.runs_dir)
        for name in ("epochs", "batch_size", "lr", "beta", "latent_dim", "image_size", "out_dir"):
            setattr(self, name, getattr(self.form, name))
        self._new_run_folder = self.form.new_run_folder
        self.config, self._show_config = self.form.config, self.form.show_config

        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Train a new model into the run folder")
        self.resume_button = QPushButton("Resume")
        self.extend = spin_box(0, 10000, 0, prefix="then ", suffix=" more epoch(s)")
        self.extend.setSpecialValueText("to its planned end")  # 0: what Resume does unless told more
        self.extend.setToolTip("How far Resume trains: to the run's planned end, or this many epochs beyond it")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.pause_button.setEnabled(False)
        self.pause_button.setToolTip(PAUSE_TIP)
        self.stop_button.setEnabled(False)
        self.monitor = TrainMonitor()
        for name in ("progress", "eta", "plot", "preview", "log_view"):
            setattr(self, name, getattr(self.monitor, name))
        self._append_log, self.show_run = self.monitor.log, self.monitor.show_run

        controls = QHBoxLayout()
        for widget in (self.start_button, self.resume_button, self.extend, self.pause_button, self.stop_button):
            controls.addWidget(widget)

        left = QVBoxLayout()
        left.addWidget(self.dataset)
        left.addWidget(self.form)
        left.addLayout(controls)
        left.addWidget(self.progress)
        left.addWidget(self.eta)
        left.addWidget(self.log_view, 1)

        right = QVBoxLayout()
        right.addWidget(self.plot, 3)
        right.addWidget(self.preview, 2)

        layout = QHBoxLayout(self)
        layout.addLayout(left, 2)
        layout.addLayout(right, 3)

        self.start_button.clicked.connect(self.start)
        self.resume_button.clicked.connect(self.resume)
        self._state_read: tuple = (None, None)  # (folder and last.pt's time, its run_state), for the Resume button
        self.out_dir.textChanged.connect(self._update_resume_button)
        self.extend.valueChanged.connect(self._update_resume_button)
        self.out_dir.textChanged.connect(self._show_run_folder)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        self.job.event.connect(self._on_event)
        self.job.progress.connect(self._on_preparation)
        self.job.finished.connect(self._on_finished)
        self.job.cancelled.connect(self._on_cancelled)
        self.job.errored.connect(self._on_error)
        self.job.running_changed.connect(self._set_running)
        self._restore_settings()
        self._update_resume_button()

    @property
    def builtin_count(self) -> int:
        """How many built-in faces a run generates (``train_cli.py --builtin-count``)."""
        return self.dataset.builtin_count

    @builtin_count.setter
    def builtin_count(self, count: int) -> None:
        self.dataset.builtin_count = count

    def _show_run_folder(self) -> None:
        """While no run goes, the plot and previews show the run in the run folder (nothing if it holds none)."""
        folder = self.out_dir.text().strip()
        if self.running or folder == self._plotted_run:
            return
        self._plotted_run = folder
        self.show_run(folder)
        self._describe_run_folder(folder)

    def _describe_run_folder(self, folder: str) -> None:
        """The status line and bar say where the run in ``folder`` stands (nothing for a folder without one), not
        where the last folder's did."""
        state = self._folder_state(folder) if folder else None
        config = state["config"] if state else None
        if config is None:
            self.progress.setValue(0)
            self.eta.setText("")
            return
        self.progress.setMaximum(1000)
        self.progress.setValue(round(1000 * min(state["position"] / max(config.epochs, 1), 1.0)))
        self.eta.setText(stopped_line(where_stopped(state)) if unfinished(state) else finished_line(state["epoch"]))

    def _save_settings(self) -> None:
        if self.settings is not None:
            self.form.save()
            self.dataset.save()

    def _restore_settings(self) -> None:
        if self.settings is not None:
            self._last_run_folders = self.form.restore()  # read when the tab is first shown, not at start-up
            self.dataset.restore()

    def showEvent(self, event) -> None:
        """The first time the tab is shown, offer the last run again if it stopped part-way: the last launch's, or,
        where that launch left no checkpoint (stopped while preparing its data), the run launched before it."""
        super().showEvent(event)
        self._update_resume_button()  # the run folder may have changed on disk meanwhile
        folders, self._last_run_folders = self._last_run_folders, []
        folder = next((folder for folder in folders if can_resume(folder)), None)
        state = run_state(folder) if folder and self.out_dir.text() == self._new_run_folder else None
        if unfinished(state):
            self.out_dir.setText(folder)  # Resume continues it; Start still asks before replacing it
            self._append_log(f"{folder} holds your last run, stopped {where_stopped(state)}: Resume continues it")

    # ------------------------------------------------------------ run control
    @property
    def running(self) -> bool:
        return self.job.busy

    @property
    def stopping(self) -> bool:
        """Whether the running job was asked to stop."""
        return self.job.stopping

    @property
    def training_begun(self) -> bool:
        """Whether the running job has prepared its data and trains (a stop then saves a resumable checkpoint)."""
        return self.running and self.run is not None and self.run.training_begun

    def _data_spec(self) -> str | None:
        spec = self.dataset.spec()
        if spec is None:
            self._append_log(self.data_info.text())
        return spec

    def _holds_loaded_model(self, out_dir: Path) -> bool:
        loaded = self.loaded_model_path()
        return loaded is not None and Path(loaded).resolve().parent == out_dir.resolve()

    def start(self) -> bool:
        """Start a new run; a run folder that already holds a run is only reused if the user says so."""
        if self.running:
            return False
        out_dir = Path(self.out_dir.text().strip())
        if self._data_spec() is None or not self._writable(out_dir):  # said before any question about the folder
            return False
        existing = run_state(out_dir) if out_dir.name else None
        replacing = existing is not None or holds_run(out_dir)
        if replacing:
            choice = self.ask_reuse(out_dir, existing)
            if choice == "resume":
                return self.resume()
            if choice == "new":
                out_dir, replacing = free_folder_beside(out_dir), False
                self.out_dir.setText(str(out_dir))
            elif choice != "replace":
                return False
        try:
            config = self.config()
        except ValueError as exc:
            self._append_log(f"error: {exc}")
            return False
        return self._launch(config, resume=False, overwrite=replacing)

    def _writable(self, out_dir: Path) -> bool:
        """Whether the run's files can be written in ``out_dir``; the reason is shown when not."""
        try:
            check_writable(out_dir)
        except RunFolderError as exc:
            self._append_log(f"error: {exc}")  # in the log too, as a folder of images that cannot be used is
            self.error.emit(str(exc))
            return False
        return True

    def ask_reuse(self, out_dir: Path, existing: dict | None) -> str:
        """Ask what to do with a run folder that holds a run: "resume", "new", "replace" or "cancel"."""
        return ask_reuse(self, out_dir, existing, self._holds_loaded_model(out_dir))

    def resume(self) -> bool:
        """Continue the run in the run folder from its ``last.pt`` (to its planned end plus "extend by")."""
        if self.running:
            return False
        out_dir = Path(self.out_dir.text().strip())
        state = run_state(out_dir)
        if state is not None and not self._writable(out_dir):
            return False
        if state is None:
            self.error.emit(f"{out_dir} holds no resumable run (no readable last.pt); choose the folder of a run")
            return False
        saved = state["config"]
        if saved is None:
            self.error.emit(f"{out_dir / 'last.pt'} holds no training settings to resume with")
            return False
        self._show_config(saved)
        if state["data"] and Path(str(state["data"])).is_dir():
            self.set_folder(str(state["data"]))  # the run's own data: resuming on other data is refused
        elif is_builtin_source(state["data"]):
            self.builtin_radio.setChecked(True)
            if state["builtin_count"]:
                self.builtin_count = state["builtin_count"]  # the same faces: another count is other data
        target = saved.epochs + self.extend.value()
        if trained_to(state, target):
            self.error.emit(
                f"the run in {out_dir} has finished its {epoch_count(state['epoch'])}; "
                "set how many more epochs beside Resume to train it further"
            )
            return False
        self.epochs.setValue(target)
        saved.epochs = target
        launched = self._launch(saved, resume=True, position=state["position"], limit=state["limit"])
        if launched:
            self.extend.setValue(0)  # now the run's planned end: a later Resume goes on to it, no further
        return launched

    def _launch(
        self,
        config: TrainConfig,
        resume: bool,
        overwrite: bool = False,
        position: float = 0.0,
        limit: int | None = None,
    ) -> bool:
        """Start the job; ``config`` is the whole run (a resumed run keeps its saved architecture and settings).

        A resumed run's plot and previews start from what its folder saved up to its checkpoint's ``position``;
        ``limit`` reads only each folder's first files, as the resumed run did.
        """
        data = self._data_spec()
        if data is None:
            return False
        epochs = config.epochs
        out_dir = self.out_dir.text().strip()
        self.monitor.begin(out_dir, position if resume else None)
        self._plotted_run = out_dir
        self.last_result = None
        self.config_running = config
        if resume:
            self._append_log(f"resuming {out_dir} to epoch {epochs}")
        self._save_settings()
        if data != BUILTIN:
            self.dataset_used.emit(data)
        self.run = TrainingRun(
            config,
            data,
            out_dir,
            resume=resume,
            overwrite=overwrite,  # the user was asked before a run is replaced
            builtin_count=self.builtin_count,
            limit=limit,
            step_every=self.step_every,
        )
        return self.job.start(train, self.run)

    def toggle_pause(self) -> None:
        if self.run is None or not self.run.training_begun:
            return
        if self.run.paused:
            self.run.unpause()
            self.pause_button.setText("Pause")
            self._append_log("continuing")
        else:
            self.run.pause()
            self.pause_button.setText("Continue")
            self._append_log("paused")
            self._show_paused()

    def _show_paused(self) -> None:
        self.eta.setText(f"paused at {self.monitor.position(self.config_running.epochs)} · Continue carries on")

    def stop(self) -> None:
        """Stop at the next step (saving a resumable checkpoint) or interrupt dataset preparation; returns at once."""
        if self.running and not self.job.stopping:
            self._append_log(
                "stopping: saving a resumable checkpoint…" if self.training_begun else "stopping dataset preparation…"
            )
            self.job.cancel()
            self.pause_button.setEnabled(False)
            self.stop_button.setEnabled(False)

    def _update_resume_button(self) -> None:
        """Resume is offered while no run goes and the run folder holds a checkpoint to continue: a run that
        stopped part-way, or a finished one once more epochs are set beside it."""
        folder = self.out_dir.text().strip()
        can = not self.running and bool(folder) and can_resume(folder)
        state = self._folder_state(folder) if can else None
        finished = can and self.extend.value() == 0 and not unfinished(state)
        self.resume_button.setEnabled(can and not finished)
        self.extend.setEnabled(can)
        if finished:
            done = epoch_count(state["epoch"]) if state else "planned epochs"
            tip = f"The run finished its {done}: set how many more beside Resume to train it further"
        elif can or self.running:
            tip = "Continue the run in the run folder from its last checkpoint"
        else:
            tip = "The run folder holds no run to resume (no last.pt)"
        self.resume_button.setToolTip(tip)

    def _folder_state(self, folder: str) -> dict | None:
        """:func:`run_state` of ``folder``, read again only when its ``last.pt`` changed (the button follows each
        key typed into the run folder's field)."""
        try:
            stamp = (folder, (Path(folder) / LAST).stat().st_mtime_ns)
        except OSError:
            return None
        if self._state_read[0] != stamp:
            self._state_read = (stamp, run_state(folder))
        return self._state_read[1]

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self._update_resume_button()
        self.pause_button.setEnabled(False)  # until training starts: preparing the dataset cannot pause
        self.pause_button.setToolTip(PAUSE_WAITS if running else PAUSE_TIP)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("Pause")
        self.running_changed.emit(running)

    # ------------------------------------------------------------ job events (GUI thread)
    def _on_event(self, event) -> None:
        if isinstance(event, StepEvent):
            self.monitor.show_step(event, self.config_running.epochs, self.step_every)
            if self.run is not None and self.run.paused:  # a step that ended as Pause was pressed: still paused
                self._show_paused()
        elif isinstance(event, EpochEvent):
            self.monitor.show_epoch(event)
        elif isinstance(event, LogLine):
            self._append_log(event.message)
        elif isinstance(event, DataReady):
            labelled = " with labels" if event.labelled else " (unlabelled)"
            self._append_log(f"dataset ready: {event.count:,} images{labelled}")
        elif isinstance(event, StatusChanged) and event.status == "training" and not self.job.stopping:
            self.pause_button.setEnabled(True)
            self.pause_button.setToolTip(PAUSE_TIP)

    def _on_preparation(self, done: int, total: int, what: str, eta: float) -> None:
        if not self.training_begun:
            self.monitor.show_preparation(done, total, what, eta)

    def _on_cancelled(self) -> None:
        self._append_log(NOTHING_TRAINED)
        self.monitor.preparation_stopped(NOTHING_TRAINED)

    def _on_finished(self, result) -> None:
        self.last_result = result
        if result.status == "stopped":  # the trainer's log line says where, in the same words
            self.eta.setText(stopped_line(result.stopped_at))
            return
        self.eta.setText(finished_line(result.epochs_done))
        self._append_log(f"{finished_line(result.epochs_done)}; best model: {result.best_path}")
        if result.best_path and self.ask_to_load:
            answer = QMessageBox.question(self, "Training finished", "Load the new model into the explorer?")
            if answer == QMessageBox.StandardButton.Yes:
                self.model_ready.emit(str(result.best_path))

    def _on_error(self, exc: BaseException) -> None:
        self._append_log(f"error: {describe_error(exc)}")
        self.eta.setText("stopped by an error (see the log below)")
