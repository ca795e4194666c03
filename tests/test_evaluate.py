import os
import re

import pytest
import torch
from PIL import Image

from tests.helpers import write_good_faces
from vae.data import synth
from vae.data.cache import BUILTIN_SEED, open_folder
from vae.data.folder import is_validation
from vae.measure.evaluate import evaluate_folder, main
from vae.model import checkpoint
from vae.model.network import VAEConfig
from vae.train.trainer import TrainConfig, Trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    write_good_faces(root / "faces", 32, size=64)
    faces = open_folder(root / "faces", 64, workers=1, cache_dir=root / "cache")
    config = TrainConfig(model=VAEConfig(latent_dim=4, base_channels=8), epochs=1, batch_size=8, device="cpu", seed=5)
    return Trainer(config, faces, root / "run").run().best_path


def report(capsys) -> dict:
    line = capsys.readouterr().out.strip()
    match = re.search(r"on (\d+) (.+?): SSIM ([\d.]+), PSNR ([\d.]+) dB.*active units (\d+)/4", line)
    assert match, line
    return {"n": int(match[1]), "which": match[2], "ssim": float(match[3]), "psnr": float(match[4])}


def test_reports_metrics_on_new_faces_and_saves_the_grid(trained, tmp_path, capsys):
    grid = tmp_path / "grid.png"
    assert main([str(trained), "--count", "12", "--grid", str(grid)]) == 0
    result = report(capsys)
    assert result["n"] == 12 and result["which"] == "new faces (seed 777)"
    assert 0 < result["ssim"] <= 1 and result["psnr"] > 0
    width, height = Image.open(grid).size
    assert height > 3 * 64 and width > 12 * 64  # four rows (the run stored a fitted prior) of 12 faces
    assert not (tmp_path / "cache").exists()  # its faces are cached in a temporary folder, not the user's cache
    assert os.environ["FACE_EXPLORER_CACHE"] == str(tmp_path / "cache")  # and the environment is left alone


def test_training_faces_leave_out_the_validation_split(trained, capsys):
    assert main([str(trained), "--count", "40", "--training-faces"]) == 0
    result = report(capsys)
    names = [
        synth.face_name(BUILTIN_SEED, i, synth.random_attributes(synth.face_rng(BUILTIN_SEED, i))) for i in range(40)
    ]
    assert result["which"] == "built-in training faces"
    assert result["n"] == sum(not is_validation(name) for name in names) < 40


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", str(BUILTIN_SEED)], "training set"),
        (["--count", "0"], "at least 2"),
    ],
)
def test_bad_arguments_exit_2(trained, args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(trained), *args])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_bad_checkpoint_and_unwritable_grid_exit_2(trained, tmp_path, capsys):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    assert main([str(broken)]) == 2
    assert "error:" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main([str(trained), "--count", "4", "--grid", str(tmp_path / "file" / "grid.png")]) == 2
    assert "error:" in capsys.readouterr().err


def test_folder_mode_reports_held_out_and_latent_space_sharpness(trained, tmp_path, capsys):
    write_good_faces(tmp_path / "real", 100, seed=3, size=96)
    grid = tmp_path / "grid.png"
    assert main([str(trained), "--data", str(tmp_path / "real"), "--grid", str(grid)]) == 0
    out = capsys.readouterr().out
    held_out = sum(is_validation(p.name) for p in (tmp_path / "real").glob("*.png"))
    assert re.search(rf"on {held_out} held-out faces of .*: SSIM [\d.]+, PSNR", out), out
    ratios = re.search(
        r"Random \(8 × 500, T=0.8\) ([\d.]+) \(± ([\d.]+) between sets\), "
        r"morph middles ([\d.]+) \(snapped to the nearest faces, as the app shows it: ([\d.]+); to their average: "
        r"([\d.]+)\), A \+ \(B - C\) ([\d.]+) \(snapped to the nearest faces, as the app shows it: ([\d.]+); "
        r"to their average: ([\d.]+)\); "
        r"reconstructions ([\d.]+)",
        out,
    )
    assert ratios and all(float(r) >= 0 for r in ratios.groups()), out
    assert Image.open(grid).size[1] > 3 * 64
    _, faces = evaluate_folder(checkpoint.load(trained), tmp_path / "real")
    # one row each: reconstructions, Random, morph middles and arithmetic, each raw and snapped (the run stored a prior)
    assert len(faces) == 6 * min(16, held_out)
    _, few = evaluate_folder(checkpoint.load(trained), tmp_path / "real", all_faces=True, held_out=None)
    assert len(few) == 6 * 16
    write_good_faces(tmp_path / "ten", 10, seed=4, size=96)
    _, ten = evaluate_folder(checkpoint.load(trained), tmp_path / "ten", all_faces=True)
    assert len(ten) == 6 * 10  # 5 morph middles and 3 arithmetic results padded to rows of 10
    for row in (2, 3):
        assert (ten[10 * row : 10 * row + 10].amin(dim=(1, 2, 3)) == 1).tolist() == [False] * 5 + [True] * 5
    for row in (4, 5):
        assert (ten[10 * row : 10 * row + 10].amin(dim=(1, 2, 3)) == 1).tolist() == [False] * 3 + [True] * 7
    assert main([str(trained), "--data", str(tmp_path / "real"), "--all-faces"]) == 0
    assert "on 100 faces of" in capsys.readouterr().out
    assert main([str(trained), "--data", str(tmp_path / "real"), "--held-out", "20", "--decoder-bound"]) == 0
    out = capsys.readouterr().out
    assert "on 20 held-out faces of" in out
    bound = re.search(
        r"decoder bound on 20 of them: SSIM ([\d.]+) with each latent optimised .*, ([\d.]+) from the encoder", out
    )
    assert bound and float(bound.group(1)) >= float(bound.group(2)), out  # (this tiny model ignores its latents)
    refined = re.search(r"([\d.]+) refined as the app encodes an image", out)
    assert refined and float(refined.group(1)) >= float(bound.group(2)), out
    assert (
        main([str(trained), "--data", str(tmp_path / "real"), "--held-out", "20", "--training-faces", "--count", "30"])
        == 0
    )
    assert "on 30 training faces of" in capsys.readouterr().out
    _, seen = evaluate_folder(checkpoint.load(trained), tmp_path / "real", held_out=20, training=30)
    assert len(seen) == 6 * 16 and not torch.equal(
        seen, evaluate_folder(checkpoint.load(trained), tmp_path / "real", held_out=20)[1]
    )  # other faces
    with pytest.raises(SystemExit):
        main([str(trained), "--data", str(tmp_path / "real"), "--all-faces", "--training-faces"])
    assert "exclude each other" in capsys.readouterr().err
    assert main([str(trained), "--data", str(tmp_path / "real"), "--held-out", "100"]) == 2
    assert "cannot hold out 100 of 100 images" in capsys.readouterr().err
    write_good_faces(tmp_path / "few", 2, size=96)
    assert main([str(trained), "--data", str(tmp_path / "few"), "--all-faces"]) == 2
    assert "need at least 3" in capsys.readouterr().err
