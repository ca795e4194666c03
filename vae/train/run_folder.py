"""A run folder: the files a training run writes there, its lock, and what a folder holds (no training here)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..common.lockfile import LockFile
from ..data.cache import BUILTIN, builtin_source_count, is_builtin_source
from ..model import checkpoint
from .config import TrainConfig
from .run_history import STEPS_FILE, stop_position

LAST, BEST, CONFIG, METRICS = "last.pt", "best.pt", "config.json", "metrics.csv"
RUN_FILES = (LAST, BEST, CONFIG, METRICS, STEPS_FILE)
LOCK_NAME = "run.lock"
LOCK_WHAT = "training run"


class RunFolderError(ValueError):
    """A run folder cannot be used as asked (it holds another run, or another process trains into it)."""


def holds_run(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds any file of a run (a new run there would replace it)."""
    return any((Path(folder) / name).exists() for name in RUN_FILES)


def free_folder_beside(folder: str | os.PathLike) -> Path:
    """A folder beside ``folder`` that holds no run, named after it: ``run`` → ``run-2``, ``run-2`` → ``run-3``."""
    folder = Path(folder)
    stem, dash, number = folder.name.rpartition("-")
    if not (dash and number.isdigit() and len(number) <= 3):  # a count, not the digits of a time
        stem, number = folder.name, "1"
    n = int(number) + 1
    while holds_run(beside := folder.with_name(f"{stem}-{n}")) or beside.is_file():
        n += 1
    return beside


def can_resume(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a ``last.pt`` to continue from (not read: see :func:`run_state`)."""
    return (Path(folder) / LAST).is_file()


def run_files(folder: str | os.PathLike) -> list[Path]:
    """The run's files in ``folder`` and its epoch previews: what replacing the run removes."""
    folder = Path(folder)
    return [*(folder / name for name in RUN_FILES), *folder.glob("epoch_*.png")]


def run_lock(folder: str | os.PathLike, log=None) -> LockFile:
    """The lock that keeps two training runs out of ``folder``."""
    return LockFile(Path(folder) / LOCK_NAME, LOCK_WHAT, log=log)


def check_run_folder(out_dir: str | os.PathLike, resume: bool, overwrite: bool = False, lock: bool = True) -> None:
    """Raise :class:`RunFolderError` if ``out_dir`` cannot take the run as asked (cheap; leaves nothing behind).

    A new run refuses a folder that holds one unless ``overwrite``; ``resume`` needs its ``last.pt``;
    a folder another live process trains into is refused either way.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RunFolderError(f"{out_dir} is a file, not a run folder")
    check_writable(out_dir)
    if resume and not (out_dir / LAST).exists():
        raise RunFolderError(f"cannot resume: {out_dir} holds no last.pt (start a new run without --resume)")
    if not resume and not overwrite and holds_run(out_dir):
        raise RunFolderError(
            f"{out_dir} already holds a run; use --resume to continue it or --out for a new one "
            "(--overwrite replaces it)"
        )
    held = run_lock(out_dir)
    holder = held.holder() if lock else None
    if holder and not held.stale():
        raise RunFolderError(f"{out_dir} is in use by another training run (PID {holder['pid']} on {holder['host']})")


def check_writable(out_dir: str | os.PathLike) -> None:
    """Raise :class:`RunFolderError` when the run's files could not be written in ``out_dir`` (made if missing):
    told before a dataset is prepared, not after. Probed with a file made and removed in the nearest folder that
    exists, so it leaves nothing behind."""
    out_dir = Path(out_dir).expanduser()
    existing = next((p for p in (out_dir, *out_dir.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        raise RunFolderError(f"{out_dir}: cannot be a run folder ({existing} is a file, not a folder)")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".face-explorer-probe-"):
            pass
    except OSError as exc:
        raise RunFolderError(f"{out_dir}: the run's files cannot be written there ({exc.strerror or exc})") from exc


def run_state(out_dir: str | os.PathLike) -> dict | None:
    """What a run folder holds, from its ``last.pt``: epoch, step, steps_per_epoch, position (in epochs),
    config, data source, count and limit (the files read of each folder, None for all), history; None if it has none."""
    path = Path(out_dir) / LAST
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
    epoch, step = int(state.get("epoch", ckpt.epochs)), int(state.get("step", 0))
    per_epoch = state.get("steps_per_epoch")
    return {
        "epoch": epoch,
        "step": step,
        "steps_per_epoch": per_epoch,
        "position": epoch + step / per_epoch if per_epoch else epoch + (1 if step else 0),  # older files: its epoch
        "config": config,
        "data": ckpt.dataset.get("source"),
        "data_folders": data_folders(ckpt.dataset),
        "builtin_count": builtin_count(ckpt.dataset),
        "data_count": ckpt.dataset.get("count"),
        "limit": data_limit(ckpt.dataset),
        "history": ckpt.history,
    }


def data_folders(dataset: dict) -> list[str]:
    """The ``--data`` values a run's recorded ``dataset`` came from: its folders, or ``builtin``."""
    parts = dataset.get("folders") or ([dataset] if dataset.get("source") else [])
    return [BUILTIN if is_builtin_source(part.get("source")) else str(part.get("source")) for part in parts]


def builtin_count(dataset: dict) -> int | None:
    """How many built-in faces were generated for a run's recorded ``dataset`` (its source names them), if any."""
    counts = [builtin_source_count(part.get("source")) for part in dataset.get("folders") or [dataset]]
    return next((count for count in counts if count is not None), None)


def data_limit(dataset: dict) -> int | None:
    """The ``--limit`` a run's recorded ``dataset`` was read with (its folders' first N files), if any."""
    limits = [part.get("limit") for part in dataset.get("folders") or [dataset]]
    return next((limit for limit in limits if limit), None)


def trained_to(state: dict, epochs: int) -> bool:
    """Whether the run of a :func:`run_state` has trained ``epochs`` epochs whole (nothing to resume up to there)."""
    return state["step"] == 0 and state["epoch"] >= epochs


def where_stopped(state: dict) -> str:
    """Where the run of a :func:`run_state` (one with its settings) stands, in the words the log uses."""
    return stop_position(state["epoch"], state["step"], state["config"].epochs, state["steps_per_epoch"])


def unfinished(state: dict | None) -> bool:
    """Whether a :func:`run_state` is a run that stopped before its planned end."""
    if state is None or state["config"] is None:
        return False
    return not trained_to(state, state["config"].epochs)
