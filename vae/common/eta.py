"""Time left in a training run, from smoothed step times.

The first steps of a run are slow (memory allocation, kernel selection, caches filling), so a rate measured
over them overestimates the run many times over. :class:`EtaEstimator` leaves them out, averages the step
time with an exponential moving average, and adds the time each epoch spends outside its steps (validation,
preview, checkpoints). It says nothing (NaN) until it has seen enough steps to be trusted.
"""

from __future__ import annotations

import math
import time
from typing import Callable


class EtaEstimator:
    """Estimates the seconds left from :meth:`tick` calls, one per finished step.

    ``warmup`` steps after each (re)start are not timed; ``min_steps`` timed steps are needed before an
    estimate; ``smoothing`` is the weight of the newest step time in the moving average. ``clock`` returns
    seconds (a fake one in tests).
    """

    def __init__(
        self,
        warmup: int = 3,
        min_steps: int = 5,
        smoothing: float = 0.05,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.warmup, self.min_steps, self.smoothing, self.clock = warmup, min_steps, smoothing, clock
        self.step_s: float | None = None  # the smoothed seconds per step
        self.epoch_overhead_s = 0.0  # seconds an epoch spends outside its steps
        self.timed = 0
        self._untimed = 0
        self._last: float | None = None
        self._sum = 0.0

    def restart(self) -> None:
        """Forget the last tick: the time until the next one (a pause, an epoch's validation) is not a step's."""
        self._last = None

    def tick(self, steps: int = 1) -> None:
        """``steps`` more steps have finished now."""
        now = self.clock()
        last, self._last = self._last, now
        if last is None:
            return
        if self._untimed < self.warmup:
            self._untimed += steps
            return
        per_step = (now - last) / max(steps, 1)
        self.timed += steps
        if self.timed <= self.min_steps:  # a plain mean until the average has enough steps to move from
            self._sum += now - last
            self.step_s = self._sum / self.timed
        else:
            weight = 1 - (1 - self.smoothing) ** steps
            self.step_s += weight * (per_step - self.step_s)

    def add_epoch_overhead(self, seconds: float) -> None:
        """An epoch's time outside its steps; the newest one counts most."""
        self.epoch_overhead_s = seconds if not self.epoch_overhead_s else 0.5 * (self.epoch_overhead_s + seconds)

    @property
    def ready(self) -> bool:
        return self.step_s is not None and self.timed >= self.min_steps

    def seconds_left(self, steps_left: int, epochs_left: int = 0) -> float:
        """Seconds for ``steps_left`` steps and ``epochs_left`` epoch ends; NaN while still estimating."""
        if not self.ready:
            return math.nan
        return steps_left * self.step_s + epochs_left * self.epoch_overhead_s


class ProgressEta:
    """Time left of a counted task (``done`` of ``total``) from its rate since its second report: the first
    interval holds the start-up (worker processes starting, imports), which would inflate the estimate many
    times. NaN until ``min_seconds`` of progress were timed; a count that falls back starts a new stage."""

    def __init__(self, min_seconds: float = 2.0, clock: Callable[[], float] = time.perf_counter):
        self.min_seconds, self.clock = min_seconds, clock
        self._first: tuple[float, int] | None = None
        self._start: tuple[float, int] | None = None
        self._last_done = -1

    def update(self, done: int, total: int) -> float:
        now = self.clock()
        if self._first is None or done < self._last_done:
            self._first, self._start = (now, done), None
        elif self._start is None and done > self._first[1]:
            self._start = (now, done)  # the start-up is over: the rate is timed from here
        self._last_done = done
        if self._start is None:
            return math.nan
        t0, d0 = self._start
        if now - t0 < self.min_seconds or done <= d0:
            return math.nan
        return (total - done) * (now - t0) / (done - d0)
