"""Train panel: choose data and hyperparameters, watch the losses live, load the result."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import (
    QButtonGroup, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
    QPlainTextEdit, QProgressBar, QPushButton, QRadioButton, QVBoxLayout, QWidget,
)

from vae.cache import BUILTIN, BUILTIN_COUNT
from vae.export import grid
from vae.data import DataError, scan_folder
from vae.model import VAEConfig
from vae.train import TrainConfig

from .controls import double_spin_box, spin_box
from .qt_images import to_pixmap
from .workers import TrainingWorker, start_in_thread

SMOOTHING = 0.9  # exponential moving average of the step losses


def _format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


class LossPlot(pg.PlotWidget):
    """Smoothed step losses (total, reconstruction, KL) and validation loss per epoch."""

    def __init__(self):
        super().__init__(background="w")
        self.setLabel("bottom", "step")
        self.setLabel("left", "loss per image")
        self.addLegend(offset=(-10, 10))
        self.showGrid(x=True, y=True, alpha=0.2)
        self.setClipToView(True)
        self.setDownsampling(auto=True, mode="peak")
        self.curves = {
            "total": self.plot([], [], pen=pg.mkPen("#1f77b4", width=2), name="total"),
            "recon": self.plot([], [], pen=pg.mkPen("#2ca02c", width=1.5), name="reconstruction"),
            "kl": self.plot([], [], pen=pg.mkPen("#d62728", width=1.5), name="KL"),
        }
        self.val = self.plot([], [], pen=None, symbol="o", symbolBrush="#ff7f0e", symbolSize=8, name="validation")
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


class TrainPanel(QWidget):
    """Runs a :class:`TrainingWorker` and shows its progress."""

    model_ready = Signal(str)  # path of the trained checkpoint, when the user wants it loaded
    running_changed = Signal(bool)

    def __init__(self, runs_dir: str = "runs"):
        super().__init__()
        self.thread: QThread | None = None
        self.worker: TrainingWorker | None = None
        self.last_result = None
        self.builtin_count = BUILTIN_COUNT
        self.step_every = 1
        self.ask_to_load = True

        self.builtin_radio = QRadioButton("Built-in generated faces")
        self.folder_radio = QRadioButton("Folder:")
        self.builtin_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.builtin_radio)
        group.addButton(self.folder_radio)
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("a Cartoon Set folder or any folder of face images")
        self.browse_button = QPushButton("Browse…")
        self.data_info = QLabel("20,000 generated faces with all 18 labels (made once, then cached)")
        self.data_info.setWordWrap(True)

        self.epochs = spin_box(1, 1000, 20)
        self.batch_size = spin_box(1, 4096, 64)
        self.lr = double_spin_box(1e-5, 1.0, 1e-3, 1e-4, decimals=5)
        self.beta = double_spin_box(0.0, 100.0, 1.0, 0.1)
        self.beta.setToolTip("Weight of the KL term: loss = summed squared error per image + β·KL")
        self.latent_dim = spin_box(2, 512, 32)
        self.image_size = QComboBox()
        self.image_size.addItems(["64", "128"])
        self.out_dir = QLineEdit(str(Path(runs_dir) / time.strftime("run-%Y%m%d-%H%M%S")))

        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.pause_button.setEnabled(False)
        self.stop_button.setEnabled(False)
        self.progress = QProgressBar()
        self.eta = QLabel("")
        self.plot = LossPlot()
        self.preview = QLabel("Reconstructions appear here after each epoch")
        self.preview.setMinimumSize(300, 120)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(2000)

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
        form = QFormLayout(params)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Learning rate", self.lr)
        form.addRow("β (KL weight)", self.beta)
        form.addRow("Latent size", self.latent_dim)
        form.addRow("Image size", self.image_size)
        form.addRow("Run folder", self.out_dir)

        controls = QHBoxLayout()
        controls.addWidget(self.start_button)
        controls.addWidget(self.pause_button)
        controls.addWidget(self.stop_button)

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
        self.folder_edit.editingFinished.connect(self.describe_folder)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)

    # ------------------------------------------------------------ dataset choice
    def set_folder(self, folder: str) -> None:
        self.folder_edit.setText(folder)
        self.folder_radio.setChecked(True)
        self.describe_folder()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder")
        if folder:
            self.set_folder(folder)

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
        self.data_info.setText(f"{len(files):,} images; " + (f"{labelled:,} with Cartoon Set labels" if labelled else "no labels (unlabelled folder)"))
        return True

    def config(self) -> TrainConfig:
        model = VAEConfig(image_size=int(self.image_size.currentText()), latent_dim=self.latent_dim.value())
        return TrainConfig(model=model, epochs=self.epochs.value(), batch_size=self.batch_size.value(),
                           lr=self.lr.value(), beta=self.beta.value())

    # ------------------------------------------------------------ run control
    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.isRunning()

    def start(self) -> None:
        if self.running:
            return
        if self.folder_radio.isChecked() and not self.describe_folder():
            self._append_log(self.data_info.text())
            return
        data = BUILTIN if self.builtin_radio.isChecked() else self.folder_edit.text().strip()
        try:
            config = self.config()
        except ValueError as exc:
            self._append_log(f"error: {exc}")
            return
        self.plot.clear_data()
        self.progress.setValue(0)
        self.last_result = None
        self.worker = TrainingWorker(config, data, self.out_dir.text().strip(), builtin_count=self.builtin_count,
                                     step_every=self.step_every)
        self.thread = QThread(self)
        self.worker.status.connect(self._append_log)
        self.worker.log.connect(self._append_log)
        self.worker.data_ready.connect(self._data_ready)
        self.worker.progress.connect(self._on_step)
        self.worker.epoch_done.connect(self._on_epoch)
        self.worker.finished.connect(self._on_finished)
        self.worker.error.connect(self._on_error)
        self.worker.done.connect(self._on_done)
        start_in_thread(self.worker, self.thread)
        self._set_running(True)

    def toggle_pause(self) -> None:
        if not self.worker or not self.worker.trainer:
            return
        if self.worker.trainer.paused:
            self.worker.resume_training()
            self.pause_button.setText("Pause")
            self._append_log("resumed")
        else:
            self.worker.pause()
            self.pause_button.setText("Resume")
            self._append_log("paused")

    def stop(self) -> None:
        if self.worker:
            self._append_log("stopping: saving a resumable checkpoint…")
            self.worker.stop()

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("Pause")
        self.running_changed.emit(running)

    # ------------------------------------------------------------ worker events (GUI thread)
    def _append_log(self, message: str) -> None:
        self.log_view.appendPlainText(message)

    def _data_ready(self, count: int, labelled: bool) -> None:
        self._append_log(f"dataset ready: {count:,} images" + (" with labels" if labelled else " (unlabelled)"))

    def _on_step(self, event) -> None:
        global_step = (event.epoch - 1) * event.steps_per_epoch + event.step
        total_steps = self.worker.config.epochs * event.steps_per_epoch
        self.progress.setMaximum(total_steps)
        self.progress.setValue(global_step)
        self.eta.setText(f"epoch {event.epoch}/{self.worker.config.epochs} · step {event.step}/{event.steps_per_epoch}"
                         f" · {event.images_per_s:.0f} images/s · ETA {_format_eta(event.eta_s)}")
        self.plot.add_step(global_step, event.loss, event.recon, event.kl)

    def _on_epoch(self, event) -> None:
        m = event.metrics
        steps = self.plot.steps[-1] if self.plot.steps else event.epoch
        self.plot.add_validation(steps, m["val_loss"])
        self.preview.setPixmap(to_pixmap(grid(event.preview, nrow=8)).scaledToWidth(max(300, self.preview.width() - 4)))
        self._append_log(f"epoch {event.epoch}/{event.epochs}: val loss {m['val_loss']:.1f} "
                         f"(recon {m['val_recon']:.1f}, KL {m['val_kl']:.1f}), SSIM {m['val_ssim']:.4f}, "
                         f"PSNR {m['val_psnr']:.2f} dB, active units {m['active_units']}"
                         + (" — best so far" if event.is_best else ""))

    def _on_finished(self, result) -> None:
        self.last_result = result
        if result.status == "stopped":
            self._append_log(f"stopped; resumable checkpoint: {result.last_path}")
            return
        self._append_log(f"finished {result.epochs_done} epochs; best model: {result.best_path}")
        if result.best_path and self.ask_to_load:
            from PySide6.QtWidgets import QMessageBox

            answer = QMessageBox.question(self, "Training finished", "Load the new model into the explorer?")
            if answer == QMessageBox.StandardButton.Yes:
                self.model_ready.emit(str(result.best_path))

    def _on_error(self, message: str) -> None:
        self._append_log(f"error: {message}")

    def _on_done(self) -> None:
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait()
        self._set_running(False)

    def shutdown(self) -> None:
        """Stop a running training and wait for its thread (window closing)."""
        if self.running:
            self.worker.stop()
            self.thread.wait()
