"""Train panel: choose data and hyperparameters, watch the losses live, resume or extend a run, load the result."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from vae import checkpoint
from vae.cache import BUILTIN, BUILTIN_COUNT, open_dataset
from vae.data import DataError, scan_folder
from vae.export import grid
from vae.train import DEFAULT_MODEL_RECIPE, RUN_FILES, EpochEvent, StepEvent, TrainConfig, Trainer

from .controls import double_spin_box, plain_label, spin_box
from .dialogs import ask_folder
from .qt_images import to_pixmap
from .widgets import LogView, legend_above
from .workers import Job, describe_error, format_eta

SMOOTHING = 0.9  # exponential moving average of the step losses


def default_runs_dir() -> Path:
    return Path.home() / "Face Explorer runs"


PAUSE_TIP = "Pause training after the current step; Continue carries on"
PAUSE_WAITS = "Pause is offered once training starts: preparing the dataset cannot pause (Stop ends it)"
PREVIEW_HINT = "After each epoch: validation faces, their reconstructions below them, then prior samples"


class StepAxis(pg.AxisItem):
    """An axis of whole steps: no 0.2-step ticks at the start of a run."""

    def tickValues(self, minVal, maxVal, size):
        levels = [(spacing, values) for spacing, values in super().tickValues(minVal, maxVal, size) if spacing >= 1]
        return levels or [(1.0, [float(v) for v in range(math.ceil(minVal), math.floor(maxVal) + 1)])]


class LossPlot(pg.PlotWidget):
    """Smoothed step losses (total, reconstruction, KL) and validation loss per epoch."""

    def __init__(self):
        super().__init__(background="w", axisItems={"bottom": StepAxis("bottom")})
        self.setLabel("bottom", "step")
        self.setLabel("left", "loss per image")
        legend_above(self.getPlotItem())
        self.showGrid(x=True, y=True, alpha=0.2)
        self.setClipToView(True)
        self.setDownsampling(auto=True, mode="peak")
        self.getPlotItem().getViewBox().setDefaultPadding(0.12)
        self.curves = {
            "total": self.plot([], [], pen=pg.mkPen("#1f77b4", width=2, style=Qt.PenStyle.DashLine), name="total"),
            "recon": self.plot([], [], pen=pg.mkPen("#2ca02c", width=1.5), name="reconstruction"),
            "kl": self.plot([], [], pen=pg.mkPen("#d62728", width=1.5), name="KL"),
        }
        self.curves["total"].setZValue(1)  # dashed on top: at a small β it runs right over the reconstruction
        validation = "#ff7f0e"
        self.val = self.plot([], [], pen=None, symbol="o", symbolBrush=validation, symbolSize=8, name="validation")
        self.val.scatter.setBrush(
            validation
        )  # the legend draws the scatter's own colours, set only with data otherwise
        self.clear_data()

    def clear_data(self) -> None:
        self.steps: list[int] = []
        self.values = {key: [] for key in self.curves}
        self.smoothed = {key: None for key in self.curves}
        self.val_x: list[int] = []
        self.val_y: list[float] = []
        for curve in self.curves.values():
            curve.setData([], [])
        self.val.setData([], [])
        self.enableAutoRange()  # the next run's axes fit its own losses, not the last run's

    def add_step(self, step: int, total: float, recon: float, kl: float) -> None:
        self.steps.append(step)
        for key, value in (("total", total), ("recon", recon), ("kl", kl)):
            previous = self.smoothed[key]
            self.smoothed[key] = value if previous is None else SMOOTHING * previous + (1 - SMOOTHING) * value
            self.values[key].append(self.smoothed[key])
            self.curves[key].setData(self.steps, self.values[key])

    def add_validation(self, step: int, loss: float) -> None:
        self.val_x.append(step)
        self.val_y.append(loss)
        self.val.setData(self.val_x, self.val_y)


def train(
    control,
    config: TrainConfig,
    data: str,
    out_dir: str,
    resume: bool,
    builtin_count: int,
    step_every: int,
    overwrite: bool = False,
):
    """A training run as a :class:`~gui.workers.Job` function: prepare the data (cancellable), then train
    until done or stopped (a stop saves a resumable checkpoint at the next step)."""
    control.post(("log", "preparing the dataset…"))
    cache = open_dataset(
        data,
        config.model.image_size,
        builtin_count=builtin_count,
        log=lambda message: control.post(("log", message)),
        should_stop=control.should_stop,
        progress_cb=control.progress,
    )
    control.post(("data", len(cache), cache.has_labels))
    control.check()
    trainer = Trainer(
        config,
        cache,
        out_dir,
        on_step=control.post,
        on_epoch=control.post,
        log=lambda message: control.post(("log", message)),
        step_every=step_every,
    )
    control.post(("trainer", trainer))
    control.on_stop(trainer.stop)
    return trainer.run(resume=resume, overwrite=overwrite)  # the panel asked before replacing a run


def run_state(out_dir: str | Path) -> dict | None:
    """What a run folder holds: ``{"epoch", "step", "config"}`` from its ``last.pt``, or None if it has none."""
    path = Path(out_dir) / "last.pt"
    if not path.exists():
        return None
    try:
        ckpt = checkpoint.load(path)
    except checkpoint.CheckpointError:
        return None
    state = ckpt.training or {}
    try:
        config = TrainConfig.from_dict(state["config"])
    except (KeyError, TypeError, ValueError):
        config = None
    return {
        "epoch": int(state.get("epoch", ckpt.epochs)),
        "step": int(state.get("step", 0)),
        "config": config,
        "data": ckpt.dataset.get("source"),
        "history": ckpt.history,
    }


def epoch_count(n: int) -> str:
    """ "1 epoch", "40 epochs"."""
    return f"{n} epoch{'' if n == 1 else 's'}"


def unfinished(state: dict | None) -> bool:
    """Whether a :func:`run_state` is a run that stopped before its planned end."""
    if state is None or state["config"] is None:
        return False
    return state["step"] > 0 or state["epoch"] < state["config"].epochs


class TrainPanel(QWidget):
    """Runs training as a :class:`Job` and shows its progress."""

    BUILTIN_INFO = f"{BUILTIN_COUNT:,} generated faces with all 18 labels (made once, then cached)"

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
        self._history_to_plot: list[dict] = []  # a resumed run's saved epochs, drawn at its first step
        self._last_run_folder: str | None = None  # the run folder of the last launch, checked when first shown
        self.builtin_count = BUILTIN_COUNT
        self.step_every = 1
        self.ask_to_load = True
        self.loaded_model_path = lambda: None  # the window tells which checkpoint the explorer shows

        self.builtin_radio = QRadioButton("Built-in generated faces")
        self.folder_radio = QRadioButton("Folder:")
        self.builtin_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.builtin_radio)
        group.addButton(self.folder_radio)
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("a Cartoon Set folder or any folder of face images")
        self.browse_button = QPushButton("Browse…")
        self.data_info = plain_label(self.BUILTIN_INFO)
        self.data_info.setWordWrap(True)

        recipe = DEFAULT_MODEL_RECIPE
        self.epochs = spin_box(1, 10000, 20)
        self.batch_size = spin_box(1, 4096, recipe.batch_size)
        self.lr = double_spin_box(1e-5, 1.0, recipe.lr, 1e-4, decimals=5)
        self.beta = double_spin_box(0.0, 100.0, recipe.beta, 0.01, decimals=3)
        self.beta.setToolTip(
            "Weight of the KL term: loss = summed squared error per image + β·KL.\n"
            f"{recipe.beta} (the default model's) gives sharp faces; the model's fitted prior keeps "
            "Random on faces. Higher β: smoother, blurrier faces."
        )
        self.latent_dim = spin_box(2, 512, recipe.model.latent_dim)
        self.image_size = QComboBox()
        self.image_size.addItems(["64", "128"])
        self._new_run_folder = str(self.runs_dir / time.strftime("run-%Y%m%d-%H%M%S"))
        self.out_dir = QLineEdit(self._new_run_folder)
        self.out_browse = QPushButton("…")
        self.out_browse.setFixedWidth(28)
        self.out_browse.setToolTip("Choose the run folder (a folder with a run in it can be resumed)")

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
        self.preview = plain_label(PREVIEW_HINT)
        self.preview.setWordWrap(True)
        self.preview.setMinimumSize(300, 120)
        self.log_view = LogView()
        self.log_view.setMinimumHeight(140)

        data_box = QGroupBox("Dataset")
        data_layout = QVBoxLayout(data_box)
        data_layout.addWidget(self.builtin_radio)
        row = QHBoxLayout()
        row.addWidget(self.folder_radio)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.browse_button)
        data_layout.addLayout(row)
        data_layout.addWidget(self.data_info)

        params = QGroupBox("Hyperparameters")
        form = QGridLayout(params)
        for i, (label, widget) in enumerate(
            (
                ("Epochs", self.epochs),
                ("Batch size", self.batch_size),
                ("Learning rate", self.lr),
                ("β (KL weight)", self.beta),
                ("Latent size", self.latent_dim),
                ("Image size", self.image_size),
            )
        ):
            form.addWidget(plain_label(label), i // 2, 2 * (i % 2))
            form.addWidget(widget, i // 2, 2 * (i % 2) + 1)
        form.addWidget(plain_label("Run folder"), 3, 0)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_dir, 1)
        out_row.addWidget(self.out_browse)
        form.addLayout(out_row, 3, 1, 1, 3)

        controls = QHBoxLayout()
        for widget in (self.start_button, self.resume_button, self.extend, self.pause_button, self.stop_button):
            controls.addWidget(widget)

        left = QVBoxLayout()
        left.addWidget(data_box)
        left.addWidget(params)
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

        self.browse_button.clicked.connect(self._browse)
        self.out_browse.clicked.connect(self._browse_out)
        self.folder_edit.textEdited.connect(self._check_folder_radio)  # typing a folder chooses it
        self.folder_edit.editingFinished.connect(self.describe_folder)
        self.builtin_radio.toggled.connect(lambda on: on and self.data_info.setText(self.BUILTIN_INFO))
        self.folder_radio.toggled.connect(lambda on: on and self.folder_edit.text().strip() and self.describe_folder())
        self.start_button.clicked.connect(self.start)
        self.resume_button.clicked.connect(self.resume)
        self.out_dir.textChanged.connect(self._update_resume_button)
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

    # ------------------------------------------------------------ dataset choice
    def set_folder(self, folder: str) -> None:
        self.folder_edit.setText(folder)
        self._check_folder_radio()
        self.describe_folder()

    def _check_folder_radio(self) -> None:
        """Select "Folder" without walking the folder (its toggled handler would)."""
        self.folder_radio.blockSignals(True)
        self.folder_radio.setChecked(True)
        self.folder_radio.blockSignals(False)

    def _browse(self) -> None:
        folder = ask_folder(self, "dataset", "Dataset folder", self.settings)
        if folder:
            self.set_folder(folder)

    def _browse_out(self) -> None:
        folder = ask_folder(self, "runs", "Run folder", self.settings)
        if folder:
            self.out_dir.setText(folder)

    def describe_folder(self) -> bool:
        """Show how many images the chosen folder holds and whether labels were found."""
        folder = self.folder_edit.text().strip()
        if not folder:
            return False
        try:
            files = scan_folder(folder)
        except DataError as exc:
            self.data_info.setText(f"⚠ {exc}")
            return False
        labelled = sum(f.csv is not None for f in files)
        self.data_info.setText(
            f"{len(files):,} images; "
            + (f"{labelled:,} with Cartoon Set labels" if labelled else "no labels (unlabelled folder)")
        )
        return True

    def config(self) -> TrainConfig:
        """The default model's recipe with the fields' values."""
        recipe = DEFAULT_MODEL_RECIPE
        model = replace(recipe.model, image_size=int(self.image_size.currentText()), latent_dim=self.latent_dim.value())
        return replace(
            recipe,
            model=model,
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            lr=self.lr.value(),
            beta=self.beta.value(),
        )

    def _show_config(self, saved: TrainConfig) -> None:
        """Put a saved run's hyperparameters into the fields."""
        self.batch_size.setValue(saved.batch_size)
        self.latent_dim.setValue(saved.model.latent_dim)
        self.lr.setValue(saved.lr)
        self.beta.setValue(saved.beta)
        self.image_size.setCurrentText(str(saved.model.image_size))

    SETTING_FIELDS = ("epochs", "batch_size", "lr", "beta", "latent_dim")

    @staticmethod
    def recipe_mark() -> str:
        """The default recipe's values of the remembered fields, saved beside them.

        Hyperparameters saved under another recipe (an older version's defaults, β 1) are not
        restored: the fields start from the current one instead.
        """
        recipe = DEFAULT_MODEL_RECIPE
        return f"batch {recipe.batch_size}, lr {recipe.lr:g}, beta {recipe.beta:g}, latent {recipe.model.latent_dim}"

    def _save_settings(self) -> None:
        """Remember the hyperparameters and the dataset choice for the next launch."""
        if self.settings is None:
            return
        self.settings.setValue("train/recipe", self.recipe_mark())
        for name in self.SETTING_FIELDS:
            self.settings.setValue(f"train/{name}", getattr(self, name).value())
        self.settings.setValue("train/image_size", self.image_size.currentText())
        self.settings.setValue("train/folder", self.folder_edit.text().strip() if self.folder_radio.isChecked() else "")
        self.settings.setValue("train/run_folder", self.out_dir.text().strip())

    def _restore_settings(self) -> None:
        if self.settings is None:
            return
        same_recipe = self.settings.value("train/recipe") == self.recipe_mark()
        for name in self.SETTING_FIELDS if same_recipe else ():
            widget = getattr(self, name)
            value = self.settings.value(f"train/{name}")
            try:
                if value is not None:
                    widget.setValue(type(widget.value())(value))
            except (TypeError, ValueError):
                pass  # a hand-edited settings file: keep the default
        if self.settings.value("train/image_size") in ("64", "128"):
            self.image_size.setCurrentText(self.settings.value("train/image_size"))
        folder = self.settings.value("train/folder")
        if isinstance(folder, str) and folder:  # not walked now (a big or unmounted folder would hold up start-up)
            self.folder_edit.setText(folder)
            self._check_folder_radio()
            self.data_info.setText("the folder of your last run; it is checked when you start")
        run_folder = self.settings.value("train/run_folder")
        if isinstance(run_folder, str) and run_folder:
            self._last_run_folder = run_folder  # read when the tab is first shown, not at start-up

    def showEvent(self, event) -> None:
        """The first time the tab is shown, offer the last run again if it stopped part-way."""
        super().showEvent(event)
        self._update_resume_button()  # the run folder may have changed on disk meanwhile
        folder, self._last_run_folder = self._last_run_folder, None
        state = run_state(folder) if folder and self.out_dir.text() == self._new_run_folder else None
        if unfinished(state):
            self.out_dir.setText(folder)  # Resume continues it; Start still asks before replacing it
            planned = state["config"].epochs
            where = (
                f"in epoch {state['epoch'] + 1} of {planned} after step {state['step']}"
                if state["step"]
                else f"after {epoch_count(state['epoch'])} of {planned}"
            )
            self._append_log(f"{folder} holds your last run, stopped {where}: Resume continues it")

    # ------------------------------------------------------------ run control
    @property
    def running(self) -> bool:
        return self.job.busy

    def _data_spec(self) -> str | None:
        if self.folder_radio.isChecked() and not self.describe_folder():
            self._append_log(self.data_info.text())
            return None
        return BUILTIN if self.builtin_radio.isChecked() else self.folder_edit.text().strip()

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
        target = saved.epochs + self.extend.value()
        if state["epoch"] >= target and state["step"] == 0:
            self.error.emit(
                f"the run in {out_dir} has finished its {epoch_count(state['epoch'])}; "
                "set “extend by” to train it further"
            )
            return False
        self.epochs.setValue(target)
        saved.epochs = target
        return self._launch(saved, resume=True, history=state["history"])

    def _launch(self, config: TrainConfig, resume: bool, overwrite: bool = False, history: list | None = None) -> bool:
        """Start the job; ``config`` is the whole run (a resumed run keeps its saved architecture and settings).

        A resumed run not on the plot yet gets its saved epochs (``history``) drawn at its first step.
        """
        data = self._data_spec()
        if data is None:
            return False
        epochs = config.epochs
        out_dir = self.out_dir.text().strip()
        self._history_to_plot = []
        if not (resume and self._plotted_run == out_dir):  # Resume and extend carry on the curves shown
            self.plot.clear_data()
            self.preview.setText(PREVIEW_HINT)  # replaces the last run's picture
            self._history_to_plot = history or []
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
        self.eta.setText(f"{what}: {done:,} / {total:,} · ETA {format_eta(eta)}")

    def _on_step(self, event: StepEvent) -> None:
        self._last_step = event
        for row in self._history_to_plot:  # the epochs before a resume: their mean losses, at their last step
            step = row["epoch"] * event.steps_per_epoch
            self.plot.add_step(step, row["train_loss"], row["train_recon"], row["train_kl"])
            self.plot.add_validation(step, row["val_loss"])
        self._history_to_plot = []
        epochs = self.config_running.epochs
        global_step = (event.epoch - 1) * event.steps_per_epoch + event.step
        self.progress.setMaximum(epochs * event.steps_per_epoch)
        self.progress.setValue(global_step)
        self.eta.setText(
            f"epoch {event.epoch}/{epochs} · step {event.step}/{event.steps_per_epoch}"
            f" · {event.images_per_s:.0f} images/s · ETA {format_eta(event.eta_s)}"
        )
        self.plot.add_step(global_step, event.loss, event.recon, event.kl)

    def _on_epoch(self, event: EpochEvent) -> None:
        m = event.metrics
        steps = self.plot.steps[-1] if self.plot.steps else event.epoch
        self.plot.add_validation(steps, m["val_loss"])
        self.preview.setPixmap(to_pixmap(grid(event.preview, nrow=8)).scaledToWidth(max(300, self.preview.width() - 4)))
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
        if result.status == "stopped":
            self._append_log(
                f"stopped after {epoch_count(result.epochs_done)}; resumable checkpoint: {result.last_path} "
                "(Resume continues from it)"
            )
            self.eta.setText(f"stopped at {self._position()} · Resume continues from there")
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
