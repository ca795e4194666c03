"""The process pool behind dataset preparation: however it is stopped, nothing is left to hang the exit."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import child_processes, process_gone
from vae.common.control import Cancelled
from vae.common.parallel import ordered_map

ROOT = Path(__file__).resolve().parents[1]
BIG = 4_000_000  # a chunk's result far larger than a pipe holds, so it is still being sent when the pool stops


def big_result(job: int) -> bytes:
    return bytes(BIG)


def all_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not all(process_gone(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def pool_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if type(t).__name__ == "_ExecutorManagerThread"]


def test_results_come_back_in_order_from_several_workers():
    assert list(ordered_map(abs, list(range(-50, 0)), workers=2, chunk=4)) == list(range(50, 0, -1))


def test_the_preparation_jobs_modules_import_no_torch():
    # spawned workers import the module of their job: torch would add seconds to every start and to Stop
    code = (
        "import sys, vae.data.folder, vae.data.synth; "
        "print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.stdout == "[]\n", proc.stderr


HELD = threading.Lock()


def under_the_lock(job: int) -> int:
    with HELD:
        return job


def test_a_lock_held_by_another_thread_is_not_inherited_by_the_workers():
    # The app prepares data on a worker thread while other threads run. Workers forked from this
    # process would start with HELD locked for ever; spawned workers start clean.
    taken, release = threading.Event(), threading.Event()

    def hold():
        with HELD:
            taken.set()
            release.wait(120)

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(10)
    deadline = time.monotonic() + 60
    try:
        results = list(
            ordered_map(
                under_the_lock, list(range(40)), workers=2, chunk=4, should_stop=lambda: time.monotonic() > deadline
            )
        )
    finally:
        release.set()
        holder.join()
    assert results == list(range(40))


@pytest.mark.parametrize("trial", range(3))
def test_cancelling_while_results_are_in_flight_leaves_no_pool_behind(trial):
    received = []
    with pytest.raises(Cancelled):
        for item in ordered_map(
            big_result, list(range(64)), workers=2, chunk=2, should_stop=lambda: len(received) >= 3
        ):
            received.append(len(item))
    assert 3 <= len(received) < 64 and set(received) == {BIG}
    assert multiprocessing.active_children() == []
    assert pool_threads() == []  # a manager thread still waiting on half a result would block the interpreter's exit


def test_a_consumer_that_stops_early_leaves_no_pool_behind():
    results = ordered_map(big_result, list(range(64)), workers=2, chunk=2)
    next(results)
    results.close()
    assert multiprocessing.active_children() == [] and pool_threads() == []


SCRIPT = textwrap.dedent("""
    import signal
    import sys
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if started in the background
    sys.path.insert(0, {root!r})
    from tests.test_parallel import big_result
    from vae.common.parallel import ordered_map
    for n, item in enumerate(ordered_map(big_result, list(range(4000)), workers=2, chunk=2)):  # 16 GB: runs on
        if n == 2:
            print("running", flush=True)
""")


def start_mapping() -> tuple[subprocess.Popen, list[int]]:
    """A process in its own session running SCRIPT, once its map is under way, and every process it
    started: its two workers and multiprocessing's resource tracker."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(root=str(ROOT))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout.readline() == "running\n"
        workers = child_processes(proc.pid)
        assert len(workers) == 3
    except BaseException:
        proc.kill()
        raise
    return proc, workers


def test_workers_ignore_group_signals_and_the_interrupted_parent_exits():
    proc, workers = start_mapping()
    try:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches every process of the group
        assert proc.wait(60) != 0
    finally:
        proc.kill()
    _, err = proc.communicate()
    assert "KeyboardInterrupt" in err
    assert all_gone(workers, timeout=10)


def test_workers_end_when_their_parent_is_killed():
    proc, workers = start_mapping()
    proc.kill()
    proc.communicate(timeout=10)
    assert all_gone(workers, timeout=20)


def test_workers_still_starting_when_their_parent_is_killed_end_too():
    # A spawned worker takes a moment to start; killed before it is up, the parent must not leave it orphaned.
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(root=str(ROOT))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(child_processes(proc.pid)) < 3:  # the resource tracker and both workers have been started
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.01)
        started = child_processes(proc.pid)
    finally:
        proc.kill()
        proc.wait(10)
    assert all_gone(started, timeout=20)


def dies_at_seven(job: int) -> bytes:
    if job == 7:
        os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
    return bytes(BIG)


DYING = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from concurrent.futures.process import BrokenProcessPool
    from tests.test_parallel import dies_at_seven
    from vae.common.parallel import ordered_map
    try:
        for item in ordered_map(dies_at_seven, list(range(64)), workers=2, chunk=2):
            pass
    except BrokenProcessPool:
        print("broken", flush=True)
""")


def test_a_worker_that_dies_breaks_the_map_instead_of_hanging_it():
    proc = subprocess.run(
        [sys.executable, "-c", DYING.format(root=str(ROOT))], capture_output=True, text=True, timeout=120
    )
    assert proc.stdout == "broken\n" and proc.returncode == 0, proc.stderr
