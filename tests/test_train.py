import csv
import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import draw_palette_face, write_good_faces
from vae.data.cache import open_folder
from vae.data.folder import holdout_split
from vae.data.palette import HAIR, SKIN
from vae.model import checkpoint
from vae.model.metrics import evaluate
from vae.model.network import ConvVAE, VAEConfig
from vae.train.trainer import DEFAULT_MODEL_RECIPE, TrainConfig, Trainer, TrainingDiverged, mirror_half

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def faces(tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 40, size=64)
    return open_folder(folder, 64, workers=1)


ARCH = {f.name for f in dataclasses.fields(VAEConfig)}


def small_config(**overrides):
    arch = {"latent_dim": 4, "base_channels": 8, **{k: overrides.pop(k) for k in list(overrides) if k in ARCH}}
    base = dict(epochs=2, batch_size=8, device="cpu", seed=3)
    return TrainConfig(model=VAEConfig(**arch), **{**base, **overrides})


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_run_writes_checkpoints_metrics_and_previews(faces, tmp_path):
    steps, epochs = [], []
    trainer = Trainer(small_config(), faces, tmp_path / "run", on_step=steps.append, on_epoch=epochs.append)
    result = trainer.run()
    assert result.status == "finished" and result.epochs_done == 2
    run = tmp_path / "run"
    assert {"last.pt", "best.pt", "metrics.csv", "config.json", "epoch_001.png", "epoch_002.png"} <= {
        p.name for p in run.iterdir()
    }
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert 0 < float(rows[-1]["val_ssim"]) <= 1 and float(rows[-1]["val_psnr"]) > 0
    assert steps[0].images_per_s > 0 and epochs[-1].preview.shape[0] == 24  # rows: faces, reconstructions, samples
    shown = len(trainer.val_idx)
    assert shown < 8 and (epochs[-1].preview[shown:8] == 1).all() and (epochs[-1].preview[8 + shown : 16] == 1).all()
    best = checkpoint.load(run / "best.pt")
    assert "glasses" in best.directions and best.latent_kl.shape == (4,)
    assert best.latent_prior["mean"].shape[1] == 4 and best.latent_prior["scale_tril"].shape[1:] == (4, 4)
    assert best.dataset["count"] == 40
    last = checkpoint.load(run / "last.pt")
    assert {"optimizer", "rng"} <= set(last.training)  # what resuming needs, in last.pt only
    assert not {"optimizer", "rng"} & set(best.training) and best.training["config"] == last.training["config"]
    assert (run / "best.pt").stat().st_size < (run / "last.pt").stat().st_size


def test_holdout_faces_are_validated_on_and_never_trained_on(faces, tmp_path):
    trainer = Trainer(small_config(epochs=1, holdout=6), faces, tmp_path / "run")
    kept, held = holdout_split(faces.files, 6)
    assert sorted(trainer.val_idx) == sorted(held) and not set(trainer.train_idx) & set(held)
    assert len(trainer.train_idx) == len(faces) - 6
    assert trainer.run().status == "finished"
    with pytest.raises(ValueError, match="cannot hold out 40 of 40"):
        Trainer(small_config(holdout=40), faces, tmp_path / "other")


def test_mirror_half_flips_about_half_the_images_and_repeats_for_the_same_step():
    x = torch.rand(64, 3, 8, 8)
    out = mirror_half(x, seed=0, epoch=2, step=5)
    flipped = [bool(torch.equal(out[i], x[i].flip(-1))) for i in range(64)]
    kept = [bool(torch.equal(out[i], x[i])) for i in range(64)]
    assert all(f != k for f, k in zip(flipped, kept)) and 16 < sum(flipped) < 48
    assert torch.equal(out, mirror_half(x, seed=0, epoch=2, step=5))
    assert not torch.equal(out, mirror_half(x, seed=0, epoch=2, step=6))


@pytest.fixture
def palette_faces(tmp_path):
    """24 drawn faces in Cartoon Set palette colours, which recolouring acts on."""
    folder = tmp_path / "palette_faces"
    folder.mkdir()
    for i in range(24):
        draw_palette_face(HAIR[1 + i % 8], SKIN[i % len(SKIN)]).save(folder / f"face_{i:02d}.png")
    return open_folder(folder, 64, workers=1)


