"""What the Train tab shows of a run: its progress, ETA line, loss plot, epoch previews and log."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QProgressBar

from vae.explore.export import grid
from vae.train.run_history import fractional_epoch, load_epochs, load_steps
from vae.train.trainer import EpochEvent, StepEvent

from .controls import plain_label
from .loss_plot import LossPlot
from .preview_browser import PreviewBrowser
from .qt_images import to_pixmap
from .widgets import LogView
from .workers import format_eta

PREVIEW_HINT = "After each epoch: validation faces, their reconstructions below them, then prior samples"


class TrainMonitor:
    """The widgets that follow a run (the panel lays them out) and how each event of the run updates them."""

    def __init__(self):
        self.progress = QProgressBar()
        self.eta = plain_label("")
        self.plot = LossPlot()
        self.preview = PreviewBrowser(PREVIEW_HINT)
        self.log_view = LogView()
        self.log_view.setMinimumHeight(140)
        self.last_step: StepEvent | None = None

    def log(self, message: str) -> None:
        self.log_view.append_line(message)

    def show_run(self, folder: str, up_to: float = math.inf) -> None:
        """Draw a run folder's saved losses (up to position ``up_to``, in epochs) and list its previews."""
        self.plot.show_history(load_steps(folder, up_to), [r for r in load_epochs(folder) if r["epoch"] <= up_to])
        self.preview.show_folder(folder)

    def begin(self, folder: str, position: float | None) -> None:
        """A run starts: a resumed one (at ``position``) shows its folder's history so far, a new one nothing."""
        if position is not None:
            self.show_run(folder, position)
        else:
            self.plot.clear_data()
            self.preview.clear()  # replaces the last run's pictures
        self.progress.setValue(0)
        self.eta.setText("preparing the dataset…")
        self.last_step = None

    def show_preparation(self, done: int, total: int, what: str, eta: float) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.eta.setText(f"{what}: {done:,} / {total:,} · ETA {format_eta(eta) if eta == eta else 'estimating…'}")

    def preparation_stopped(self, message: str) -> None:
        """The run was stopped before training began: no progress left on show, ``message`` in its place."""
        self.progress.setValue(0)
        self.eta.setText(message)

    def show_step(self, event: StepEvent, epochs: int, step_every: int) -> None:
        self.last_step = event
        self.progress.setMaximum(epochs * event.steps_per_epoch)
        self.progress.setValue((event.epoch - 1) * event.steps_per_epoch + event.step)
        eta = format_eta(event.eta_s) if math.isfinite(event.eta_s) else "estimating…"
        self.eta.setText(
            f"epoch {event.epoch}/{epochs} · step {event.step}/{event.steps_per_epoch}"
            f" · {event.images_per_s:.0f} images/s · ETA {eta}"
        )
        x = fractional_epoch(event.epoch - 1, event.step, event.steps_per_epoch)
        self.plot.add_step(x, event.loss, event.recon, event.kl, step_every)

    def show_epoch(self, event: EpochEvent) -> None:
        m = event.metrics
        self.plot.add_validation(event.epoch, m["val_loss"])
        self.preview.add(event.epoch, to_pixmap(grid(event.preview, nrow=8)))
        self.log(
            f"epoch {event.epoch}/{event.epochs}: val loss {m['val_loss']:.1f} "
            f"(recon {m['val_recon']:.1f}, KL {m['val_kl']:.1f}), SSIM {m['val_ssim']:.4f}, "
            f"PSNR {m['val_psnr']:.2f} dB, active units {m['active_units']}"
            + (" — best so far" if event.is_best else "")
        )

    def position(self, epochs: int) -> str:
        """Where the run is: "epoch 3/20, step 7/118" from the last step shown."""
        event = self.last_step
        if event is None:
            return "the start"
        return f"epoch {event.epoch}/{epochs}, step {event.step}/{event.steps_per_epoch}"
