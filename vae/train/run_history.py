"""What a run folder keeps of a run's course: step losses (``steps.csv``), epoch metrics and preview images.

``steps.csv`` holds one row per few steps (the mean of their losses), at most :data:`ROWS_PER_EPOCH` an epoch,
with the position as a fractional epoch: a resumed run's curve continues where it left off. It is rewritten
atomically together with ``last.pt``; rows beyond the checkpoint's position (a kill between the two writes)
are dropped when the run resumes, since those steps are trained again.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

from ..common.atomic import atomic_write

STEPS_FILE = "steps.csv"
STEP_COLUMNS = ["epoch", "steps", "loss", "recon", "kl"]  # epoch: fractional position at the row's last step
ROWS_PER_EPOCH = 50
PREVIEW_PATTERN = re.compile(r"epoch_(\d+)\.png")


def preview_name(epoch: int) -> str:
    """Epoch ``epoch``'s (1-based) preview grid file, ``epoch_001.png``; :func:`list_previews` reads them back."""
    return f"epoch_{epoch:03d}.png"


def fractional_epoch(epoch_index: int, steps_done: int, steps_per_epoch: int) -> float:
    """The run's position after ``steps_done`` steps of epoch ``epoch_index`` (0-based), in epochs."""
    return epoch_index + steps_done / steps_per_epoch


def stop_position(epochs_done: int, step: int, epochs: int, steps_per_epoch: int | None = None) -> str:
    """Where a stopped run stands, in the one wording the CLI, the trainer and the app use."""
    if step:
        of = f" of {steps_per_epoch}" if steps_per_epoch else ""
        return f"in epoch {epochs_done + 1} of {epochs}, after step {step}{of}"
    if epochs_done:
        return f"after epoch {epochs_done} of {epochs}"
    return "before the first step"


class StepLog:
    """Step losses grouped ``every`` steps; :meth:`save` writes the rows so far to a run folder's ``steps.csv``."""

    def __init__(self, steps_per_epoch: int, rows: list[dict] | None = None):
        self.every = max(1, math.ceil(steps_per_epoch / ROWS_PER_EPOCH))
        self.rows: list[dict] = list(rows or [])
        self._sums = [0.0, 0.0, 0.0]
        self._n = 0

    def add(self, position: float, loss: float, recon: float, kl: float, epoch_end: bool = False) -> None:
        """One step's losses; a row is closed every ``every`` steps and at an epoch's end."""
        for i, value in enumerate((loss, recon, kl)):
            self._sums[i] += value
        self._n += 1
        if self._n >= self.every or epoch_end:
            self.flush(position)

    def flush(self, position: float) -> None:
        """Close the open row (if any steps are in it) at ``position``."""
        if self._n:
            loss, recon, kl = (s / self._n for s in self._sums)
            self.rows.append({"epoch": position, "steps": self._n, "loss": loss, "recon": recon, "kl": kl})
        self._sums, self._n = [0.0, 0.0, 0.0], 0

    def save(self, folder: str | Path) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=STEP_COLUMNS)
        writer.writeheader()
        writer.writerows(self.rows)
        with atomic_write(Path(folder) / STEPS_FILE, "w") as handle:
            handle.write(buffer.getvalue())


def _read_csv(path: Path, columns: list[str]) -> list[dict]:
    """The rows of a CSV file whose ``columns`` are all finite numbers; [] if it is missing or unreadable."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    good = []
    for row in rows:
        try:
            values = {key: float(row[key]) for key in columns}
        except (KeyError, TypeError, ValueError):
            continue
        if all(math.isfinite(v) for v in values.values()):
            good.append(values)
    return good


def load_steps(folder: str | Path, up_to: float = math.inf) -> list[dict]:
    """The rows of a run folder's ``steps.csv`` up to position ``up_to`` (epochs), in order."""
    rows = _read_csv(Path(folder) / STEPS_FILE, STEP_COLUMNS)
    return [row for row in rows if row["epoch"] <= up_to + 1e-9]


def load_epochs(folder: str | Path) -> list[dict]:
    """The per-epoch rows of a run folder's ``metrics.csv`` (epoch, train and validation losses)."""
    return _read_csv(Path(folder) / "metrics.csv", ["epoch", "train_loss", "train_recon", "train_kl", "val_loss"])


def list_previews(folder: str | Path) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of a run folder's preview images (``epoch_001.png``, …), by epoch."""
    try:
        found = [(PREVIEW_PATTERN.fullmatch(p.name), p) for p in Path(folder).iterdir()]
    except OSError:
        return []
    return sorted((int(match.group(1)), path) for match, path in found if match and path.is_file())
