"""A :class:`~vae.train.training_run.TrainingRun` as a background job's function, and how the Train tab words a run."""

from __future__ import annotations

from dataclasses import dataclass

from vae.train.run_folder import run_state, unfinished
from vae.train.training_run import TrainingRun

__all__ = ["DataReady", "LogLine", "StatusChanged", "epoch_count", "run_state", "train", "unfinished"]


@dataclass(frozen=True)
class LogLine:
    message: str


@dataclass(frozen=True)
class DataReady:
    count: int
    labelled: bool


@dataclass(frozen=True)
class StatusChanged:
    status: str


def train(control, run: TrainingRun):
    """Run ``run`` as a :class:`~gui.workers.Job` function: its events are posted to the GUI thread (step and
    epoch events as they are, the others as :class:`LogLine`, :class:`DataReady`, :class:`StatusChanged`) and a
    stop request stops it."""
    run.step.connect(control.post)
    run.epoch.connect(control.post)
    run.log.connect(lambda message: control.post(LogLine(message)))
    run.data_ready.connect(lambda count, labelled: control.post(DataReady(count, labelled)))
    run.status_changed.connect(lambda status: control.post(StatusChanged(status)))
    control.on_stop(run.stop)
    control.post(LogLine("preparing the dataset…"))
    return run.run(control)


def epoch_count(n: int) -> str:
    """ "1 epoch", "40 epochs"."""
    return f"{n} epoch{'' if n == 1 else 's'}"
