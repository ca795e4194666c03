"""Train panel: choose data and hyperparameters, watch the losses live, resume or extend a run, load the result."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vae.cache import BUILTIN
from vae.export import grid
from vae.run_history import fractional_epoch, load_epochs, load_steps, stop_position
from vae.train import RUN_FILES, EpochEvent, StepEvent, TrainConfig, Trainer

from .controls import plain_label, spin_box
from .dataset_box import DatasetBox
from .loss_plot import LossPlot
from .preview_browser import PreviewBrowser
from .qt_images import to_pixmap
from .train_form import TrainForm
from .train_run import epoch_count, run_state, train, unfinished
from .widgets import LogView
from .workers import Job, describe_error, format_eta

__all__ = ["LossPlot", "TrainPanel", "run_state"]


def default_runs_dir() -> Path:
    return Path.home() / "Face Explorer runs"


PAUSE_TIP = "Pause training after the current step; Continue carries on"
PAUSE_WAITS = "Pause is offered once training starts: preparing the dataset cannot pause (Stop ends it)"
PREVIEW_HINT = "After each epoch: validation faces, their reconstructions below them, then prior samples"


class TrainPanel(QWidget):
    """Runs training as a :class:`Job` and shows its progress: the losses, the ETA and each epoch's preview."""

    model_ready = Signal(str)  # path of the trained checkpoint, when the user wants it loaded
    dataset_used = Signal(str)  # a dataset folder a run was started on (for File → Recent folders)
    running_changed = Signal(bool)
    error = Signal(str)

    def __init__(self, settings=None, runs_dir: str | Path | None = None):
        super().__init__()
        self.settings = settings
        self.runs_dir = Path(runs_dir) if runs_dir else default_runs_dir()
        self.job = Job("training", self)
        self.trainer: Trainer | None = None
        self.config_running: TrainConfig | None = None
        self.last_result = None
        self._plotted_run: str | None = None  # the run folder whose curves the plot shows
        self._last_step: StepEvent | None = None
        self._last_run_folder: str | None = None  # the run folder of the last launch, checked when first shown
        self.step_every = 1
        self.ask_to_load = True
        self.loaded_model_path = lambda: None  # the window tells which checkpoint the explorer shows

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
        self.extend = spin_box(0, 10000, 0, prefix="extend by ", suffix=" epoch(s)")
        self.extend.setToolTip("Resume and train this many epochs beyond the run's planned end")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.pause_button.setEnabled(False)
        self.pause_button.setToolTip(PAUSE_TIP)
        self.stop_button.setEnabled(False)
        self.progress = QProgressBar()
        self.eta = plain_label("")
        self.plot = LossPlot()
        self.preview = PreviewBrowser(PREVIEW_HINT)
        self.log_view = LogView()
        self.log_view.setMinimumHeight(140)

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
        self.out_dir.textChanged.connect(self._update_resume_button)
        self.out_dir.textChanged.connect(self._show_run_folder)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        self.job.event.connect(self._on_event)
        self.job.progress.connect(self._on_preparation)
        self.job.finished.connect(self._on_finished)
        self.job.cancelled.connect(lambda: self._append_log("stopped while preparing the dataset; nothing was trained"))
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

    def show_run(self, folder: str, up_to: float = math.inf) -> None:
        """Draw a run folder's saved losses (up to position ``up_to``, in epochs) and list its previews."""
        self.plot.show_history(load_steps(folder, up_to), [r for r in load_epochs(folder) if r["epoch"] <= up_to])
        self.preview.show_folder(folder)

    def _save_settings(self) -> None:
        if self.settings is not None:
            self.form.save()
            self.dataset.save()

    def _restore_settings(self) -> None:
        if self.settings is not None:
            self._last_run_folder = self.form.restore()  # read when the tab is first shown, not at start-up
            self.dataset.restore()

    def showEvent(self, event) -> None:
        """The first time the tab is shown, offer the last run again if it stopped part-way."""
        super().showEvent(event)
        self._update_resume_button()  # the run folder may have changed on disk meanwhile
        folder, self._last_run_folder = self._last_run_folder, None
        state = run_state(folder) if folder and self.out_dir.text() == self._new_run_folder else None
        if unfinished(state):
            self.out_dir.setText(folder)  # Resume continues it; Start still asks before replacing it
            where = stop_position(state["epoch"], state["step"], state["config"].epochs, state["steps_per_epoch"])
            self._append_log(f"{folder} holds your last run, stopped {where}: Resume continues it")

    # ------------------------------------------------------------ run control
    @property
    def running(self) -> bool:
        return self.job.busy

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
        existing = run_state(out_dir) if out_dir.name else None
        holds_run = existing is not None or any((out_dir / name).exists() for name in RUN_FILES)
        if holds_run:
            choice = self._ask_reuse(out_dir, existing)
            if choice == "resume":
                return self.resume()
            if choice != "replace":
                return False
        try:
            config = self.config()
        except ValueError as exc:
            self._append_log(f"error: {exc}")
            return False
        return self._launch(config, resume=False, overwrite=holds_run)

    def _ask_reuse(self, out_dir: Path, existing: dict | None) -> str:
        """Ask what to do with a run folder that holds a run: "resume", "replace" or "cancel"."""
        planned = existing["config"].epochs if existing and existing["config"] else "?"
        can_resume = unfinished(existing)
        done = (
            f"it is at epoch {existing['epoch']} of {planned}"
            if can_resume
            else f"it finished its {epoch_count(existing['epoch'])}"
            if existing
            else "it holds a finished model"
        )
        loaded = (
            " The model you are exploring is in this folder and would be replaced."
            if self._holds_loaded_model(out_dir)
            else ""
        )
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Run folder in use",
            f"{out_dir} already holds a training run ({done}).{loaded}\n\n"
            + (
                "Resume it, or start over and replace its checkpoints?"
                if can_resume
                else "Start over and replace its checkpoints? (Resume with “extend by” trains it further.)"
            ),
            parent=self,
        )
        box.setTextFormat(Qt.TextFormat.PlainText)  # the folder's path is shown as it is, never as HTML
        resume = box.addButton("Resume", QMessageBox.ButtonRole.AcceptRole) if can_resume else None
        replace = box.addButton("Start over", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return "resume" if clicked is resume and resume is not None else "replace" if clicked is replace else "cancel"

    def resume(self) -> bool:
        """Continue the run in the run folder from its ``last.pt`` (to its planned end plus "extend by")."""
        if self.running:
            return False
        out_dir = Path(self.out_dir.text().strip())
        state = run_state(out_dir)
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
        elif str(state["data"]).startswith("built-in"):
            self.builtin_radio.setChecked(True)
            if isinstance(state["data_count"], int) and state["data_count"] > 0:
                self.builtin_count = state["data_count"]  # the same faces: another count is other data
        target = saved.epochs + self.extend.value()
        if state["epoch"] >= target and state["step"] == 0:
            self.error.emit(
                f"the run in {out_dir} has finished its {epoch_count(state['epoch'])}; "
                "set “extend by” to train it further"
            )
            return False
        self.epochs.setValue(target)
        saved.epochs = target
        return self._launch(saved, resume=True, position=state["position"])

    def _launch(self, config: TrainConfig, resume: bool, overwrite: bool = False, position: float = 0.0) -> bool:
        """Start the job; ``config`` is the whole run (a resumed run keeps its saved architecture and settings).

        A resumed run's plot and previews start from what its folder saved up to its checkpoint's ``position``.
        """
        data = self._data_spec()
        if data is None:
            return False
        epochs = config.epochs
        out_dir = self.out_dir.text().strip()
        if resume:
            self.show_run(out_dir, position)
        else:
            self.plot.clear_data()
            self.preview.clear()  # replaces the last run's pictures
        self._plotted_run = out_dir
        self.progress.setValue(0)
        self.last_result = None
        self.trainer = None
        self.eta.setText("preparing the dataset…")
        self.config_running = config
        self._last_step = None
        if resume:
            self._append_log(f"resuming {out_dir} to epoch {epochs}")
        self._save_settings()
        if data != BUILTIN:
            self.dataset_used.emit(data)
        return self.job.start(train, config, data, out_dir, resume, self.builtin_count, self.step_every, overwrite)

    def toggle_pause(self) -> None:
        if self.trainer is None:
            return
        if self.trainer.paused:
            self.trainer.unpause()
            self.pause_button.setText("Pause")
            self._append_log("continuing")
        else:
            self.trainer.pause()
            self.pause_button.setText("Continue")
            self._append_log("paused")
            self.eta.setText(f"paused at {self._position()} · Continue carries on")

    def stop(self) -> None:
        """Stop at the next step (saving a resumable checkpoint) or interrupt dataset preparation; returns at once."""
        if self.running and not self.job.stopping:
            self._append_log(
                "stopping: saving a resumable checkpoint…" if self.trainer else "stopping dataset preparation…"
            )
            self.job.cancel()
            self.pause_button.setEnabled(False)
            self.stop_button.setEnabled(False)

    def _update_resume_button(self) -> None:
        """Resume is offered while no run goes and the run folder holds a checkpoint to continue."""
        folder = self.out_dir.text().strip()
        can = not self.running and bool(folder) and (Path(folder) / "last.pt").is_file()
        self.resume_button.setEnabled(can)
        self.resume_button.setToolTip(
            "Continue the run in the run folder from its last checkpoint"
            if can or self.running
            else "The run folder holds no run to resume (no last.pt)"
        )

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self._update_resume_button()
        self.extend.setEnabled(not running)
        self.pause_button.setEnabled(False)  # until training starts: preparing the dataset cannot pause
        self.pause_button.setToolTip(PAUSE_WAITS if running else PAUSE_TIP)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("Pause")
        if not running:
            self.trainer = None
        self.running_changed.emit(running)

    # ------------------------------------------------------------ job events (GUI thread)
    def _append_log(self, message: str) -> None:
        self.log_view.append_line(message)

    def _on_event(self, event) -> None:
        if isinstance(event, StepEvent):
            self._on_step(event)
        elif isinstance(event, EpochEvent):
            self._on_epoch(event)
        elif event[0] == "log":
            self._append_log(event[1])
        elif event[0] == "data":
            self._append_log(f"dataset ready: {event[1]:,} images" + (" with labels" if event[2] else " (unlabelled)"))
        elif event[0] == "trainer":
            self.trainer = event[1]
            if self.job.stopping:
                self.trainer.stop()
            else:
                self.pause_button.setEnabled(True)
                self.pause_button.setToolTip(PAUSE_TIP)

    def _on_preparation(self, done: int, total: int, what: str, eta: float) -> None:
        if self.trainer is not None:
            return
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.eta.setText(f"{what}: {done:,} / {total:,} · ETA {format_eta(eta) if eta == eta else 'estimating…'}")

    def _on_step(self, event: StepEvent) -> None:
        self._last_step = event
        epochs = self.config_running.epochs
        self.progress.setMaximum(epochs * event.steps_per_epoch)
        self.progress.setValue((event.epoch - 1) * event.steps_per_epoch + event.step)
        eta = format_eta(event.eta_s) if math.isfinite(event.eta_s) else "estimating…"
        self.eta.setText(
            f"epoch {event.epoch}/{epochs} · step {event.step}/{event.steps_per_epoch}"
            f" · {event.images_per_s:.0f} images/s · ETA {eta}"
        )
        x = fractional_epoch(event.epoch - 1, event.step, event.steps_per_epoch)
        self.plot.add_step(x, event.loss, event.recon, event.kl, self.step_every)

    def _on_epoch(self, event: EpochEvent) -> None:
        m = event.metrics
        self.plot.add_validation(event.epoch, m["val_loss"])
        self.preview.add(event.epoch, to_pixmap(grid(event.preview, nrow=8)))
        self._append_log(
            f"epoch {event.epoch}/{event.epochs}: val loss {m['val_loss']:.1f} "
            f"(recon {m['val_recon']:.1f}, KL {m['val_kl']:.1f}), SSIM {m['val_ssim']:.4f}, "
            f"PSNR {m['val_psnr']:.2f} dB, active units {m['active_units']}"
            + (" — best so far" if event.is_best else "")
        )

    def _position(self) -> str:
        """Where the run is: "epoch 3/20, step 7/118" from the last step shown."""
        event = self._last_step
        if event is None:
            return "the start"
        return f"epoch {event.epoch}/{self.config_running.epochs}, step {event.step}/{event.steps_per_epoch}"

    def _on_finished(self, result) -> None:
        self.last_result = result
        if result.status == "stopped":  # the trainer's log line says where, in the same words
            self.eta.setText(f"stopped {result.stopped_at} · Resume continues from there")
            return
        epochs = epoch_count(result.epochs_done)
        self.eta.setText(f"finished {epochs}")
        self._append_log(f"finished {epochs}; best model: {result.best_path}")
        if result.best_path and self.ask_to_load:
            answer = QMessageBox.question(self, "Training finished", "Load the new model into the explorer?")
            if answer == QMessageBox.StandardButton.Yes:
                self.model_ready.emit(str(result.best_path))

    def _on_error(self, exc: BaseException) -> None:
        self._append_log(f"error: {describe_error(exc)}")
        self.eta.setText("stopped by an error (see the log below)")
