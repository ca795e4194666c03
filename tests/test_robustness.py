"""Faults and bad input, through the real entry points: train_cli.py, python -m vae.data.synth, main.py, the API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.helpers import write_bad_files, write_good_faces
from vae.common.interrupts import StopThenAbort, Terminated, stop_between_chunks
from vae.data.folder import ImageLoadError, load_image
from vae.explore import export
from vae.model import checkpoint
from vae.model.checkpoint import CheckpointError

ROOT = Path(__file__).resolve().parents[1]
# a small, narrow model: fast, and at --lr 10 its loss overflows in the third epoch (test 5; CPU runs are seeded)
SMALL = ["--batch-size", "8", "--latent-dim", "4", "--base-channels", "8", "--decoder-width", "1", "--device", "cpu"]


def env_for(tmp_path: Path) -> dict:
    return {
        **os.environ,
        "FACE_EXPLORER_CACHE": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    }


def cli(tmp_path, *args, timeout=300):
    return subprocess.run(
        [sys.executable, str(ROOT / "train_cli.py"), *args],
        capture_output=True,
        text=True,
        env=env_for(tmp_path),
        timeout=timeout,
    )


def one_error_line(stderr: str) -> str:
    """The CLI's message: exactly one line starting with 'error:', and no traceback."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


# 1 ------------------------------------------------------------------------------------------
def test_training_skips_bad_files_and_reports_them(tmp_path):
    folder = tmp_path / "mixed"
    write_good_faces(folder, 16, size=64)
    expected = write_bad_files(folder)
    proc = cli(tmp_path, "--data", str(folder), "--epochs", "1", "--out", str(tmp_path / "run"), *SMALL)
    assert proc.returncode == 0, proc.stderr
    skipped = [name for name, outcome in expected.items() if outcome == "skip"]
    assert f"skipped unreadable {len(skipped)} file(s)" in proc.stderr
    assert "loaded without labels (malformed CSV) 1 file(s): badcsv.png" in proc.stderr
    ckpt = checkpoint.load(tmp_path / "run" / "best.pt")
    assert ckpt.dataset["count"] == 16 + sum(outcome == "load" for outcome in expected.values())
    assert "warning: only " in proc.stderr and "too few to learn faces from" in proc.stderr  # the app's warning too
    again = cli(tmp_path, "--data", str(folder), "--epochs", "1", "--out", str(tmp_path / "again"), *SMALL)
    assert again.returncode == 0, again.stderr  # the folder's cache is read now, not built: the same notes
    assert f"skipped unreadable {len(skipped)} file(s)" in again.stderr and "malformed CSV" in again.stderr


# 2 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["empty", "missing", "file", "unreadable"])
def test_unusable_data_folders_exit_2(tmp_path, kind, monkeypatch, capsys):
    target = tmp_path / "data"
    if kind == "empty":
        target.mkdir()
    elif kind == "file":
        target.write_text("not a folder")
    elif kind == "unreadable":
        write_good_faces(target, 2, size=64)
        if os.geteuid() == 0:  # root reads anything: make the permission check see what a user would
            real_access = os.access
            monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == target else real_access(p, mode))
        else:
            target.chmod(0)
    if kind == "unreadable":
        import train_cli

        try:
            code = train_cli.main(["--data", str(target), "--out", str(tmp_path / "run"), *SMALL])
        finally:
            target.chmod(0o755)
        message = one_error_line(capsys.readouterr().err)
    else:
        proc = cli(tmp_path, "--data", str(target), "--out", str(tmp_path / "run"), *SMALL)
        code, message = proc.returncode, one_error_line(proc.stderr)
    assert code == 2
    assert str(target) in message
    reason = {"empty": "no PNG", "missing": "does not exist", "file": "is a file", "unreadable": "permission denied"}[
        kind
    ]
    assert reason in message


# 3 and 4 ------------------------------------------------------------------------------------
class Watcher:
    """Reads a process's stderr in a thread so a test can wait for a given text."""

    def __init__(self, proc):
        self.proc = proc
        self.text = ""
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            chunk = self.proc.stderr.read(64)
            if not chunk:
                break
            with self.changed:
                self.text += chunk
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, needle: str, timeout: float = 180) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: needle in self.text or self.proc.poll() is not None, timeout), needle
        assert needle in self.text, self.text[-2000:]


