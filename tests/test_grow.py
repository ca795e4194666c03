"""Starting a 128×128 model from a trained 64×64 one (vae.grow) and train_cli.py --init-from."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vae import checkpoint
from vae.grow import grow_from
from vae.model import ConvVAE, VAEConfig

ROOT = Path(__file__).resolve().parents[1]


def models():
    torch.manual_seed(0)
    small = ConvVAE(VAEConfig(image_size=64, latent_dim=8, base_channels=8, full_res_channels=4)).eval()
    big = ConvVAE(VAEConfig(image_size=128, latent_dim=8, base_channels=4, full_res_channels=4)).eval()
    return small, big


def test_the_layers_that_line_up_are_copied_and_compute_the_same():
    small, big = models()
    copied, total = grow_from(big, small)
    assert copied > total // 2
    z = torch.randn(3, 8)
    with torch.no_grad():
        a, b = small.fc_decode(z), big.fc_decode(z)
        for index in range(5):  # 4×4 up to the 64×64 stage: the same layers in both
            a, b = small.decoder[index](a), big.decoder[index](b)
        assert torch.equal(a, b) and a.shape[-1] == 64
        assert torch.equal(small.decoder[-2].weight, big.decoder[-2].weight)
        x = torch.rand(2, 3, 64, 64)
        deep_small = small.encoder[1:](small.encoder[0](x))
        assert torch.equal(small.fc_mu.weight, big.fc_mu.weight) and deep_small.shape[1] == big.fc_mu.in_features
        assert torch.equal(small.encoder[1][0].weight, big.encoder[2][0].weight)


def test_growing_needs_the_same_latent_size():
    small, _ = models()
    with pytest.raises(ValueError, match="latent-16 model from a latent-8"):
        grow_from(ConvVAE(VAEConfig(image_size=128, latent_dim=16, base_channels=4)), small)


def test_train_cli_init_from_starts_from_the_copied_layers_and_refuses_a_bad_checkpoint(tmp_path):
    small, _ = models()
    source = tmp_path / "small.pt"
    checkpoint.save(source, small)
    common = [sys.executable, str(ROOT / "train_cli.py"), "--data", "builtin", "--builtin-count", "40", "--epochs", "1",
              "--batch-size", "8", "--image-size", "128", "--latent-dim", "8", "--base-channels", "4",
              "--full-res-channels", "4", "--seed", "1"]
    proc = subprocess.run([*common, "--init-from", str(source), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "weight tensors copied" in proc.stderr + proc.stdout
    assert json.loads((tmp_path / "run" / "config.json").read_text())["init_from"] == str(source)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nothing")
    proc = subprocess.run([*common, "--init-from", str(bad), "--out", str(tmp_path / "other")],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 2 and "bad.pt" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "other" / "last.pt").exists()
