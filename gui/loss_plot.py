"""The Train tab's loss plot: smoothed step losses and validation points against the run's position in epochs."""

from __future__ import annotations

import pyqtgraph as pg

from .widgets import legend_above

SMOOTHING = 0.9  # exponential moving average of the step losses, per step
KEYS = ("total", "recon", "kl")


class LossPlot(pg.PlotWidget):
    """Smoothed step losses (total, reconstruction, KL) and validation loss per epoch, x in (fractional) epochs.

    At a small β the total is nearly the reconstruction loss: it is drawn as a wide pale band with the
    reconstruction as a thin dark line inside it, so both stay visible where they coincide.
    """

    def __init__(self):
        super().__init__(background="w")
        self.setLabel("bottom", "epoch")
        self.setLabel("left", "loss per image")
        for side in ("bottom", "left"):  # "epoch (x0.001)" in a first epoch reads as nonsense: plain numbers
            self.getAxis(side).enableAutoSIPrefix(False)
        legend_above(self.getPlotItem())
        self.showGrid(x=True, y=True, alpha=0.2)
        self.setClipToView(True)
        self.setDownsampling(auto=True, mode="peak")
        self.getPlotItem().getViewBox().setDefaultPadding(0.12)
        self.getPlotItem().getViewBox().setLimits(xMin=0)  # a run starts at epoch 0: no padding left of it
        self.curves = {
            "total": self.plot([], [], pen=pg.mkPen(31, 119, 180, 110, width=8), name="total = recon + β·KL"),
            "recon": self.plot([], [], pen=pg.mkPen("#1b5e20", width=1.5), name="reconstruction"),
            "kl": self.plot([], [], pen=pg.mkPen("#d62728", width=1.5), name="KL"),
        }
        self.curves["recon"].setZValue(1)  # the thin line over the wide band
        validation = "#ff7f0e"
        self.val = self.plot([], [], pen=None, symbol="o", symbolBrush=validation, symbolSize=8, name="validation")
        self.val.scatter.setBrush(validation)  # the legend draws the scatter's own colours, else set only with data
        self.clear_data()

    def clear_data(self) -> None:
        self.x: list[float] = []
        self.values = {key: [] for key in KEYS}
        self.smoothed = {key: None for key in KEYS}
        self.val_x: list[float] = []
        self.val_y: list[float] = []
        self._redraw()
        self.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)  # empty: no axes left over from the last run
        self.enableAutoRange()  # the next run's axes fit its own losses, not the last run's

    def _append(self, x: float, losses: tuple[float, float, float], steps: int | None) -> None:
        """One point; ``steps`` is how many steps it averages (None: an epoch's mean, drawn as it is)."""
        self.x.append(x)
        decay = 0.0 if steps is None else SMOOTHING**steps
        for key, value in zip(KEYS, losses):
            previous = self.smoothed[key]
            self.smoothed[key] = value if previous is None else decay * previous + (1 - decay) * value
            self.values[key].append(self.smoothed[key])

    def _redraw(self) -> None:
        for key in KEYS:
            self.curves[key].setData(self.x, self.values[key])
        self.val.setData(self.val_x, self.val_y)

    def add_step(self, x: float, total: float, recon: float, kl: float, steps: int = 1) -> None:
        self._append(x, (total, recon, kl), steps)
        self._redraw()

    def add_validation(self, epoch: float, loss: float) -> None:
        self.val_x.append(epoch)
        self.val_y.append(loss)
        self.val.setData(self.val_x, self.val_y)

    def show_history(self, steps: list[dict], epochs: list[dict]) -> None:
        """Draw a saved run: its step rows (``steps.csv``) and, for epochs they do not cover (older runs),
        each epoch's mean training losses at its middle; validation losses at the epochs' ends."""
        self.clear_data()
        covered = {int(-(-row["epoch"] // 1)) for row in steps}  # the epoch each row lies in (its end included)
        points = [(row["epoch"], (row["loss"], row["recon"], row["kl"]), int(row["steps"])) for row in steps]
        points += [
            (row["epoch"] - 0.5, (row["train_loss"], row["train_recon"], row["train_kl"]), None)
            for row in epochs
            if int(row["epoch"]) not in covered
        ]
        for x, losses, n in sorted(points, key=lambda p: p[0]):
            self._append(x, losses, n)
        self.val_x = [row["epoch"] for row in epochs]
        self.val_y = [row["val_loss"] for row in epochs]
        self._redraw()
