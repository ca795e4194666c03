"""Faults and bad input, round 3 (the core and the command-line tools): each test failed before its fix."""

from __future__ import annotations

import csv
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.helpers import write_good_faces
from tests.test_faults import ROOT, SMALL, _hand_made_checkpoint, _load_in_child, cli, one_line_error
from vae.data.folder import ImageLoadError, load_image
from vae.model import checkpoint

CONFIG = {"image_size": 64, "latent_dim": 4, "base_channels": 4}


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faces") / "faces"
    write_good_faces(folder, 24, size=64)
    return folder


# ---------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("value", ["high", [0.9], {"a": 1}, True])
def test_a_history_value_that_is_not_a_number_is_ignored_with_a_warning(tmp_path, value):
    path = _hand_made_checkpoint(
        tmp_path / "odd.pt", CONFIG, history=[{"epoch": 1, "val_ssim": 0.5}, {"epoch": 2, "val_ssim": value}]
    )
    ckpt = checkpoint.load(path)
    assert ckpt.history == [] and ckpt.last_metric("val_ssim") is None
    assert any("malformed history" in w for w in ckpt.warnings)


def test_a_prior_of_too_many_components_is_refused_and_a_large_one_stays_in_bounded_memory(tmp_path):
    from vae.model.checkpoint import MAX_PRIOR_COMPONENTS
    from vae.model.latent import mixture_log_prob, typical_latent

    def prior(k):
        return {
            "weights": torch.ones(k) / k,
            "mean": torch.randn(k, 4),
            "scale_tril": torch.eye(4).expand(k, 4, 4).clone(),
        }

    path = _hand_made_checkpoint(tmp_path / "big.pt", CONFIG, latent_prior=prior(MAX_PRIOR_COMPONENTS + 1))
    ckpt = checkpoint.load(path)
    assert ckpt.latent_prior is None and any("malformed latent_prior" in w for w in ckpt.warnings)
    path = _hand_made_checkpoint(tmp_path / "ok.pt", CONFIG, latent_prior=prior(MAX_PRIOR_COMPONENTS))
    kept = checkpoint.load(path).latent_prior
    assert typical_latent(kept).shape == (4,)
    # log-densities agree with torch.distributions, chunk by chunk
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(kept["weights"]),
        torch.distributions.MultivariateNormal(kept["mean"], scale_tril=kept["scale_tril"]),
    )
    z = torch.randn(300, 4)
    assert torch.allclose(mixture_log_prob(kept, z), mixture.log_prob(z), atol=1e-4)


def test_a_prior_fitted_to_one_encoding_is_finite():
    from vae.model.latent import fit_mixture

    prior = fit_mixture(torch.randn(1, 4))
    assert all(bool(torch.isfinite(t).all()) for t in prior.values())


# ---------------------------------------------------------------- run folders
class Killed(BaseException):
    """Stands for kill -9 landing between two file writes."""


@pytest.mark.parametrize("kill_after", [1, 2])  # the first or second checkpoint written in epoch 2
def test_a_kill_between_an_epochs_files_then_resume_keeps_the_best_epoch_and_every_metrics_row(
    faces, tmp_path, monkeypatch, kill_after
):
    from vae.data.cache import open_folder
    from vae.train import trainer as train

    data = open_folder(faces, 64, workers=1)
    config = train.TrainConfig(
        model=train.VAEConfig(latent_dim=4, base_channels=8), epochs=2, batch_size=8, device="cpu", seed=3, lr=3e-3
    )  # ends at epoch 2: nothing after it rewrites the files
    real_save, saves = train.checkpoint.save, []

    def save(path, *args, **kwargs):
        real_save(path, *args, **kwargs)
        if kwargs.get("training", {}).get("epoch") == 2:
            saves.append(Path(path).name)
            if len(saves) == kill_after:
                raise Killed()

    monkeypatch.setattr(train.checkpoint, "save", save)
    run = tmp_path / "run"
    with pytest.raises(Killed):
        train.Trainer(config, data, run).run()
    monkeypatch.setattr(train.checkpoint, "save", real_save)
    (run / "run.lock").unlink(missing_ok=True)  # a killed process leaves it; this one released it
    assert train.Trainer(config, data, run).run(resume=True).status == "finished"
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[1]["val_loss"]) < float(rows[0]["val_loss"])  # epoch 2 is the one best.pt must hold
    best_epoch = min(rows, key=lambda r: float(r["val_loss"]))["epoch"]
    assert checkpoint.load(run / "best.pt").history[-1]["epoch"] == int(best_epoch)


