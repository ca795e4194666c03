"""Faults and bad input through the real entry points: run folders, signals, full disks, unwritable places."""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import write_good_faces
from vae import checkpoint

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--batch-size", "8", "--latent-dim", "4", "--base-channels", "8", "--device", "cpu"]


def cli(*args, cache):
    """``train_cli.main`` in this process (torch is imported once for all tests): its exit code and stderr."""
    import train_cli

    saved_env = os.environ.get("FACE_EXPLORER_CACHE")
    saved_signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    os.environ["FACE_EXPLORER_CACHE"] = str(cache)
    stderr, sys.stderr = sys.stderr, io.StringIO()
    try:
        code = train_cli.main([str(a) for a in args])
        return subprocess.CompletedProcess(args, code, "", sys.stderr.getvalue())
    finally:
        sys.stderr = stderr
        for s, handler in saved_signals.items():
            signal.signal(s, handler)
        if saved_env is None:
            del os.environ["FACE_EXPLORER_CACHE"]
        else:
            os.environ["FACE_EXPLORER_CACHE"] = saved_env


def one_line_error(proc, code=2):
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == code, proc.stderr
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faces") / "faces"
    write_good_faces(folder, 24, size=64)
    return folder


@pytest.fixture(scope="module")
def finished_run(faces, tmp_path_factory):
    """A one-epoch run made through the CLI; tests copy it before changing it."""
    root = tmp_path_factory.mktemp("run")
    proc = cli("--data", str(faces), *SMALL, "--epochs", "1", "--out", str(root / "run"), cache=root / "cache")
    assert proc.returncode == 0, proc.stderr
    return root / "run"


def copy_run(run: Path, target: Path) -> Path:
    target.mkdir()
    for path in run.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