def start_training(tmp_path, folder, out, epochs, *extra):
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "train_cli.py"),
            "--data",
            str(folder),
            "--epochs",
            str(epochs),
            "--out",
            str(out),
            "--seed",
            "5",
            *SMALL,
            *extra,
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env_for(tmp_path),
    )


def resume_and_compare(tmp, folder, out, reference, atol):
    """Resume the run in ``out`` to the end and check it matches the uninterrupted ``reference``."""
    resumed = cli(tmp, "--data", str(folder), "--epochs", "3", "--out", str(out), "--seed", "5", "--resume", *SMALL)
    assert resumed.returncode == 0, resumed.stderr
    a, b = checkpoint.load(reference).model.state_dict(), checkpoint.load(out / "last.pt").model.state_dict()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=atol) for k in a)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """An uninterrupted 3-epoch run to compare resumed runs against."""
    tmp = tmp_path_factory.mktemp("reference")
    folder = tmp / "faces"
    write_good_faces(folder, 48, size=64)
    proc = cli(tmp, "--data", str(folder), "--epochs", "3", "--out", str(tmp / "run"), "--seed", "5", *SMALL)
    assert proc.returncode == 0, proc.stderr
    return tmp, folder, tmp / "run" / "last.pt"


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(reference_run, tmp_path):
    ref_tmp, folder, ref_last = reference_run
    out = tmp_path / "run"
    proc = start_training(ref_tmp, folder, out, 3)
    watcher = Watcher(proc)
    watcher.wait_for("epoch 2/3")  # epoch 1 is saved and epoch 2 has started
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ckpt = checkpoint.load(out / "last.pt")  # never half-written
    assert ckpt.training["epoch"] == 1 and ckpt.training["step"] == 0
    assert not list(out.glob("*.tmp"))
    resume_and_compare(ref_tmp, folder, out, ref_last, atol=1e-6)


def test_sigint_saves_exits_130_and_resumes(reference_run, tmp_path):
    ref_tmp, folder, ref_last = reference_run
    out = tmp_path / "run"
    proc = start_training(ref_tmp, folder, out, 3)
    watcher = Watcher(proc)
    watcher.wait_for("epoch 2/3")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    watcher.wait_for("--resume")
    assert "Traceback" not in watcher.text
    state = checkpoint.load(out / "last.pt").training
    assert state["epoch"] >= 1
    resume_and_compare(ref_tmp, folder, out, ref_last, atol=1e-5)


def test_a_second_signal_aborts_without_a_traceback(reference_run, tmp_path):
    ref_tmp, folder, _ = reference_run
    out = tmp_path / "run"
    proc = start_training(
        ref_tmp, folder, out, 3, "--batch-size", "48", "--base-channels", "32", "--full-res-channels", "16"
    )
    watcher = Watcher(proc)
    watcher.wait_for("epoch 2/3")
    # Both signals wait while the process is stopped, so the second one comes before the step can end:
    # Python handles SIGINT first (finish the step), then SIGTERM (abort).
    proc.send_signal(signal.SIGSTOP)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGCONT)
    assert proc.wait(timeout=120) == 143
    watcher.wait_for("--resume")
    assert "Traceback" not in watcher.text and "Ctrl-C again to abort" in watcher.text
    assert f"error: aborted (the last saved checkpoint is {out / 'last.pt'})" in watcher.text
    assert checkpoint.load(out / "last.pt").training["epoch"] >= 1  # the saved one is whole
    assert not [p.name for p in out.iterdir() if p.name.startswith(".~")]  # no temporary file left behind
    resumed = cli(
        ref_tmp,
        "--data",
        str(folder),
        "--epochs",
        "3",
        "--out",
        str(out),
        "--seed",
        "5",
        "--resume",
        *SMALL,
        "--batch-size",
        "48",
        "--base-channels",
        "32",
        "--full-res-channels",
        "16",
    )  # the lock was released
    assert resumed.returncode == 0, resumed.stderr


@pytest.mark.parametrize(("second", "raised"), [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Terminated)])
def test_the_first_signal_stops_and_the_second_raises(second, raised):
    calls = []
    handler = StopThenAbort(lambda: calls.append("stop"), lambda signum: calls.append(signum))
    handler(signal.SIGINT, None)
    assert calls == [signal.SIGINT, "stop"] and not handler.terminated
    with pytest.raises(raised):
        handler(second, None)
    assert calls == [signal.SIGINT, "stop"]


