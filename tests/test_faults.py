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

from tests.helpers import child_processes, process_gone, write_good_faces
from vae.common.control import Control
from vae.model import checkpoint

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
        assert {s: signal.getsignal(s) for s in saved_signals} == saved_signals, "main() left its signal handlers"
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
    proc = cli(
        "--data",
        str(faces),
        *SMALL,
        "--epochs",
        "1",
        "--seed",
        "9",
        "--out",
        str(run),
        "--overwrite",
        cache=tmp_path / "c",
    )
    assert proc.returncode == 0, proc.stderr
    assert (run / "best.pt").read_bytes() != best and not (run / "run.lock").exists()


@pytest.mark.parametrize(
    "change,expected",
    [
        (["--batch-size", "4"], "batch_size=8 → 4"),
        (["--lr", "0.002"], "lr=0.001 → 0.002"),
        (["--limit", "20"], "data count: 24 → 20"),
    ],
)
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


def test_resume_with_only_the_run_folder_goes_on_with_the_runs_own_data_and_settings(faces, finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path / "run")
    proc = cli("--out", run, "--resume", "--epochs", "2", cache=tmp_path / "c")  # as the stop message says
    assert proc.returncode == 0, proc.stderr
    resumed = checkpoint.load(run / "last.pt")
    assert (
        len(resumed.history) == 2
        and resumed.dataset["source"] == checkpoint.load(finished_run / "last.pt").dataset["source"]
    )
    assert resumed.model.config.latent_dim == 4 and resumed.training["config"]["batch_size"] == 8  # not the defaults
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").glob("builtin*"))  # no faces were generated
    proc = cli("--out", run, "--resume", "--epochs", "3", "--lr", "0.002", cache=tmp_path / "c")
    assert "lr=0.001 → 0.002" in one_line_error(proc)  # what the command line says itself still counts


def test_resume_by_run_folder_alone_regenerates_no_other_built_in_faces(tmp_path):
    from vae.train.run_folder import run_state

    run = tmp_path / "run"
    first = cli("--builtin-count", "40", *SMALL, "--epochs", "1", "--out", run, cache=tmp_path / "c")
    assert first.returncode == 0, first.stderr
    assert run_state(run)["data_folders"] == ["builtin"] and run_state(run)["builtin_count"] == 40
    proc = cli("--out", run, "--resume", "--epochs", "2", cache=tmp_path / "c")
    assert proc.returncode == 0, proc.stderr  # the same 40 faces, not the default 20,000
    assert "generating" not in proc.stderr and len(checkpoint.load(run / "last.pt").history) == 2


def test_resume_of_a_run_read_with_limit_keeps_its_limit(faces, tmp_path):
    from vae.train.run_folder import run_state

    run = tmp_path / "run"
    first = cli("--data", str(faces), "--limit", "20", *SMALL, "--epochs", "1", "--out", run, cache=tmp_path / "c")
    assert first.returncode == 0, first.stderr
    assert run_state(run)["limit"] == 20 and run_state(run)["data_count"] == 20
    proc = cli("--out", run, "--resume", "--epochs", "2", cache=tmp_path / "c")  # the 20 faces, not all 24
    assert proc.returncode == 0, proc.stderr
    resumed = checkpoint.load(run / "last.pt")
    assert len(resumed.history) == 2 and resumed.dataset["count"] == 20
    line = one_line_error(cli("--out", run, "--resume", "--epochs", "3", "--limit", "24", cache=tmp_path / "c"))
    assert "data count: 20 → 24" in line and "--force" in line  # a limit given still counts as other data
    assert "needs it again" not in line  # this run's limit is recorded: no hint to give one
    ckpt = checkpoint.load(run / "last.pt")  # as a run made before the limit was recorded
    dataset = {key: value for key, value in ckpt.dataset.items() if key != "limit"}
    checkpoint.save(run / "last.pt", ckpt.model, history=ckpt.history, dataset=dataset, training=ckpt.training)
    line = one_line_error(cli("--out", run, "--resume", "--epochs", "3", cache=tmp_path / "c"))
    assert "data count: 20 → 24" in line and "--limit" in line and "needs it again" in line


