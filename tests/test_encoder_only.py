"""Training the encoder alone (``--encoder-only``): the decoder stays as it was, μ learns to reconstruct better."""

from __future__ import annotations

import pytest
import torch

import train_cli
from tests.helpers import cached_faces
from vae.model import checkpoint
from vae.model.network import VAEConfig
from vae.train.config import TrainConfig
from vae.train.trainer import Trainer

ARCH = VAEConfig(latent_dim=4, base_channels=8, full_res_channels=4)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return cached_faces(tmp_path_factory, 16)


@pytest.fixture(scope="module")
def trained(faces, tmp_path_factory):
    config = TrainConfig(model=ARCH, epochs=2, batch_size=8, lr=2e-3, beta=0.02)
    return Trainer(config, faces, tmp_path_factory.mktemp("full") / "run").run().last_path


def squared_error_from_mu(model, faces) -> float:
    model.eval()
    x = faces.batch(list(range(len(faces))))
    with torch.no_grad():
        mu, _ = model.encode(x)
        return (model.decode(mu) - x).pow(2).flatten(1).sum(1).mean().item()


@pytest.mark.parametrize("terms", [{}, {"adversarial_weight": 1.0, "adversarial_start": 0.0, "ssim_weight": 0.1}])
def test_the_encoder_learns_while_the_decoder_and_the_variance_head_stay_as_they_were(faces, trained, tmp_path, terms):
    config = TrainConfig(
        model=ARCH, epochs=3, batch_size=8, lr=2e-3, beta=0.02, encoder_only=True, init_from=str(trained), **terms
    )
    result = Trainer(config, faces, tmp_path / "run").run()
    before, after = checkpoint.load(trained).model, checkpoint.load(result.last_path).model
    old, new = before.state_dict(), after.state_dict()
    fixed = [name for name in old if not name.startswith(("encoder.", "fc_mu."))]
    assert any(name.startswith("decoder.") and "running_mean" in name for name in fixed)
    assert all(torch.equal(old[name], new[name]) for name in fixed)  # weights and batch-norm statistics alike
    assert max((old[name] - new[name]).abs().max().item() for name in old if name.startswith("encoder.")) > 1e-4
    assert squared_error_from_mu(after, faces) < squared_error_from_mu(before, faces)


def test_the_encoder_alone_needs_a_trained_model(tmp_path, capsys):
    with pytest.raises(ValueError, match="encoder_only needs init_from"):
        TrainConfig(model=ARCH, encoder_only=True)
    code = train_cli.main(["--data", str(tmp_path / "no-such-folder"), "--out", str(tmp_path / "r"), "--encoder-only"])
    assert code == 2
    assert "encoder_only needs init_from" in capsys.readouterr().err