def test_work_with_worker_processes_hears_the_first_signal_as_a_request_and_the_second_at_once():
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    announced = []
    with pytest.raises(Terminated):
        with stop_between_chunks(announced.append) as handler:
            os.kill(os.getpid(), signal.SIGTERM)  # Python runs the handler before the next line
            assert handler.requested and handler.terminated  # recorded and announced, nothing raised mid-work
            assert announced == [signal.SIGTERM]
            os.kill(os.getpid(), signal.SIGTERM)
    assert {signum: signal.getsignal(signum) for signum in before} == before


def test_a_signal_that_comes_as_the_work_ends_still_cancels_it():
    from vae.common.control import Cancelled

    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(Cancelled):
        with stop_between_chunks(lambda signum: None):
            os.kill(os.getpid(), signal.SIGINT)  # after the last poll: nothing stops the block itself
    assert {signum: signal.getsignal(signum) for signum in before} == before


def test_synth_cli_stops_between_chunks_on_sigterm_without_a_traceback(tmp_path):
    from tests.helpers import child_processes

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vae.data.synth",
            "--out",
            str(tmp_path / "faces"),
            "--count",
            "3000",
            "--size",
            "256",
            "--workers",
            "2",
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(child_processes(proc.pid)) < 2:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "Traceback" not in err and f"interrupted: the faces written so far are in {tmp_path / 'faces'}" in err
    assert len(list((tmp_path / "faces").glob("cs*.png"))) < 3000


# 5 ------------------------------------------------------------------------------------------
def test_non_finite_loss_stops_and_keeps_best(reference_run, tmp_path):
    ref_tmp, folder, _ = reference_run
    out = tmp_path / "run"
    assert cli(ref_tmp, "--data", str(folder), "--epochs", "1", "--out", str(out), *SMALL).returncode == 0
    best = (out / "best.pt").read_bytes()
    proc = cli(
        ref_tmp, "--data", str(folder), "--epochs", "4", "--lr", "10", "--out", str(out), "--resume", "--force", *SMALL
    )  # --force: the learning rate differs from the run's
    assert proc.returncode == 2
    message = one_error_line(proc.stderr)
    assert "non-finite" in message and "best.pt" in message
    assert (out / "best.pt").read_bytes() == best


# 6 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["random", "truncated", "state_dict", "latent", "size", "code"])
def test_bad_checkpoints_at_the_app(case, tmp_path, tiny_model):
    path = tmp_path / f"{case}.pt"
    marker = tmp_path / "ran"
    if case == "random":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    elif case == "truncated":
        checkpoint.save(path, tiny_model)
        path.write_bytes(path.read_bytes()[:3000])
    elif case == "state_dict":
        torch.save(tiny_model.state_dict(), path)
    elif case in ("latent", "size"):
        checkpoint.save(path, tiny_model)
        payload = torch.load(path, weights_only=True)
        payload["config"]["latent_dim" if case == "latent" else "image_size"] = 16 if case == "latent" else 128
        torch.save(payload, path)
    else:
        path.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--checkpoint", str(path), "--screenshot", str(tmp_path / "x.png")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env_for(tmp_path), "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.returncode == 2
    message = one_error_line(proc.stderr)
    assert str(path) in message
    assert not marker.exists() and not (tmp_path / "x.png").exists()
    with pytest.raises(CheckpointError):
        checkpoint.load(path)


# 7 ------------------------------------------------------------------------------------------
def test_exports_to_bad_places_fail_cleanly(tmp_path, monkeypatch):
    face = torch.rand(3, 64, 64)
    with pytest.raises(export.ExportError, match="does not exist"):
        export.save_face(tmp_path / "no" / "such" / "f.png", face, 64)
    frames = torch.rand(4, 3, 16, 16)
    with pytest.raises(export.ExportError, match="is a file"):
        (tmp_path / "plain").write_text("x")
        export.save_gif(tmp_path / "plain" / "m.gif", frames)

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # the data cannot reach the disk
    with pytest.raises(export.ExportError, match=f"no space left on {tmp_path / 'full.png'}"):
        export.save_face(tmp_path / "full.png", face, 64, latent=torch.zeros(4))
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]


