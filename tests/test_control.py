import pytest

from vae.common.control import QUIET, Cancelled, Control, TerminalControl


def test_a_plain_control_never_stops_and_reports_nothing():
    assert not QUIET.should_stop()
    QUIET.check()
    QUIET.progress(1, 2, "x")
    QUIET.log("nothing happens")


def test_a_control_passes_each_call_to_its_function():
    heard, said, asked = [], [], []
    control = Control(lambda: len(asked) > 1, lambda d, t, w: heard.append((d, t, w)), said.append)
    control.progress(3, 4, "faces")
    control.log("hello")
    assert heard == [(3, 4, "faces")] and said == ["hello"]
    asked.append(1)
    control.check()
    asked.append(1)
    with pytest.raises(Cancelled):
        control.check()


def test_a_terminal_control_logs_to_stderr_and_draws_one_bar_per_stretch(capsys):
    control = TerminalControl(bars=True)
    control.log("preparing")
    for done in (0, 5, 10):
        control.progress(done, 10, "generating faces")
    for done in (2, 4):
        control.progress(done, 4, "preparing faces at 64px")
    err = capsys.readouterr().err
    assert "preparing\n" in err
    assert "generating faces" in err and "10/10" in err and "preparing faces at 64px" in err and "4/4" in err


def test_a_terminal_control_without_bars_prints_no_progress(capsys):
    control = TerminalControl(lambda: True, bars=False)
    control.progress(5, 10, "generating faces")
    assert capsys.readouterr().err == ""
    with pytest.raises(Cancelled):
        control.check()


def test_a_terminal_control_ends_a_bar_left_by_work_that_stopped_part_way(capsys):
    with pytest.raises(Cancelled):
        with TerminalControl(lambda: True, bars=True) as control:
            control.progress(3, 10, "generating faces")
            control.log("stopping")
            control.check()
    err = capsys.readouterr().err
    assert "stopping\n" in err and "3/10" in err and err.endswith("\n")  # the bar was ended, not left open