def test_temporary_files_of_killed_checkpoint_writes_are_removed_when_the_run_resumes(faces, tmp_path):
    run = tmp_path / "run"
    proc = cli("--data", faces, *SMALL, "--epochs", "1", "--out", run, cache=tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    for name in (".~a1b2c3d4.tmp", ".~zzzzzzzz.tmp", ".~00000000.tmp"):  # what three kill -9s mid-write leave
        (run / name).write_bytes(b"half a checkpoint")
    proc = cli("--data", faces, *SMALL, "--epochs", "2", "--out", run, "--resume", "--force", cache=tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert not list(run.glob(".~*")) and "removed 3 temporary file(s)" in proc.stderr


# ---------------------------------------------------------------- images
def test_a_thin_strip_is_refused_before_decoding(tmp_path):
    strip = tmp_path / "strip.png"
    Image.new("1", (8, 200_000), 1).save(strip)
    outcome, seconds, peak = _load_in_child(strip)
    assert "image is too elongated (8×200000; at most 10:1)" in outcome
    assert seconds < 2 and peak < 100


def test_a_long_image_within_the_ratio_loads_in_bounded_memory(tmp_path):
    from PIL import ImageDraw

    tall = tmp_path / "tall.png"
    image = Image.new("1", (1_000, 10_000), 1)
    ImageDraw.Draw(image).rectangle((100, 100, 900, 9_900), fill=0)
    image.save(tall)
    outcome, _, peak = _load_in_child(tall)
    assert outcome == "loaded" and peak < 250  # was 560 MB: a 10,800 px square canvas before resizing


def test_eps_content_named_png_is_never_handed_to_ghostscript(tmp_path, monkeypatch):
    from PIL import EpsImagePlugin

    opened = []
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", lambda self: opened.append(1))
    face = tmp_path / "face.png"
    face.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n{ } loop\n")
    with pytest.raises(ImageLoadError, match="not a readable image"):
        load_image(face)
    assert opened == []


# ---------------------------------------------------------------- dataset caches and the built-in set
def test_a_folder_name_with_pattern_characters_keeps_one_cache(tmp_path):
    from vae.data.cache import open_folder

    folder = tmp_path / "faces [v2]"
    write_good_faces(folder, 3, size=64)
    caches = tmp_path / "caches"
    for round_ in range(3):
        write_good_faces(folder, 3 + round_ + 1, seed=round_ + 1, size=64)  # the folder changes: a new cache
        open_folder(folder, 64, workers=1, cache_dir=caches)
    assert len([p for p in (caches / "datasets").iterdir() if p.suffix != ".lock"]) == 1


def test_a_killed_generators_temporary_folder_is_removed_by_the_next_run(tmp_path, monkeypatch):
    from vae.data import cache

    monkeypatch.setenv("FACE_EXPLORER_CACHE", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folder = tmp_path / f"builtin-s{cache.BUILTIN_SEED}-n16-v{cache.synth.SYNTH_VERSION}"
    left = folder.with_name(folder.name + f".{int(dead.stdout)}.tmp")
    left.mkdir(parents=True)
    (left / "cs1.png").write_bytes(b"half")
    live = folder.with_name(folder.name + f".{os.getppid()}.tmp")  # a generator still running elsewhere
    live.mkdir()
    assert cache.builtin_folder(16) == folder and (folder / ".complete").exists()
    assert not left.exists() and live.exists()


# ---------------------------------------------------------------- command lines
def test_train_cli_on_two_images_finishes_with_a_prior(tmp_path):
    folder = tmp_path / "two"
    write_good_faces(folder, 2, size=64)
    proc = cli("--data", folder, *SMALL, "--epochs", "1", "--out", tmp_path / "run", cache=tmp_path / "c")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert checkpoint.load(tmp_path / "run" / "best.pt").latent_prior is not None


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"WORLD_SIZE": "abc"}, "WORLD_SIZE must be a whole number, got 'abc'"),
        ({"WORLD_SIZE": "0"}, "WORLD_SIZE must be at least 1"),
        ({"WORLD_SIZE": "2"}, "torchrun --nproc_per_node=2"),
    ],
)
def test_train_cli_with_an_unusable_world_size_is_one_line_exit_2(faces, tmp_path, monkeypatch, env, expected):
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    line = one_line_error(cli("--data", faces, *SMALL, "--out", tmp_path / "run", cache=tmp_path / "c"))
    assert expected in line


