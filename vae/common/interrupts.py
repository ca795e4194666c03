"""SIGTERM as an exception for the command-line tools, and their signal handlers kept to themselves.

Raised like KeyboardInterrupt, :class:`Terminated` lets every cleanup on the way out run (workers
stopped, temporaries removed, a checkpoint saved). :class:`StopThenAbort` is the handler of a long
job: the first signal asks it to stop cleanly, a second one aborts. :func:`own_signal_handlers` puts
the caller's handlers back when a tool's ``main`` returns, so running it in-process (as the tests do)
changes nothing. :func:`stop_between_chunks` is the handler of work that starts worker processes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable, Iterator

# SIGHUP (the terminal was closed) ends a job as SIGTERM does: cleanly, with a checkpoint
TERMINATING = (signal.SIGTERM,) + ((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ())
STOP_SIGNALS = (signal.SIGINT, *TERMINATING)


class Terminated(BaseException):
    """SIGTERM (or SIGHUP) arrived; raised like KeyboardInterrupt so that every cleanup on the way out runs."""


def raise_terminated(signum, frame) -> None:
    """A SIGTERM and SIGHUP handler that raises :class:`Terminated`."""
    raise Terminated()


def handle(signals, handler) -> None:
    """Set ``handler`` for each of ``signals``."""
    for signum in signals:
        signal.signal(signum, handler)


class StopThenAbort:
    """A handler of :data:`STOP_SIGNALS`: the first signal calls ``announce(signum)`` and ``stop()``, and
    the job finishes what it is doing; any later one raises at once (KeyboardInterrupt for SIGINT,
    :class:`Terminated` for SIGTERM and SIGHUP)."""

    def __init__(self, stop: Callable[[], None], announce: Callable[[int], None]):
        self.stop, self.announce = stop, announce
        self.first: int | None = None  # the first signal received

    def __call__(self, signum, frame) -> None:
        if self.first is not None:
            raise Terminated() if signum in TERMINATING else KeyboardInterrupt()
        self.first = signum
        self.announce(signum)
        self.stop()

    @property
    def requested(self) -> bool:
        """Whether a signal has asked the job to stop."""
        return self.first is not None

    @property
    def terminated(self) -> bool:
        """Whether the first signal was SIGTERM or SIGHUP."""
        return self.first in TERMINATING


@contextlib.contextmanager
def stop_between_chunks(announce: Callable[[int], None]) -> Iterator[StopThenAbort]:
    """SIGINT, SIGTERM and SIGHUP for a block that runs worker processes (dataset preparation, face generation).

    The first signal calls ``announce(signum)`` and is recorded: the block polls ``handler.requested``
    as its ``should_stop`` and stops between chunks; a block that ends anyway raises
    :class:`~vae.common.parallel.Cancelled` (the signal came as its work ended). Raised at once, the signal
    could land while a worker process is being started, which then dies on its half-sent start-up
    data and prints a traceback. A second signal raises at once. The previous handlers are back
    after the block.
    """
    from .control import Cancelled

    handler = StopThenAbort(lambda: None, announce)
    with own_signal_handlers():
        handle(STOP_SIGNALS, handler)
        yield handler
        if handler.requested:
            raise Cancelled()


def ended_by_sigterm(exc: BaseException, handler: StopThenAbort | None) -> bool:
    """Whether an interruption that raised ``exc`` came from SIGTERM: raised as :class:`Terminated`, or
    heard first by ``handler`` (a :func:`stop_between_chunks` block ended by a signal raises Cancelled)."""
    return isinstance(exc, Terminated) or handler is not None and handler.terminated


@contextlib.contextmanager
def own_signal_handlers() -> Iterator[None]:
    """Restore the handlers of :data:`STOP_SIGNALS` on the way out of the block, however it ends."""
    saved = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold :data:`STOP_SIGNALS` for a block that must not be cut in its middle (a checkpoint being written: a
    signal raised inside ``torch.save`` leaves its writer in a state it reports as a RuntimeError). Each signal
    that arrives meanwhile is delivered again, in order, to the handlers of before, once the block has ended (a
    handler that raises, as a second Ctrl-C's does, ends the deliveries there).
    Outside the main thread, where no handler can be set, the block just runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    try:
        with own_signal_handlers():
            handle(STOP_SIGNALS, lambda signum, frame: arrived.append(signum))
            yield
    finally:
        for signum in arrived:
            signal.raise_signal(signum)
