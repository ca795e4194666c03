"""A :class:`~vae.training_run.TrainingRun` as a background job's function, and how the Train tab words a run."""

from __future__ import annotations

from vae.run_folder import run_state, unfinished
from vae.training_run import TrainingRun

__all__ = ["epoch_count", "run_state", "train", "unfinished"]


def train(control, run: TrainingRun):
    """Run ``run`` as a :class:`~gui.workers.Job` function: its events are posted to the GUI thread (a step or
    epoch event as it is, others as ``(kind, …)`` tuples) and a stop request stops it."""
    run.step.connect(control.post)
    run.epoch.connect(control.post)
    run.log.connect(lambda message: control.post(("log", message)))
    run.data_ready.connect(lambda count, labelled: control.post(("data", count, labelled)))
    run.status_changed.connect(lambda status: control.post(("status", status)))
    control.on_stop(run.stop)
    control.post(("log", "preparing the dataset…"))
    return run.run(control)


def epoch_count(n: int) -> str:
    """ "1 epoch", "40 epochs"."""
    return f"{n} epoch{'' if n == 1 else 's'}"
