"""How long work is steered and heard from: one :class:`Control` passed whole, and :class:`Cancelled`.

Every function that may take long (preparing a dataset, generating faces, encoding a map, t-SNE,
decoding traversals, a training run's preparation) takes a ``control``: it polls ``should_stop()``
and raises :class:`Cancelled` when it turns true, reports ``progress(done, total, what)`` and says
what it does through ``log(message)``. Command lines pass a :class:`TerminalControl`; the app's jobs
pass their own (``gui.workers.JobControl``).
"""

from __future__ import annotations

import sys
from typing import Callable


class Cancelled(Exception):
    """The work was stopped by its caller: its control's ``should_stop()`` turned true."""


class Control:
    """``should_stop()``, ``progress(done, total, what)`` and ``log(message)``, each backed by an optional function.

    ``Control()`` never stops and reports nothing.
    """

    def __init__(
        self,
        should_stop: Callable[[], bool] | None = None,
        progress: Callable[[int, int, str], None] | None = None,
        log: Callable[[str], None] | None = None,
    ):
        self._should_stop, self._progress, self._log = should_stop, progress, log

    def should_stop(self) -> bool:
        return bool(self._should_stop and self._should_stop())

    def check(self) -> None:
        """Raise :class:`Cancelled` if the work was asked to stop."""
        if self.should_stop():
            raise Cancelled()

    def progress(self, done: int, total: int, what: str = "") -> None:
        if self._progress:
            self._progress(done, total, what)

    def log(self, message: str) -> None:
        if self._log:
            self._log(message)


class TerminalControl(Control):
    """For command lines: messages on stderr and, when ``bars`` (default: stderr is a terminal), a tqdm bar for
    each stretch of work (a new ``what`` starts a new bar). Used as a context manager, it ends a bar left on screen
    by work that stopped part-way (cancelled, failed)."""

    def __init__(self, should_stop: Callable[[], bool] | None = None, bars: bool | None = None):
        super().__init__(should_stop)
        self.bars = sys.stderr.isatty() if bars is None else bars
        self._bar = None

    def progress(self, done: int, total: int, what: str = "") -> None:
        if not self.bars:
            return
        if self._bar is None or self._bar.desc != what or self._bar.total != total:
            self.close()
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=what, unit="img", file=sys.stderr)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self.close()

    def log(self, message: str) -> None:
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)  # above the bar, which is drawn again below it
        else:
            print(message, file=sys.stderr)

    def __enter__(self) -> "TerminalControl":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """End the bar on screen, if one is shown."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


QUIET = Control()
