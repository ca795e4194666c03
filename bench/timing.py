"""Timing a piece of work in a benchmark: the median wall time of several calls."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def median_seconds(work: Callable[[], object], repeats: int, warm_up: bool = False) -> float:
    """Median seconds of ``work()`` over ``repeats`` calls, after one untimed call when ``warm_up``."""
    if warm_up:
        work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