@pytest.mark.parametrize("option", [{"flip": True}, {"recolour": 1.0}])
def test_an_augmentation_is_reproducible_changes_the_weights_and_is_a_resume_setting(option, palette_faces, tmp_path):
    faces = palette_faces
    augmented = Trainer(small_config(epochs=1, **option), faces, tmp_path / "a").run()
    again = Trainer(small_config(epochs=1, **option), faces, tmp_path / "b").run()
    plain = Trainer(small_config(epochs=1), faces, tmp_path / "c").run()
    wa, wb, wc = (checkpoint.load(r.last_path).model.state_dict() for r in (augmented, again, plain))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    with pytest.raises(ValueError, match=next(iter(option))):
        Trainer(small_config(epochs=2), faces, tmp_path / "a").run(resume=True)


def test_recolouring_is_a_chance_between_0_and_1():
    with pytest.raises(ValueError, match="invalid recolour"):
        small_config(recolour=1.5)


def test_weight_decay_shrinks_the_weights_and_is_a_resume_setting(faces, tmp_path):
    plain = Trainer(small_config(), faces, tmp_path / "a").run()
    decayed = Trainer(small_config(weight_decay=20.0), faces, tmp_path / "b").run()
    norms = [
        sum(
            float(w.norm()) ** 2
            for k, w in checkpoint.load(r.last_path).model.state_dict().items()
            if k.endswith("weight")
        )
        for r in (plain, decayed)
    ]
    assert norms[1] < 0.9 * norms[0]
    with pytest.raises(ValueError, match="weight_decay"):
        Trainer(small_config(epochs=3), faces, tmp_path / "b").run(resume=True)
    forced = Trainer(small_config(epochs=3, weight_decay=0.5), faces, tmp_path / "a")
    assert forced.run(resume=True, force=True).status == "finished"
    assert all(g["weight_decay"] == 0.5 for g in forced.optimizer.param_groups)
    with pytest.raises(ValueError, match="invalid weight_decay"):
        small_config(weight_decay=-1.0)
    with pytest.raises(ValueError, match="invalid weight_decay: 10 with lr 0.1"):
        small_config(weight_decay=10.0, lr=0.1)


def test_the_l1_term_changes_the_training_and_is_a_resume_setting(faces, tmp_path):
    plain = Trainer(small_config(), faces, tmp_path / "a").run()
    with_l1 = Trainer(small_config(l1_weight=0.5), faces, tmp_path / "b").run()
    wa, wb = (checkpoint.load(r.last_path).model.state_dict() for r in (plain, with_l1))
    assert not all(torch.equal(wa[k], wb[k]) for k in wa)
    assert checkpoint.load(with_l1.last_path).training["config"]["l1_weight"] == 0.5
    with pytest.raises(ValueError, match="l1_weight"):
        Trainer(small_config(epochs=3), faces, tmp_path / "b").run(resume=True)
    with pytest.raises(ValueError, match="invalid l1_weight"):
        small_config(l1_weight=-0.1)


@pytest.mark.parametrize("cosine", [True, False])
def test_the_learning_rate_rises_over_the_first_epoch_then_follows_its_schedule(faces, tmp_path, cosine):
    from vae.train.trainer import LR_WARMUP_STEPS

    trainer = Trainer(small_config(lr=1e-3, epochs=4, cosine=cosine), faces, tmp_path / "run")
    steps = trainer.steps_per_epoch  # a small run warms up over its first epoch, a large one over LR_WARMUP_STEPS
    assert steps < LR_WARMUP_STEPS
    rates = [trainer._scheduler_lr(0, step) for step in range(steps)]
    assert rates[0] == pytest.approx(1e-3 / steps, rel=0.05) and rates == sorted(rates)
    assert trainer._scheduler_lr(1, 0) == pytest.approx(
        1e-3 * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi / 4))) if cosine else 1e-3
    )


