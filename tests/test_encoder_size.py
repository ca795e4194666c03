"""A 128 px model that encodes at 64 px (``encoder_size``), grown from a 64 px model, and training its decoder alone."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.helpers import write_good_faces
from vae.data.cache import open_folder
from vae.model import checkpoint
from vae.model.grow import grow_from
from vae.model.network import ENCODER_PREFIXES, ConvVAE, VAEConfig, latent_space_id, shares_latent_space
from vae.train.config import TrainConfig
from vae.train.trainer import Trainer

SMALL = VAEConfig(image_size=64, latent_dim=4, base_channels=8, full_res_channels=4, encoder_width=2)
LARGE = VAEConfig(image_size=128, latent_dim=4, base_channels=4, full_res_channels=4, encoder_width=2, encoder_size=64)


def test_a_128_model_encoding_at_64_starts_with_a_64_models_encoder_whole_and_encodes_alike():
    torch.manual_seed(0)
    small, large = ConvVAE(SMALL).eval(), ConvVAE(LARGE).eval()
    assert [tuple(p.shape) for p in large.encoder.parameters()] == [tuple(p.shape) for p in small.encoder.parameters()]
    grow_from(large, small)
    for name, value in small.state_dict().items():
        if name.startswith(ENCODER_PREFIXES):
            assert torch.equal(large.state_dict()[name], value)
    faces = torch.rand(3, 3, 128, 128)
    brought_down = F.interpolate(faces, size=(64, 64), mode="bicubic", antialias=True).clamp(0, 1)
    with torch.no_grad():
        assert torch.allclose(large.encode(faces)[0], small.encode(brought_down)[0], atol=1e-5)
        assert torch.allclose(large.encode(brought_down)[0], small.encode(brought_down)[0], atol=1e-5)
        assert large(faces)[0].shape == (3, 3, 128, 128)


@pytest.mark.parametrize(
    "settings",
    [{"encoder_size": 128}, {"encoder_size": 32}, {"image_size": 128, "encoder_size": 96}],
)
def test_an_encoder_size_that_is_not_a_supported_size_up_to_the_image_size_is_refused(settings):
    with pytest.raises(ValueError, match="encoder_size"):
        VAEConfig(**settings)


def test_the_setting_is_kept_in_the_checkpoint(tmp_path):
    checkpoint.save(tmp_path / "m.pt", ConvVAE(LARGE))
    assert checkpoint.load(tmp_path / "m.pt").model.config.encoder_size == 64


@pytest.fixture(scope="module")
def faces128(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faces")
    write_good_faces(folder, 16, size=128)
    return open_folder(folder, 128, workers=1, cache_dir=tmp_path_factory.mktemp("cache"))


def test_the_decoder_alone_learns_and_the_encoder_stays_as_it_was(faces128, tmp_path):
    torch.manual_seed(0)
    checkpoint.save(tmp_path / "small.pt", ConvVAE(SMALL))
    config = TrainConfig(
        model=LARGE, epochs=1, batch_size=8, lr=2e-3, decoder_only=True, init_from=str(tmp_path / "small.pt")
    )
    start = ConvVAE(LARGE)
    grow_from(start, checkpoint.load(tmp_path / "small.pt").model, seed=config.seed)
    before = start.state_dict()
    after = checkpoint.load(Trainer(config, faces128, tmp_path / "run").run().last_path).model.state_dict()
    encoder = [n for n in before if n.startswith(("encoder.", "fc_mu", "fc_logvar"))]
    decoder = [n for n in before if n.startswith(("decoder.", "fc_decode")) and before[n].is_floating_point()]
    assert all(torch.equal(before[n], after[n]) for n in encoder)  # batch-norm statistics included
    assert max((before[n] - after[n]).abs().max().item() for n in decoder) > 1e-4


def test_a_decoder_tail_trains_its_last_stages_alone(faces128, tmp_path):
    torch.manual_seed(0)
    checkpoint.save(tmp_path / "large.pt", ConvVAE(LARGE))
    config = TrainConfig(
        model=LARGE,
        epochs=1,
        batch_size=8,
        lr=2e-3,
        decoder_only=True,
        decoder_tail=2,
        init_from=str(tmp_path / "large.pt"),
    )
    before = checkpoint.load(tmp_path / "large.pt").model.state_dict()
    after = checkpoint.load(Trainer(config, faces128, tmp_path / "run").run().last_path).model.state_dict()
    model = ConvVAE(LARGE)
    names = {id(p): n for n, p in model.named_parameters()}
    tail = {names[id(p)] for p in model.decoder_tail_parameters(2)}
    last_two = ("decoder.4.", "decoder.5.", "decoder.6.")  # the 64 and 128 px stages, then the output layer
    assert tail == {n for n in names.values() if n.startswith(last_two)}
    changed = {n for n in names.values() if not torch.equal(before[n], after[n])}
    assert changed == tail


def test_a_decoder_tail_longer_than_the_decoder_is_refused():
    whole = ConvVAE(LARGE).decoder_tail_parameters(5)
    assert len(whole) == len([*ConvVAE(LARGE).decoder.parameters()])
    with pytest.raises(ValueError, match="decoder tail: 6 stages of a decoder with 5"):
        ConvVAE(LARGE).decoder_tail_parameters(6)
    with pytest.raises(ValueError, match="decoder_tail needs decoder_only"):
        TrainConfig(decoder_tail=1)


@pytest.mark.parametrize(
    "settings",
    [{"decoder_only": True}, {"decoder_only": True, "encoder_only": True, "init_from": "m.pt"}],
)
def test_decoder_only_without_a_model_to_start_from_or_with_encoder_only_is_refused(settings):
    with pytest.raises(ValueError, match="decoder_only"):
        TrainConfig(**settings)


def test_a_grown_model_shares_the_latent_space_until_its_encoder_changes():
    torch.manual_seed(0)
    small, large = ConvVAE(SMALL).eval(), ConvVAE(LARGE).eval()
    assert not shares_latent_space(small, large)
    grow_from(large, small)
    assert shares_latent_space(small, large) and shares_latent_space(large, small)
    assert latent_space_id(small) == latent_space_id(large) != latent_space_id(ConvVAE(SMALL))  # not the decoders
    large.encoder[0][1].running_mean += 1e-3  # the encoder's statistics measured again: another latent space
    assert not shares_latent_space(small, large) and latent_space_id(small) != latent_space_id(large)
    assert not shares_latent_space(small, ConvVAE(VAEConfig(image_size=64, latent_dim=5, base_channels=8)))
