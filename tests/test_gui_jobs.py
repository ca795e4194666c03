"""A Job reports exactly one outcome, after its function has returned, however the call ends."""

import threading

import pytest

from gui.workers import Job
from vae.common.control import Cancelled


@pytest.fixture
def outcomes(qtbot):
    job = Job("test")
    seen = []
    job.finished.connect(lambda value: seen.append(("finished", value)))
    job.cancelled.connect(lambda: seen.append(("cancelled", None)))
    job.errored.connect(lambda exc: seen.append(("errored", str(exc))))
    yield job, seen
    qtbot.waitUntil(lambda: not Job.any_running(), timeout=10000)


def settle(qtbot, job, seen):
    qtbot.waitUntil(lambda: not job.busy and bool(seen), timeout=10000)
    qtbot.waitUntil(lambda: not Job.any_running(), timeout=10000)
    qtbot.wait(50)  # anything still queued would arrive now


def test_a_finished_call_reports_its_result_once(qtbot, outcomes):
    job, seen = outcomes
    job.start(lambda control: 42)
    settle(qtbot, job, seen)
    assert seen == [("finished", 42)]


def test_an_error_is_reported_once_as_the_exception(qtbot, outcomes):
    job, seen = outcomes

    def broken(control):
        raise ValueError("bad input")

    job.start(broken)
    settle(qtbot, job, seen)
    assert seen == [("errored", "bad input")]


def test_a_cancelled_call_reports_cancelled_once(qtbot, outcomes):
    job, seen = outcomes
    started = threading.Event()

    def loops(control):
        started.set()
        while True:
            control.check()
            threading.Event().wait(0.01)

    job.start(loops)
    started.wait(10)
    job.cancel()
    job.cancel()  # a second request changes nothing
    settle(qtbot, job, seen)
    assert seen == [("cancelled", None)]


def test_a_cancel_that_comes_after_the_function_returned_leaves_its_result(qtbot, outcomes):
    job, seen = outcomes
    returned = threading.Event()
    job.start(lambda control: returned.set() or "done")
    returned.wait(10)
    job.cancel()
    settle(qtbot, job, seen)
    assert seen == [("finished", "done")]


def test_an_abandoned_call_is_cancelled_at_once_and_its_late_result_is_dropped(qtbot, outcomes):
    job, seen = outcomes
    release = threading.Event()
    job.start(lambda control: release.wait(10) and "late")
    job.abandon()
    assert seen == [("cancelled", None)] and not job.busy  # at once, without waiting for the thread
    release.set()
    settle(qtbot, job, seen)
    assert seen == [("cancelled", None)]
    job.start(lambda control: "next")  # the job takes the next call as usual
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=10000)
    assert seen[-1] == ("finished", "next")


def test_a_cancelled_exception_raised_by_the_function_is_the_cancelled_outcome(qtbot, outcomes):
    job, seen = outcomes

    def gives_up(control):
        raise Cancelled()

    job.start(gives_up)
    settle(qtbot, job, seen)
    assert seen == [("cancelled", None)]