def test_same_seed_same_weights_on_cpu(faces, tmp_path):
    a = Trainer(small_config(epochs=1), faces, tmp_path / "a").run()
    b = Trainer(small_config(epochs=1), faces, tmp_path / "b").run()
    wa, wb = checkpoint.load(a.last_path).model.state_dict(), checkpoint.load(b.last_path).model.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_bf16_precision_trains_on_cpu_and_is_reproducible(faces, tmp_path):
    config = small_config(epochs=1, precision="bf16", full_res_channels=4)
    a = Trainer(config, faces, tmp_path / "a").run()
    b = Trainer(config, faces, tmp_path / "b").run()
    assert all(torch.isfinite(torch.tensor(a.history[-1][k])) for k in ("train_loss", "val_loss"))
    wa, wb = checkpoint.load(a.last_path).model.state_dict(), checkpoint.load(b.last_path).model.state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert checkpoint.load(a.last_path).model.config.full_res_channels == 4
    with pytest.raises(ValueError, match="precision"):
        small_config(precision="fp8")


def straight_and_resumed(config, faces, tmp_path):
    """The last checkpoints of a run trained straight through and of the same run stopped after 7 steps and
    resumed."""
    straight = Trainer(config, faces, tmp_path / "straight").run()

    def stop_after_seven(event):
        if (event.epoch - 1) * event.steps_per_epoch + event.step == 7:
            first.stop()

    first = Trainer(config, faces, tmp_path / "resumed", on_step=stop_after_seven)
    assert first.run().status == "stopped"
    resumed = Trainer(config, faces, tmp_path / "resumed").run(resume=True)
    assert resumed.status == "finished"
    return checkpoint.load(straight.last_path), checkpoint.load(resumed.last_path)


def same_weights(a: dict, b: dict) -> bool:
    return all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_stop_and_resume_continue_exactly(faces, tmp_path):
    a, b = straight_and_resumed(small_config(epochs=3), faces, tmp_path)
    assert same_weights(a.model.state_dict(), b.model.state_dict())
    assert [round(r["val_loss"], 4) for r in a.history] == [round(r["val_loss"], 4) for r in b.history]


def test_resume_with_more_epochs_extends_a_finished_run(faces, tmp_path):
    first = Trainer(small_config(epochs=2), faces, tmp_path / "run").run()
    before = checkpoint.load(first.last_path).model.state_dict()
    extended = Trainer(small_config(epochs=4), faces, tmp_path / "run").run(resume=True)
    assert extended.status == "finished" and [row["epoch"] for row in extended.history] == [1, 2, 3, 4]
    assert extended.history[:2] == first.history
    assert extended.history[2]["lr"] > extended.history[1]["lr"]  # the stretched cosine restarts higher
    after = checkpoint.load(extended.last_path).model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert checkpoint.load(extended.best_path).latent_prior is not None


def test_pause_blocks_until_resumed(faces, tmp_path):
    import threading

    events = []
    trainer = Trainer(small_config(epochs=1), faces, tmp_path / "p", on_step=events.append)
    trainer.pause()
    thread = threading.Thread(target=trainer.run)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive() and not events
    trainer.unpause()
    thread.join(60)
    assert not thread.is_alive() and events


def test_non_finite_loss_stops_and_keeps_best(faces, tmp_path):
    run = tmp_path / "run"
    Trainer(small_config(epochs=1), faces, run).run()
    best_before = (run / "best.pt").read_bytes()
    with pytest.raises(TrainingDiverged, match="non-finite"):
        Trainer(small_config(epochs=5, lr=1e12, grad_clip=0), faces, run).run(resume=True, force=True)
    assert (run / "best.pt").read_bytes() == best_before


def test_resume_with_other_architecture_is_refused(faces, tmp_path):
    Trainer(small_config(epochs=1), faces, tmp_path / "run").run()
    with pytest.raises(ValueError, match="latent_dim=4"):
        Trainer(small_config(epochs=2, latent_dim=6), faces, tmp_path / "run").run(resume=True)