def test_gui_export_asks_before_replacing(make_window, tiny_checkpoint, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from gui import dialogs

    win = make_window(tiny_checkpoint)
    target = tmp_path / "face.png"
    target.write_bytes(b"precious")
    monkeypatch.setattr(dialogs, "choose", lambda dialog: str(target))
    answers = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: answers.append(box.text()) or QMessageBox.StandardButton.No)
    win.explore.ask_export()
    assert answers and "already exists" in answers[0]
    assert target.read_bytes() == b"precious"
    monkeypatch.setattr(QMessageBox, "exec", lambda box: QMessageBox.StandardButton.Yes)
    win.explore.ask_export()
    with Image.open(target) as im:
        assert im.format == "PNG"


# 8 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "flag,value",
    [
        ("--epochs", "-3"),
        ("--batch-size", "0"),
        ("--latent-dim", "0"),
        ("--image-size", "100"),
        ("--lr", "0"),
        ("--beta", "-1"),
    ],
)
def test_bad_numbers_exit_2_naming_the_flag(flag, value, tmp_path):
    proc = cli(tmp_path, flag, value)
    assert proc.returncode == 2
    assert f"argument {flag}" in proc.stderr and "Traceback" not in proc.stderr


def test_synth_cli_rejects_bad_arguments(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "vae.data.synth", "--out", str(tmp_path), "--count", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2 and "--count" in proc.stderr and "Traceback" not in proc.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = subprocess.run(
        [sys.executable, "-m", "vae.data.synth", "--out", str(blocker / "sub"), "--count", "2"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2 and "cannot write" in proc.stderr and "Traceback" not in proc.stderr


# 10 -----------------------------------------------------------------------------------------
MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I", "F", "CMYK"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    width=st.integers(1, 90),
    height=st.integers(1, 90),
    mode=st.sampled_from(MODES),
    fmt=st.sampled_from(["PNG", "JPEG", "WEBP"]),
    seed=st.integers(0, 2**16),
    size=st.sampled_from([64, 128]),
)
def test_load_image_never_fails_unexpectedly(tmp_path_factory, width, height, mode, fmt, seed, size):
    rng = np.random.default_rng(seed)
    base = Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA")
    if mode in ("I;16", "I", "F"):
        image = Image.fromarray(
            rng.integers(0, 65535, (height, width)).astype(np.uint16 if mode == "I;16" else np.int32)
        )
        if mode == "F":
            image = image.convert("F")
    else:
        image = base.convert(mode)
    path = tmp_path_factory.mktemp("img") / f"x.{fmt.lower()}"
    try:
        image.save(path, format=fmt)
    except (OSError, ValueError, KeyError):
        return  # Pillow cannot write this mode in this format; nothing to read back
    try:
        x = load_image(path, size)
    except ImageLoadError as exc:
        assert str(path) in str(exc)
        return
    assert x.shape == (3, size, size) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1


def test_the_app_quits_on_sigterm_keeping_the_work(tiny_checkpoint, tmp_path):
    log = tmp_path / "app.log"
    env = {
        **env_for(tmp_path),
        "QT_QPA_PLATFORM": "offscreen",
        "FACE_EXPLORER_LOG": str(log),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "--checkpoint", str(tiny_checkpoint)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (log.exists() and "window open on" in log.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)  # a logout: the app closes as Ctrl+Q would
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err
    assert "quitting on signal" in log.read_text()
    assert len(list((tmp_path / "state" / "face-explorer" / "work").glob("*.json"))) == 1  # the work was kept


def test_a_screenshot_neither_reads_nor_changes_the_users_settings(tiny_checkpoint, tmp_path):
    config = tmp_path / "config"
    remembered = config / "FaceExplorer" / "FaceExplorer.conf"
    remembered.parent.mkdir(parents=True)
    remembered.write_text("[map]\nprojection=tsne\n")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--checkpoint", str(tiny_checkpoint), "--panel", "map"]
        + ["--screenshot", str(tmp_path / "s.png")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env_for(tmp_path), "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(config)},
    )
    assert proc.returncode == 0, proc.stderr
    assert remembered.read_text() == "[map]\nprojection=tsne\n" and (tmp_path / "s.png").exists()
