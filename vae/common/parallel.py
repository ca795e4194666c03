"""Ordered parallel map over process workers that can be cancelled and cleans up after itself.

Dataset preparation (generating the built-in faces, preprocessing a folder) runs through
:func:`ordered_map`: results come back in job order, ``should_stop`` is polled while waiting, and
however the iteration ends (finished, cancelled, an error, Ctrl-C, the consumer closing it) no
worker process is left running.

Workers are fresh interpreters (``spawn``), never forks of the caller: the app prepares data on a
worker thread while Qt's and torch's threads run, and ``fork`` copies whatever locks those threads
hold at that moment into the child, where nobody will ever release them. Starting them takes about
half a second, once per map, because the jobs' modules (``vae.data.folder``, ``vae.data.synth``) import no torch.
"""

from __future__ import annotations

import collections
import itertools
import math
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Iterator, Sequence

from .control import Cancelled, Control
from .interrupts import STOP_SIGNALS, handle

POLL_SECONDS = 0.1
PARENT_POLL_SECONDS = 1.0
STOP_GRACE_SECONDS = 30.0


class Throttle:
    """Passes progress on to ``control.progress(done, total, what)`` at most every ``interval`` seconds (and at the
    end)."""

    def __init__(self, control: Control, total: int, what: str, interval: float = 0.1):
        self.control, self.total, self.what, self.interval = control, total, what, interval
        self.last = -math.inf

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if done >= self.total or now - self.last >= self.interval:
            self.last = now
            self.control.progress(done, self.total, self.what)


def _worker_init(parent: int) -> None:
    # Signals sent to the whole process group are the parent's to act on: it stops the workers
    # between chunks (see _stop).
    handle(STOP_SIGNALS, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker once ``parent``, the process that started it, is gone (killed, say; perhaps
    while this worker was still starting): no orphan is left running."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def _run_chunk(func: Callable, chunk: Sequence) -> list:
    return [func(job) for job in chunk]


def _submit(pool: ProcessPoolExecutor, func: Callable, chunk: Sequence):
    """``pool.submit``, with SIGINT, SIGTERM and SIGHUP blocked in this thread while it may start a worker.

    A started worker inherits the mask, so a Ctrl-C sent to the whole process group cannot kill it
    while it is still importing (with a traceback) before :func:`_worker_init` ignores such signals;
    signals meant for this process arrive once they are unblocked.
    """
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks, and no process groups to signal
        return pool.submit(_run_chunk, func, chunk)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, set(STOP_SIGNALS))
    try:
        return pool.submit(_run_chunk, func, chunk)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Drop the queued chunks, let those handed to workers finish, and wait until the pool has wound down.

    A worker is never killed while it may be sending a result: the pool's manager thread would wait
    for the rest of that message for ever, and the interpreter's exit with it. Survivors are killed
    only once the pool is broken (a worker died, so no result is read any more) or after
    STOP_GRACE_SECONDS (a job that never returns).
    """
    manager = pool._executor_manager_thread
    processes = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while manager is not None and manager.is_alive():
        manager.join(POLL_SECONDS)
        if pool._broken or time.monotonic() > deadline:
            for process in processes:
                if process.is_alive():
                    process.kill()


def ordered_map(
    func: Callable, jobs: Sequence, workers: int, chunk: int = 16, should_stop: Callable[[], bool] | None = None
) -> Iterator:
    """Yield ``func(job)`` for every job, in order, on ``workers`` processes (in-process when 1).

    Raises :class:`Cancelled` soon after ``should_stop()`` returns true. At most ``2 × workers``
    chunks are in flight, so memory stays bounded however many jobs there are.
    """
    stop = should_stop or (lambda: False)
    if workers <= 1 or len(jobs) <= chunk:
        for job in jobs:
            if stop():
                raise Cancelled()
            yield func(job)
        return
    chunks = iter([jobs[i : i + chunk] for i in range(0, len(jobs), chunk)])
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init, initargs=(os.getpid(),)
    )
    try:
        pending = collections.deque(_submit(pool, func, c) for c in itertools.islice(chunks, 2 * workers))
        while pending:
            head = pending[0]
            if stop():
                raise Cancelled()
            while not head.done():
                wait([head], timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                if stop():
                    raise Cancelled()
            pending.popleft()
            results = head.result()
            following = next(chunks, None)
            if following is not None:
                pending.append(_submit(pool, func, following))
            yield from results
    finally:
        _stop(pool)
