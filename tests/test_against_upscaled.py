import re

import pytest
import torch

from tests.helpers import write_good_faces
from vae.measure.against_upscaled import enlarge, main
from vae.model import checkpoint
from vae.model.network import ConvVAE, VAEConfig


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("against_upscaled")
    write_good_faces(root / "faces", 40, size=128)
    torch.manual_seed(0)
    small = checkpoint.save(root / "small.pt", ConvVAE(VAEConfig(latent_dim=4, base_channels=8)))
    large = checkpoint.save(
        root / "large.pt", ConvVAE(VAEConfig(image_size=128, latent_dim=4, base_channels=4, full_res_channels=4))
    )
    return root, small, large


def test_reports_the_large_model_and_the_small_one_enlarged_by_each_method(models, capsys):
    root, small, large = models
    assert main([str(large), str(small), "--data", str(root / "faces"), "--held-out", "6"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^(\d+px model.*?)\s+([\d.]+)\s+([\d.]+) dB\s+([\d.]+)$", out, re.M)
    assert [r[0] for r in rows] == [
        "128px model",
        "64px model, crisp ×2",
        "64px model, lanczos ×2",
        "64px model, nearest ×2",
    ], out
    assert all(0 <= float(r[1]) <= 1 and float(r[3]) >= 0 for r in rows), out


def test_the_models_in_the_wrong_order_or_a_bad_checkpoint_exit_2(models, tmp_path, capsys):
    root, small, large = models
    assert main([str(small), str(large), "--data", str(root / "faces"), "--held-out", "6"]) == 2
    assert "must draw larger faces" in capsys.readouterr().err
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    assert main([str(tmp_path / "bad.pt"), str(small), "--data", str(root / "faces")]) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_enlarging_keeps_a_flat_colour_and_doubles_the_side():
    flat = torch.full((2, 3, 64, 64), 0.4)
    for method in ("crisp", "lanczos", "nearest"):
        big = enlarge(flat, 128, method)
        assert big.shape == (2, 3, 128, 128)
        assert torch.allclose(big, torch.full_like(big, 102 / 255), atol=1 / 255)