def run_cli(*args, cwd=ROOT, env_cache=None):
    import os

    env = {**os.environ, "FACE_EXPLORER_CACHE": str(env_cache)} if env_cache else None
    return subprocess.run(
        [sys.executable, str(ROOT / "train_cli.py"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize(
    "flag,value",
    [
        ("--epochs", "-1"),
        ("--batch-size", "0"),
        ("--latent-dim", "0"),
        ("--image-size", "100"),
        ("--lr", "nan"),
        ("--full-res-channels", "-2"),
        ("--precision", "fp8"),
    ],
)
def test_cli_rejects_bad_numbers(flag, value, tmp_path):
    proc = run_cli(flag, value, "--out", str(tmp_path / "r"))
    assert proc.returncode == 2
    assert flag in proc.stderr and "Traceback" not in proc.stderr


def test_cli_missing_folder_exits_2(tmp_path):
    proc = run_cli("--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r"), env_cache=tmp_path / "c")
    assert proc.returncode == 2
    assert "nowhere" in proc.stderr and "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_trains_and_resumes(tmp_path):
    write_good_faces(tmp_path / "faces", 24, size=64)
    common = [
        "--data",
        str(tmp_path / "faces"),
        "--batch-size",
        "8",
        "--latent-dim",
        "4",
        "--base-channels",
        "8",
        "--out",
        str(tmp_path / "run"),
        "--device",
        "cpu",
    ]
    proc = run_cli(*common, "--epochs", "1", env_cache=tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert "epoch 1/1" in proc.stderr and "SSIM" in proc.stderr
    proc = run_cli(*common, "--epochs", "2", "--resume", env_cache=tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stderr and len(checkpoint.load(tmp_path / "run" / "last.pt").history) == 2
    best = (tmp_path / "run" / "best.pt").stat().st_mtime_ns
    proc = run_cli(*common, "--resume", env_cache=tmp_path / "c")  # finished: said, and nothing rewritten
    assert proc.returncode == 0 and "has trained all its 2 epochs: nothing to resume" in proc.stderr
    assert "--resume --epochs 12" in proc.stderr and (tmp_path / "run" / "best.pt").stat().st_mtime_ns == best


def test_cli_skips_a_folder_for_the_discriminator_by_its_name(tmp_path):
    write_good_faces(tmp_path / "soft", 12, seed=1, size=64)
    write_good_faces(tmp_path / "crisp", 12, seed=2, size=64)
    common = ["--data", str(tmp_path / "soft"), "--data", str(tmp_path / "crisp"), "--adversarial-weight", "0.5"]
    common += ["--batch-size", "8", "--latent-dim", "4", "--base-channels", "8", "--epochs", "1", "--device", "cpu"]
    proc = run_cli(*common, "--adversarial-skip", str(tmp_path / "sfot"), "--out", str(tmp_path / "r"))
    assert proc.returncode == 2 and "--adversarial-skip sfot: not one of the --data folders" in proc.stderr
    assert not (tmp_path / "r" / "last.pt").exists()
    proc = run_cli(*common, "--adversarial-skip", str(tmp_path / "soft"), "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert checkpoint.load(tmp_path / "r" / "last.pt").training["config"]["adversarial_skip"] == ["soft"]


def test_cli_defaults_are_the_default_models_recipe():
    import train_cli

    args = train_cli.build_parser().parse_args([])
    model = VAEConfig(
        image_size=args.image_size,
        latent_dim=args.latent_dim,
        base_channels=args.base_channels,
        residual_blocks=args.residual_blocks,
        full_res_channels=args.full_res_channels,
        decoder_width=args.decoder_width,
        encoder_width=args.encoder_width,
        upsample=args.upsample,
    )
    assert model == DEFAULT_MODEL_RECIPE.model
    assert (
        (args.batch_size, args.lr, args.beta)
        == (DEFAULT_MODEL_RECIPE.batch_size, DEFAULT_MODEL_RECIPE.lr, DEFAULT_MODEL_RECIPE.beta)
        == (64, 1e-3, 0.02)
    )
    assert checkpoint.load(ROOT / "resources" / "default_model.pt").model.config == model


def test_package_default_drops_training_state_and_refits_the_prior(faces, tmp_path):
    from vae.measure.package_default import package

    result = Trainer(small_config(epochs=1), faces, tmp_path / "run").run()
    target = tmp_path / "default.pt"
    package(str(result.best_path), str(target), data=str(tmp_path / "faces"))
    packaged, source = checkpoint.load(target), checkpoint.load(result.best_path)
    assert packaged.training is None and source.training is not None
    assert target.stat().st_size < result.best_path.stat().st_size
    assert "glasses" in packaged.directions and packaged.latent_prior["mean"].shape[1] == 4
    z = torch.randn(2, 4)
    with torch.no_grad():
        assert torch.allclose(packaged.model.decode(z), source.model.decode(z), atol=0.02)


def test_package_default_refits_on_the_runs_own_training_split_and_names_the_data(faces, tmp_path, monkeypatch):
    from vae.explore.session import ExplorerSession
    from vae.measure import package_default

    result = Trainer(small_config(epochs=1, holdout=6), faces, tmp_path / "run").run()
    fitted_on = []
    real_statistics = package_default.latent_statistics
    monkeypatch.setattr(
        package_default,
        "latent_statistics",
        lambda model, data, idx: fitted_on.append(set(idx)) or real_statistics(model, data, idx),
    )
    target = tmp_path / "default.pt"
    package_default.package(
        str(result.best_path), str(target), data=str(tmp_path / "faces"), dataset_name="forty test faces"
    )
    held = set(holdout_split(faces.files, 6)[1])
    assert len(fitted_on[0]) == len(faces) - 6 and not fitted_on[0] & held  # the held-out faces stay out
    assert ExplorerSession.open(target).facts()["dataset"] == "forty test faces"


def test_the_statistics_batches_are_encodings_with_a_share_of_seeded_prior_draws(faces):
    from vae.measure import package_default
    from vae.measure.quality import random_latents
    from vae.model.metrics import encode_all
    from vae.train.trainer import latent_statistics

    model = ConvVAE(VAEConfig(latent_dim=4, base_channels=8))  # in train mode: the batches are still encodings (μ)
    idx = np.arange(len(faces))
    prior = latent_statistics(model.eval(), faces, idx)["latent_prior"]
    model.train()
    mixed, draws = package_default.norm_latent_batches(model, faces, idx, prior, 0.25)
    plain, none = package_default.norm_latent_batches(model, faces, idx, prior, 0.0)
    assert not model.training and [len(z) for z in mixed] == [len(z) for z in plain] == [len(faces)]
    assert (draws, none) == (10, 0)
    mu, _ = encode_all(model, faces, np.random.default_rng(0).permutation(idx))
    assert torch.allclose(plain[0], mu, atol=1e-5)
    assert torch.allclose(mixed[0][:30], mu[10:], atol=1e-5)  # round(40 × 0.25) = 10 draws replace the first 10
    assert torch.equal(mixed[0][30:], random_latents(10, 4, prior, seed=package_default.NORM_SEED))


def test_package_default_can_measure_the_decoders_statistics_on_encodings_and_random_draws(faces, tmp_path):
    from vae.measure.package_default import package
    from vae.model.latent import APP_TEMPERATURE
    from vae.model.norm_statistics import decoder_norms
    from vae.train.trainer import training_split

    result = Trainer(small_config(epochs=1), faces, tmp_path / "run").run()
    data, other = str(tmp_path / "faces"), tmp_path / "other"
    write_good_faces(other, 12, seed=5, size=64)
    names = ("kept", "encodings", "measured", "again", "elsewhere")
    paths = [tmp_path / f"{name}.pt" for name in names]
    package(str(result.best_path), str(paths[0]), data=data)
    package(str(result.best_path), str(paths[1]), data=data, norm_random_share=0.0)
    package(str(result.best_path), str(paths[2]), data=data, norm_random_share=0.25)
    package(str(paths[2]), str(paths[3]), data=data)  # packaged again without the flag: the statistics stay
    package(str(result.best_path), str(paths[4]), data=data, norm_random_share=0.25, norm_data=[str(other)])
    kept, encodings, measured, again, elsewhere = (checkpoint.load(path) for path in paths)
    assert "norm_statistics" not in kept.extra
    count = len(training_split(faces)[0])
    drawn = round(count * 0.25)
    recorded = {"random_share": 0.25, "encodings": count - drawn, "draws": drawn, "temperature": APP_TEMPERATURE}
    assert measured.extra["norm_statistics"] == again.extra["norm_statistics"] == {**recorded, "folders": ["faces"]}
    other_count = len(training_split(open_folder(other, 64, workers=1))[0])
    assert elsewhere.extra["norm_statistics"]["encodings"] == other_count - round(other_count * 0.25)
    assert elsewhere.extra["norm_statistics"]["folders"] == ["other"]
    variances = [
        torch.cat([norm.running_var for norm in decoder_norms(ckpt.model)])
        for ckpt in (kept, encodings, measured, elsewhere)
    ]
    assert all(not torch.allclose(a, b) for i, a in enumerate(variances) for b in variances[i + 1 :])
    assert same_weights(kept.model.encoder.state_dict(), measured.model.encoder.state_dict())
    assert same_weights(measured.model.state_dict(), again.model.state_dict())
    with pytest.raises(ValueError, match="training data"):
        package(str(result.best_path), str(tmp_path / "no_data.pt"), norm_random_share=0.25)
    with pytest.raises(ValueError, match="no training record"):  # a packaged model: its held-out faces are unknown
        package(str(paths[2]), str(tmp_path / "twice.pt"), data=data, norm_random_share=0.25)
    with pytest.raises(ValueError, match="only read with norm_random_share"):
        package(str(result.best_path), str(tmp_path / "ignored.pt"), data=data, norm_data=[str(other)])


def test_a_moving_average_of_the_weights_is_evaluated_saved_and_resumed_exactly(faces, tmp_path):
    config = small_config(epochs=3, average_decay=0.9)
    a, b = straight_and_resumed(config, faces, tmp_path)
    assert same_weights(a.model.state_dict(), b.model.state_dict())
    assert same_weights(a.training["trained_weights"], b.training["trained_weights"])
    assert not same_weights(a.model.state_dict(), a.training["trained_weights"])
    val_idx = Trainer(config, faces, tmp_path / "unused").val_idx
    assert evaluate(a.model, faces, val_idx, config.beta)["loss"] == pytest.approx(a.history[-1]["val_loss"], rel=1e-5)
    with pytest.raises(ValueError, match="average_decay"):
        small_config(average_decay=1.0)


def test_package_default_can_copy_the_directions_of_a_model_with_the_same_encoder(faces, tmp_path):
    from vae.measure.package_default import package

    result = Trainer(small_config(epochs=1), faces, tmp_path / "run").run()
    data, like = str(tmp_path / "faces"), tmp_path / "like.pt"
    marked = {"glasses": torch.arange(4.0), "hair_color:3": -torch.arange(4.0)}  # not what any data would give
    checkpoint.save(like, checkpoint.load(result.best_path).model, half=True, directions=marked)
    for start, name in ((like, "from_packaged"), (result.best_path, "from_run")):  # float16 and float32 encoders
        further = checkpoint.load(start).model
        with torch.no_grad():
            for weight_name, weight in further.named_parameters():
                if weight_name.startswith("dec"):
                    weight.add_(0.01)  # a decoder trained further on the same encodings
        checkpoint.save(tmp_path / f"{name}.pt", further)
        target = tmp_path / f"{name}_copied.pt"
        package(str(tmp_path / f"{name}.pt"), str(target), data=data, directions_like=str(like))
        copied = checkpoint.load(target).directions
        assert copied.keys() == marked.keys()
        assert all(torch.equal(torch.as_tensor(copied[k]).float(), marked[k]) for k in marked)

    other = Trainer(small_config(epochs=1, seed=1), faces, tmp_path / "other").run().best_path
    with pytest.raises(ValueError, match="encodes with another encoder"):
        package(str(other), str(tmp_path / "refused.pt"), data=data, directions_like=str(like))
    with pytest.raises(ValueError, match="copied from another model or computed"):
        package(str(result.best_path), str(tmp_path / "refused.pt"), labelled=[data], directions_like=str(like))
    checkpoint.save(tmp_path / "bare.pt", checkpoint.load(like).model, half=True)
    with pytest.raises(ValueError, match="holds no attribute directions"):
        package(str(result.best_path), str(tmp_path / "refused.pt"), directions_like=str(tmp_path / "bare.pt"))