def test_resume_by_run_folder_alone_of_a_run_that_saved_no_settings_says_what_to_give(finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path / "run")
    ckpt = checkpoint.load(run / "last.pt")
    training = {key: value for key, value in ckpt.training.items() if key != "config"}
    checkpoint.save(run / "last.pt", ckpt.model, history=ckpt.history, dataset=ckpt.dataset, training=training)
    line = one_line_error(cli("--out", run, "--resume", cache=tmp_path / "c"))
    assert "holds no training settings" in line and "--data" in line


def test_resume_with_another_architecture_is_refused_even_with_force(faces, finished_run, tmp_path):
    run = copy_run(finished_run, tmp_path / "run")
    proc = cli(
        "--data",
        str(faces),
        *SMALL,
        "--latent-dim",
        "6",
        "--epochs",
        "2",
        "--out",
        str(run),
        "--resume",
        "--force",
        cache=tmp_path / "c",
    )
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
    from vae.data.cache import open_folder
    from vae.model.network import VAEConfig
    from vae.train.trainer import RunFolderError, TrainConfig, Trainer

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
    proc = cli(
        "--data", str(faces), *SMALL, "--epochs", "1", "--out", str(tmp_path / "file" / "run"), cache=tmp_path / "c"
    )
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
    proc = cli(
        "--data", str(faces), *SMALL, "--epochs", "1", "--out", str(tmp_path / "run"), cache=tmp_path / "file" / "cache"
    )
    assert "is a file, not a folder" in one_line_error(proc)


def test_full_disk_while_saving_a_checkpoint_is_one_line_exit_2(faces, tmp_path, monkeypatch):
    from vae.model import checkpoint as ckpt_mod

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
    assert any(f"no space left on {run / name}: need about" in line for name in ("best.pt", "last.pt"))
    assert "last saved checkpoint" in line
    assert len(checkpoint.load(run / "last.pt").history) == 1  # the epoch-1 checkpoint is intact
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []
    assert not (run / "run.lock").exists()


# ---------------------------------------------------------------- class 4: signals


class Stderr:
    """Collects a process's stderr on a thread so a test can wait for a line."""

    def __init__(self, proc):
        self.text = ""
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc):
        for line in proc.stderr:
            self.text += line


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])  # SIGHUP: the terminal was closed
def test_sigterm_or_sighup_during_training_saves_a_resumable_checkpoint(faces, tmp_path, signum):
    env = {**os.environ, "FACE_EXPLORER_CACHE": str(tmp_path / "c")}
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "train_cli.py"),
            "--data",
            str(faces),
            *SMALL,
            "--epochs",
            "500",
            "--out",
            str(run),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    err = Stderr(proc)
    try:
        assert _wait_for(lambda: "held out to validate" in err.text, timeout=300), err.text
        proc.send_signal(signum)
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


@pytest.mark.parametrize(
    "signum,code,whole_group", [(signal.SIGTERM, 143, False), (signal.SIGINT, 130, False), (signal.SIGINT, 130, True)]
)  # a terminal's Ctrl-C: every process
def test_signal_during_dataset_preparation_stops_workers_and_cleans_up(big_faces, tmp_path, signum, code, whole_group):
    folder = big_faces
    cache = tmp_path / "c"
    env = {**os.environ, "FACE_EXPLORER_CACHE": str(cache)}
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "train_cli.py"),
            "--data",
            str(folder),
            *SMALL,
            "--image-size",
            "128",
            "--out",
            str(tmp_path / "run"),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=whole_group,
    )
    err = Stderr(proc)
    try:
        building = lambda: any(p.name.endswith(".tmp") for p in (cache / "datasets").glob("*"))  # noqa: E731
        assert _wait_for(lambda: building() and len(child_processes(proc.pid)) >= 2, timeout=300), err.text
        workers = child_processes(proc.pid)
        if whole_group:
            os.killpg(proc.pid, signum)  # workers still starting get it too: they must not die with a traceback
        else:
            proc.send_signal(signum)
        assert proc.wait(60) == code
    finally:
        proc.kill()
    err.thread.join(10)
    assert "Traceback" not in err.text
    assert [line for line in err.text.splitlines() if line.strip()] == [
        "stopping the dataset preparation (Ctrl-C again to abort)",
        "error: interrupted while preparing the dataset; nothing was trained (the partial cache was removed)",
    ]
    assert _wait_for(lambda: all(process_gone(pid) for pid in workers), timeout=10)
    assert list((cache / "datasets").iterdir()) == []


