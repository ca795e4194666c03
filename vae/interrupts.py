"""SIGTERM as an exception for the command-line tools, and their signal handlers kept to themselves.

Raised like KeyboardInterrupt, :class:`Terminated` lets every cleanup on the way out run (workers
stopped, temporaries removed, a checkpoint saved). :func:`own_signal_handlers` puts the caller's
handlers back when a tool's ``main`` returns, so running it in-process (as the tests do) changes nothing.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Iterator


class Terminated(BaseException):
    """SIGTERM arrived; raised like KeyboardInterrupt so that every cleanup on the way out runs."""


def raise_terminated(signum, frame) -> None:
    """A SIGTERM handler that raises :class:`Terminated`."""
    raise Terminated()


@contextlib.contextmanager
def own_signal_handlers() -> Iterator[None]:
    """Restore the SIGINT and SIGTERM handlers on the way out of the block, however it ends."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