# ---------------------------------------------------------------- class 3: run folders
def test_new_run_into_a_run_folder_is_refused_and_overwrite_replaces_it(faces, finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path / "run")
    best = (run / "best.pt").read_bytes()
    proc = cli("--data", str(faces), *SMALL, "--epochs", "1", "--out", str(run), cache=tmp_path / "c")
    line = one_line_error(proc)
    assert f"{run} already holds a run" in line and "--resume" in line
    assert (run / "best.pt").read_bytes() == best
    proc = cli("--data", str(faces), *SMALL, "--epochs", "1", "--seed", "9", "--out", str(run), "--overwrite",
               cache=tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert (run / "best.pt").read_bytes() != best and not (run / "run.lock").exists()


@pytest.mark.parametrize("change,expected", [(["--batch-size", "4"], "batch_size=8 → 4"),
                                             (["--lr", "0.002"], "lr=0.001 → 0.002"),
                                             (["--limit", "20"], "data count: 24 → 20")])
def test_resume_with_changed_settings_names_them_and_needs_force(faces, finished_run, tmp_path, change, expected):
    run = copy_run(finished_run, tmp_path / "run")
    args = ["--data", str(faces), *SMALL, "--epochs", "2", "--out", str(run), "--resume"]
    last = (run / "last.pt").read_bytes()
    proc = cli(*args, *change, cache=tmp_path / "c")
    line = one_line_error(proc)
    assert expected in line and "--force" in line
    assert (run / "last.pt").read_bytes() == last
    proc = cli(*args, *change, "--force", cache=tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert "--force: continuing" in proc.stderr and len(checkpoint.load(run / "last.pt").history) == 2


def test_resume_with_another_architecture_is_refused_even_with_force(faces, finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path / "run")
    proc = cli("--data", str(faces), *SMALL, "--latent-dim", "6", "--epochs", "2", "--out", str(run), "--resume",
               "--force", cache=tmp_path / "c")
    assert "latent_dim=4, not 6" in one_line_error(proc)


def test_a_live_lock_refuses_a_second_run_and_a_stale_one_is_taken_over(faces, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        (run / "run.lock").write_text(f'{{"pid": {holder.pid}, "host": "{os.uname().nodename}"}}')
        proc = cli("--data", str(faces), *SMALL, "--epochs", "1", "--out", str(run), cache=tmp_path / "c")
        assert f"in use by another training run (PID {holder.pid}" in one_line_error(proc)
    finally:
        holder.communicate(b"")
    proc = cli("--data", str(faces), *SMALL, "--epochs", "1", "--out", str(run), cache=tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert f"removed a stale lock {run / 'run.lock'} left by PID {holder.pid}" in proc.stderr
    assert not (run / "run.lock").exists()


def test_lock_keeps_two_trainers_out_of_one_folder(faces, tmp_path):
    from vae.cache import open_folder
    from vae.model import VAEConfig
    from vae.train import RunFolderError, TrainConfig, Trainer

    data = open_folder(faces, 64, workers=1, cache_dir=tmp_path / "c")
    config = TrainConfig(model=VAEConfig(latent_dim=4, base_channels=8), epochs=1, batch_size=8, device="cpu")
    started, errors = threading.Event(), []
    first = Trainer(config, data, tmp_path / "run", on_step=lambda e: started.set())
    first.pause()
    thread = threading.Thread(target=first.run)
    thread.start()
    try:
        assert _wait_for(lambda: (tmp_path / "run" / "run.lock").exists())
        with pytest.raises(RunFolderError, match="in use by another training run"):
            Trainer(config, data, tmp_path / "run").run(overwrite=True)
    finally:
        first.unpause()
        thread.join(60)
    assert not errors and not (tmp_path / "run" / "run.lock").exists()


def _wait_for(condition, timeout=60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# ---------------------------------------------------------------- class 1: unwritable and full places
def test_out_under_a_file_is_one_line_exit_2(faces, tmp_path):
    (tmp_path / "file").write_text("x")
    proc = cli("--data", str(faces), *SMALL, "--epochs", "1", "--out", str(tmp_path / "file" / "run"),
               cache=tmp_path / "c")
    assert "file" in one_line_error(proc)


@pytest.mark.skipif(os.geteuid() == 0, reason="permissions do not stop root")
def test_out_in_a_read_only_folder_is_one_line_exit_2(faces, tmp_path):
    place = tmp_path / "ro"
    place.mkdir()
    place.chmod(0o500)
    try:
        proc = cli("--data", str(faces), *SMALL, "--epochs", "1", "--out", str(place / "run"), cache=tmp_path / "c")
    finally:
        place.chmod(0o700)
    assert "permission denied" in one_line_error(proc)


def test_cache_folder_under_a_file_is_one_line_exit_2(faces, tmp_path):
    (tmp_path / "file").write_text("x")
    proc = cli("--data", str(faces), *SMALL, "--epochs", "1", "--out", str(tmp_path / "run"),
               cache=tmp_path / "file" / "cache")
    assert "is a file, not a folder" in one_line_error(proc)


def test_full_disk_while_saving_a_checkpoint_is_one_line_exit_2(faces, tmp_path, monkeypatch):
    from vae import checkpoint as ckpt_mod

    real_save, calls = ckpt_mod.torch.save, []

    def save(payload, handle):
        calls.append(1)
        if len(calls) >= 3:  # epoch 1 writes last.pt and best.pt; the disk fills up in epoch 2
            handle.write(b"x" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(payload, handle)

    monkeypatch.setattr(ckpt_mod.torch, "save", save)
    run = tmp_path / "run"
    line = one_line_error(cli("--data", faces, *SMALL, "--epochs", "3", "--out", run, cache=tmp_path / "c"))
    assert f"no space left on {run / 'last.pt'}: need about" in line and "last saved checkpoint" in line
    assert len(checkpoint.load(run / "last.pt").history) == 1  # the epoch-1 checkpoint is intact
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []
    assert not (run / "run.lock").exists()


# ---------------------------------------------------------------- class 4: signals
def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


class Stderr:
    """Collects a process's stderr on a thread so a test can wait for a line."""

    def __init__(self, proc):
        self.text = ""
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc):
        for line in proc.stderr:
            self.text += line


def test_sigterm_during_training_saves_a_resumable_checkpoint(faces, tmp_path):
    env = {**os.environ, "FACE_EXPLORER_CACHE": str(tmp_path / "c")}
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(ROOT / "train_cli.py"), "--data", str(faces), *SMALL,
                             "--epochs", "500", "--out", str(run)], stderr=subprocess.PIPE, text=True, env=env)
    err = Stderr(proc)
    try:
        assert _wait_for(lambda: "training on 24 images" in err.text, timeout=300), err.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(300) == 143
    finally:
        proc.kill()
    err.thread.join(10)
    assert "Traceback" not in err.text and "terminated; resume with:" in err.text
    state = checkpoint.load(run / "last.pt").training
    assert state["epoch"] < 500 and not (run / "run.lock").exists()


@pytest.fixture(scope="module")
def big_faces(tmp_path_factory):
    folder = tmp_path_factory.mktemp("big") / "faces"
    write_good_faces(folder, 240, size=256)
    return folder


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_dataset_preparation_stops_workers_and_cleans_up(big_faces, tmp_path, signum, code):
    folder = big_faces
    cache = tmp_path / "c"
    env = {**os.environ, "FACE_EXPLORER_CACHE": str(cache)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "train_cli.py"), "--data", str(folder), *SMALL,
                             "--image-size", "128", "--out", str(tmp_path / "run")],
                            stderr=subprocess.PIPE, text=True, env=env)
    err = Stderr(proc)
    try:
        building = lambda: any(p.name.endswith(".tmp") for p in (cache / "datasets").glob("*"))  # noqa: E731
        assert _wait_for(lambda: building() and len(_children(proc.pid)) >= 2, timeout=300), err.text
        workers = _children(proc.pid)
        proc.send_signal(signum)
        assert proc.wait(60) == code
    finally:
        proc.kill()
    err.thread.join(10)
    assert "Traceback" not in err.text
    assert [line for line in err.text.splitlines() if line.strip()] == [
        "error: interrupted while preparing the dataset; nothing was trained (the partial cache was removed)"]
    assert _wait_for(lambda: all(_gone(pid) for pid in workers), timeout=10)
    assert list((cache / "datasets").iterdir()) == []