# ---------------------------------------------------------------- class 2: image size before decoding
def _one_bit_png(path: Path, side: int) -> None:
    """A valid, white 1-bit PNG of side × side written without ever holding it decoded (a 20 KB bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", body)
        + chunk(b"IEND", b"")
    )


def _load_in_child(path: Path, env: dict | None = None) -> tuple[str, float, float]:
    """Load ``path`` with load_image in a fresh process: (outcome, seconds, MB the load added at its peak).

    The peak is the process's resident high-water mark, reset after the imports (``/proc/self/clear_refs``), less
    what the process held then: what importing torch takes differs between machines, the load's own memory does not.
    """
    code = (
        "import sys, time, torch; from vae.data.folder import load_image, ImageLoadError\n"  # torch: as load_image does
        "def kb(key):\n"
        "    return next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith(key + ':'))\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "held = kb('VmRSS')\n"
        "t = time.perf_counter()\n"
        "try:\n    load_image(sys.argv[1], 64); outcome = 'loaded'\n"
        "except ImageLoadError as exc:\n    outcome = str(exc)\n"
        "print(outcome); print(time.perf_counter() - t); print((kb('VmHWM') - held) / 1024)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    outcome, seconds, peak = proc.stdout.strip().splitlines()[-3:]
    return outcome, float(seconds), float(peak)


def test_a_20kb_png_bomb_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    _one_bit_png(bomb, 13_000)
    assert bomb.stat().st_size < 100_000
    outcome, seconds, peak = _load_in_child(bomb)
    assert f"{bomb}: image is too large (13000×13000 = 169 Mpx; the limit is 100 Mpx" in outcome
    assert seconds < 2 and peak < 100  # was 48 s and 12 GB
    outcome, _, _ = _load_in_child(bomb, {"FACE_EXPLORER_MAX_MPX": "20"})
    assert "the limit is 20 Mpx" in outcome


def test_a_large_valid_image_loads_quickly_in_bounded_memory(tmp_path):
    from PIL import Image

    from vae.data import synth

    face = synth.render_face(synth.random_attributes(synth.face_rng(1, 0)), 500).convert("RGB")
    canvas = Image.new("RGB", (8000, 8000), "white")
    canvas.paste(face.resize((5000, 5000)), (1500, 1500))
    canvas.save(tmp_path / "big.png", compress_level=1)
    del canvas
    outcome, seconds, peak = _load_in_child(tmp_path / "big.png")
    assert outcome == "loaded" and peak < 600, (seconds, peak)  # was 4.8 GB and 20 s; 250 MB here


def test_bomb_in_a_dataset_is_a_skipped_file(faces, tmp_path):
    folder = tmp_path / "faces"
    copy_run(faces, folder)
    _one_bit_png(folder / "bomb.png", 13_000)
    from vae.data.cache import open_folder

    data = open_folder(folder, 64, workers=1, cache_dir=tmp_path / "c")
    assert len(data) == 24 and [name for name, _ in data.skipped] == ["bomb.png"]
    assert "too large" in data.skipped[0][1]


# ---------------------------------------------------------------- class 6: defensive folder walk
def test_folder_walk_skips_and_lists_what_is_not_an_image_file(faces, tmp_path, monkeypatch):
    import struct

    from PIL import ImageOps

    from vae.data.cache import open_folder

    folder = tmp_path / "faces"
    copy_run(faces, folder)
    names = sorted(p.name for p in folder.glob("*.png"))
    (folder / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    os.mkfifo(folder / "fifo.png")
    os.close(os.open(bytes(folder) + b"/bad\xff.png", os.O_CREAT | os.O_WRONLY))
    sub = tmp_path / "elsewhere"
    sub.mkdir()
    (sub / "linked.png").write_bytes((folder / names[0]).read_bytes())
    (sub / "back").symlink_to(folder)  # a loop: elsewhere/back → faces → linked → elsewhere
    (folder / "linked").symlink_to(sub)
    # Cartoon Set CSVs with a byte-order mark or an upper-case extension
    (folder / (names[1][:-4] + ".csv")).rename(folder / (names[1][:-4] + ".CSV"))
    csv = folder / (names[2][:-4] + ".csv")
    csv.write_bytes(b"\xef\xbb\xbf" + csv.read_bytes())
    calls = []

    def bad_exif(image, *args, **kwargs):
        calls.append(1)
        raise (struct.error if len(calls) % 2 else TypeError)("malformed EXIF")

    monkeypatch.setattr(ImageOps, "exif_transpose", bad_exif)
    messages = []
    start = time.monotonic()
    data = open_folder(folder, 64, workers=1, cache_dir=tmp_path / "c", control=Control(log=messages.append))
    assert time.monotonic() - start < 120
    skipped = dict(data.skipped)
    assert skipped["dangling.png"] == "dangling symbolic link"
    assert skipped["loop.png"] == "symbolic link loop"
    assert skipped["fifo.png"].startswith("not a regular file")
    assert skipped["bad\\xff.png"] == "the file name is not valid UTF-8"
    assert any("already walked" in reason for reason in skipped.values())
    assert len(data) == 25 and "linked/linked.png" in data.files and calls  # EXIF errors leave the pixels usable
    for name in names[1:3]:
        assert (data.labels[data.files.index(name)] >= 0).all(), name
    assert any("skipped unreadable" in m and "dangling.png" in m for m in messages)


# ---------------------------------------------------------------- class 7: checkpoints checked before building
def _hand_made_checkpoint(path: Path, config: dict, **metadata) -> Path:
    import torch

    from vae.model.checkpoint import FORMAT_NAME, FORMAT_VERSION
    from vae.model.network import ConvVAE, VAEConfig

    state = ConvVAE(VAEConfig(latent_dim=4, base_channels=4)).state_dict()
    torch.save(
        {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "config": config, "state_dict": state, **metadata},
        path,
    )
    return path


@pytest.mark.parametrize(
    "key,value,expected",
    [
        ("latent_dim", 10**9, "latent_dim must be between 1 and 1024, got 1000000000"),
        ("latent_dim", 10**6, "latent_dim must be between 1 and 1024"),
        ("residual_blocks", 10**5, "residual_blocks must be between 0 and 32"),
        ("base_channels", 10**4, "base_channels must be between 1 and 512"),
        ("full_res_channels", -1, "full_res_channels must be between 0 and 512"),
        ("image_size", 4096, "image_size must be between 64 and 128"),
        ("latent_dim", "32", "latent_dim must be a whole number, got '32'"),
        ("latent_dim", 4.0, "latent_dim must be a whole number, got 4.0"),
        ("residual_blocks", True, "residual_blocks must be a whole number, got True"),
        ("latent_dim", None, "latent_dim must be a whole number, got None"),
        ("upsample", "bicubic", "upsample must be one of ('transposed', 'resize'), got 'bicubic'"),
        ("upsample", [1], "upsample must be one of ('transposed', 'resize'), got [1]"),
    ],
)
def test_checkpoint_config_is_bounded_before_the_model_is_built(tmp_path, key, value, expected):
    from vae.model.checkpoint import CheckpointError, load

    path = _hand_made_checkpoint(
        tmp_path / "bad.pt", {"image_size": 64, "latent_dim": 4, "base_channels": 4, key: value}
    )
    start = time.monotonic()
    with pytest.raises(CheckpointError) as info:
        load(path)
    assert time.monotonic() - start < 5 and str(path) in str(info.value) and expected in str(info.value)


@pytest.mark.parametrize("config", [[1, 2], "latent", 7, {"latent_dim": 4, "bogus": 1}])
def test_checkpoint_config_of_the_wrong_shape_is_an_error(tmp_path, config):
    from vae.model.checkpoint import CheckpointError, load

    with pytest.raises(CheckpointError, match="invalid model config"):
        load(_hand_made_checkpoint(tmp_path / "bad.pt", config))


def test_mistyped_metadata_is_ignored_with_a_warning(tmp_path):
    import torch

    from vae.model.checkpoint import load

    config = {"image_size": 64, "latent_dim": 4, "base_channels": 4}
    nan_prior = {"weights": torch.ones(1), "mean": torch.full((1, 4), float("nan")), "scale_tril": torch.eye(4)[None]}
    path = _hand_made_checkpoint(
        tmp_path / "odd.pt",
        config,
        history=5,
        dataset=[1, 2],
        training="x",
        directions={"smile": "up", "glasses": torch.ones(7)},
        latent_kl=torch.ones(3),
        latent_prior=nan_prior,
    )
    ckpt = load(path)
    assert ckpt.history == [] and ckpt.dataset == {} and ckpt.directions == {} and ckpt.training is None
    assert ckpt.latent_kl is None and ckpt.latent_prior is None
    assert sorted(w.split("malformed ")[1] for w in ckpt.warnings) == [
        "dataset",
        "directions",
        "history",
        "latent_kl",
        "latent_prior",
        "training",
    ]


@pytest.mark.parametrize(
    "content,seems",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "a PNG image"),
        (b'{"latents": [[1, 2]]}', "a JSON file"),
        (b"# Face Explorer\n\nA README.\n", "a text file"),
        (b"", "an empty file"),
    ],
)
def test_a_file_that_is_not_a_checkpoint_says_what_it_seems_to_be(tmp_path, content, seems):
    from vae.model.checkpoint import NotACheckpoint, load

    path = tmp_path / "model.pt"
    path.write_bytes(content)
    with pytest.raises(NotACheckpoint, match=f"{path}: not a checkpoint: it is {seems}"):
        load(path)


# ---------------------------------------------------------------- class 8: latents from files
@pytest.mark.parametrize(
    "text,expected",
    [
        ('{"latents": [[NaN, 0, 0, 0]]}', "value 1 of latent 1 is nan"),
        ('{"latents": [[0, Infinity, 0, 0]]}', "value 2 of latent 1 is inf"),
        ('{"latents": [[0, 0, 1e30, 0]]}', "value 3 of latent 1 is 1e+30, outside ±1000"),
        ('{"latents": [[0, 0, 0, 1' + "0" * 400 + "]]}", "value 4 of latent 1 is too large"),
        ('{"latents": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"latents": [[0, 0, 0]]}', "holds latents of 3 values; this model uses 4"),
        ('{"latents": [[0, 0, 0, 0], [0, 0]]}', "latent 2 has 2 values"),
        ('{"latents": [["a", 0, 0, 0]]}', "value 1 of latent 1 is not a number (str)"),
        ('{"latents": [[true, 0, 0, 0]]}', "value 1 of latent 1 is not a number (bool)"),
        ('{"latents": [[[0], 0, 0, 0]]}', "nested too deeply"),
        ('{"latents": []}', "expected a latent vector"),
        ('{"latents": [0, [0, 0, 0, 0]]}', "mixes numbers and lists"),
        ("[1, 2, 3, 4]", 'no "latents" list'),
        ('{"latents": [[0, 0', "not a latent file (not JSON: line 1, column 19)"),
        ("", "not a latent file (not JSON: line 1, column 1)"),
    ],
)
def test_every_bad_latent_file_is_one_value_error_naming_the_file(tmp_path, text, expected):
    from vae.explore.export import load_latents
    from vae.explore.slots import from_latent_file

    path = tmp_path / "face.json"
    path.write_text(text)
    for read in (lambda: load_latents(path, 4), lambda: from_latent_file(path, 4)):
        with pytest.raises(ValueError) as info:
            read()
        assert str(path) in str(info.value) and expected in str(info.value)
        assert "\n" not in str(info.value)


def test_a_latent_file_too_large_is_named_once(tmp_path, monkeypatch):
    from vae.explore import export

    monkeypatch.setattr(export, "MAX_LATENT_FILE_BYTES", 10)
    path = tmp_path / "face.json"
    path.write_text('{"latents": [[0, 0, 0, 0]]}')
    with pytest.raises(ValueError) as info:
        export.load_latents(path, 4)
    assert str(info.value).count(str(path)) == 1 and "too large for a latent file" in str(info.value)


def test_slots_refuse_non_finite_latents_from_any_door():
    import torch

    from vae.explore.slots import FaceSlot, from_current

    assert torch.equal(from_current(torch.ones(4)).latent, torch.ones(4))
    for bad in (
        torch.tensor([0.0, float("nan"), 0.0, 0.0]),
        torch.tensor([0.0, 0.0, float("inf"), 0.0]),
        torch.full((4,), 1e30),
        torch.zeros(2, 4),
    ):
        with pytest.raises(ValueError, match="explorer face"):
            FaceSlot(bad, "explorer face")


def test_a_good_latent_file_round_trips(tmp_path):
    import torch

    from vae.explore.export import load_latents, save_latents

    latents = torch.randn(3, 4)
    save_latents(tmp_path / "ok.json", latents)
    assert torch.allclose(load_latents(tmp_path / "ok.json", 4), latents)


# ---------------------------------------------------------------- class 9: export names
@pytest.mark.parametrize("length", [242, 250, 255])
def test_exports_with_the_longest_legal_names(tmp_path, length):
    import torch

    from vae.explore.export import save_face

    name = "f" * (length - 4) + ".png"
    path = save_face(tmp_path / name, torch.rand(3, 64, 64), size=64)
    assert path.exists() and len(path.name.encode()) == length
    assert [p.name for p in tmp_path.iterdir()] == [name]


# ---------------------------------------------------------------- class 10: CLI numbers
@pytest.mark.parametrize(
    "flag,value,allowed",
    [
        ("--seed", "-1", "between 0 and 4294967295"),
        ("--seed", "1" + "0" * 23, "between 0 and 4294967295"),
        ("--free-bits", "1e308", "in [0, 100]"),
        ("--free-bits", "inf", "in [0, 100]"),
        ("--lr", "0", "in (0, 10]"),
        ("--beta", "-0.5", "in [0, 10000]"),
        ("--epochs", "0", "between 1 and 100000"),
        ("--batch-size", "10000000", "between 1 and 65536"),
        ("--latent-dim", "1000000", "between 1 and 1024"),
        ("--residual-blocks", "100000", "between 0 and 32"),
        ("--base-channels", "1e3", "is not a whole number"),
        ("--warmup-epochs", "nan", "in [0, 100000]"),
        ("--builtin-count", "3", "between 16 and 1000000"),
    ],
)
def test_train_cli_numbers_outside_their_range_exit_2_naming_flag_and_range(flag, value, allowed, capsys):
    import train_cli

    with pytest.raises(SystemExit) as info:
        train_cli.main([flag, value])
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"argument {flag}: " in err and allowed in err and "Traceback" not in err


@pytest.mark.parametrize(
    "flag,value,allowed",
    [
        ("--workers", "-1", "between 1 and 256"),
        ("--workers", "0", "between 1 and 256"),
        ("--size", "1000000", "between 32 and 4096"),
        ("--count", "0", "between 1 and 10000000"),
        ("--seed", "-5", "between 0 and 4294967295"),
    ],
)
def test_synth_cli_numbers_outside_their_range_exit_2(flag, value, allowed, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "vae.data.synth", "--out", str(tmp_path / "o"), flag, value],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2 and f"argument {flag}: " in proc.stderr and allowed in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()
