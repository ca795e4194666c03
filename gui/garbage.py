"""Python's cyclic garbage collection, run in the GUI thread only and in small steps.

A collection that starts in a worker thread destroys the GUI thread's unreachable Qt objects there,
and PySide can deadlock doing so: the object's destructor holds Qt's connection lock while it waits
for the GIL, and the GUI thread holds the GIL while it waits for that lock. So automatic collection
is turned off and a GUI-thread timer collects instead, often enough that the young generations stay
small (a few milliseconds, tens during a burst of imports). A full collection scans every object,
about 0.14 s on a 2-core machine once torch and the training code's imports are loaded, so it waits
until no background job is running: a training run's first steps import hundreds of thousands of
objects, and the GUI must keep painting meanwhile. A run's cyclic garbage is small (8 objects
found after 12 epochs in the app), so while a job runs a full collection comes at most every five
minutes; otherwise at most once a minute, which stands in for CPython's rule of collecting the
oldest generation only after it has grown by a quarter.
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

from .workers import Job

TICK_MS = 50
FULL_COLLECTION_GAP_S = 60.0  # the least time between two full collections
FULL_COLLECTION_GAP_WHILE_A_JOB_RUNS_S = 300.0


class GuiThreadGarbageCollector(QObject):
    """Collects on a GUI-thread timer, generation by generation, by the automatic collector's thresholds."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.last_full_collection = time.monotonic()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.collect_due)
        self.timer.start(TICK_MS)

    def collect_due(self) -> None:
        """Collect each generation whose count has passed its threshold; the oldest one rarely (see above)."""
        young, middle, old = self.thresholds
        if gc.get_count()[0] > young:
            gc.collect(0)
        if gc.get_count()[1] > middle:
            gc.collect(1)
        if gc.get_count()[2] > old:
            gap = FULL_COLLECTION_GAP_WHILE_A_JOB_RUNS_S if Job.any_running() else FULL_COLLECTION_GAP_S
            if time.monotonic() - self.last_full_collection >= gap:
                gc.collect(2)
                self.last_full_collection = time.monotonic()
