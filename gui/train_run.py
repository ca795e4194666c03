"""A training run as a background job, and what a run folder holds (no widgets)."""

from __future__ import annotations

from pathlib import Path

from vae import checkpoint
from vae.cache import open_dataset
from vae.train import TrainConfig, Trainer


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
    """What a run folder holds, from its ``last.pt``: epoch, step, steps_per_epoch, position (in epochs),
    config, data source and count, history; None if it has none."""
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
    epoch, step = int(state.get("epoch", ckpt.epochs)), int(state.get("step", 0))
    per_epoch = state.get("steps_per_epoch")
    return {
        "epoch": epoch,
        "step": step,
        "steps_per_epoch": per_epoch,
        "position": epoch + step / per_epoch if per_epoch else epoch + (1 if step else 0),  # older files: its epoch
        "config": config,
        "data": ckpt.dataset.get("source"),
        "data_count": ckpt.dataset.get("count"),
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