def test_main_with_a_huge_seed_or_an_infinite_pixel_budget_is_clear(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--seed", "9" * 23, "--screenshot", str(tmp_path / "s.png")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--seed: must be between 0 and" in proc.stderr
    from vae.data.folder import DEFAULT_MAX_MPX, max_image_pixels

    for value in ("inf", "nan", "-inf"):
        os.environ["FACE_EXPLORER_MAX_MPX"] = value
        try:
            assert max_image_pixels() in (DEFAULT_MAX_MPX * 1_000_000, 1)
        finally:
            del os.environ["FACE_EXPLORER_MAX_MPX"]


def test_package_default_with_bad_data_or_threshold_is_one_line_exit_2(tmp_path, tiny_checkpoint, capsys):
    from vae.measure import package_default

    one = tmp_path / "one"
    write_good_faces(one, 1, size=64)
    target = str(tmp_path / "out.pt")
    assert package_default.main([str(tiny_checkpoint), target, "--data", str(one)]) == 0  # one face: a finite prior
    assert checkpoint.load(target).latent_prior is not None
    assert package_default.main([str(tiny_checkpoint), target, "--data", str(tmp_path / "missing")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        package_default.main([str(tiny_checkpoint), target, "--threshold", "nan"])
    assert exit_.value.code == 2 and "must be a finite number" in capsys.readouterr().err
    bad_flags = {
        "needs --data": ["--norm-random-share", "0.25"],
        "in [0, 1], got 1.5": ["--data", str(one), "--norm-random-share", "1.5"],
        "--norm-data needs --norm-random-share": ["--data", str(one), "--norm-data", str(one)],
    }
    for message, flags in bad_flags.items():
        with pytest.raises(SystemExit) as exit_:
            package_default.main([str(tiny_checkpoint), target, *flags])
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert package_default.main([str(tiny_checkpoint), target, "--data", str(one), "--norm-random-share", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "no training record" in err and "Traceback" not in err  # which faces were held out is unknown


def test_a_log_file_on_a_full_disk_says_so_once(monkeypatch, capsys):
    from gui import app_info

    monkeypatch.setenv("FACE_EXPLORER_LOG", "/dev/full")
    assert app_info.setup_logging() is not None
    logger = logging.getLogger("face_explorer")
    try:
        for i in range(3):
            logger.info("message %d", i)
        err = capsys.readouterr().err
        assert err.count("cannot write the log file /dev/full") == 1 and "Logging error" not in err
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()


def test_an_image_opened_as_a_latent_file_is_a_plain_message(tmp_path):
    from vae.explore.export import load_latents

    face = tmp_path / "face.png"
    Image.new("RGB", (8, 8)).save(face)
    with pytest.raises(ValueError) as info:
        load_latents(face, 8)
    assert (
        str(info.value) == f"{face}: not a latent file (not text: pick the .json that Save latent or an export wrote)"
    )
