"""Starting a 128×128 model from a trained 64×64 one (vae.model.grow) and train_cli.py --init-from."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vae.model import checkpoint
from vae.model.grow import grow_from
from vae.model.network import ConvVAE, VAEConfig, shares_latent_space

ROOT = Path(__file__).resolve().parents[1]


def models(upsample="transposed"):
    torch.manual_seed(0)
    small = ConvVAE(
        VAEConfig(image_size=64, latent_dim=8, base_channels=8, full_res_channels=4, upsample=upsample)
    ).eval()
    big = ConvVAE(
        VAEConfig(image_size=128, latent_dim=8, base_channels=4, full_res_channels=4, upsample=upsample)
    ).eval()
    return small, big


@pytest.mark.parametrize("upsample", ["transposed", "resize"])
def test_the_layers_that_line_up_are_copied_whole_and_compute_the_same(upsample):
    small, big = models(upsample)
    untouched = big.encoder[1][1].running_mean.clone()
    copied, total = grow_from(big, small)
    assert total == sum(p.numel() for p in big.parameters()) and total // 2 < copied < total
    z = torch.randn(3, 8)
    with torch.no_grad():
        a, b = small.fc_decode(z), big.fc_decode(z)
        for index in range(5):  # 4×4 up to the 64×64 stage: the same layers in both
            a, b = small.decoder[index](a), big.decoder[index](b)
        assert torch.equal(a, b) and a.shape[-1] == 64
        assert torch.equal(small.decoder[-2].weight, big.decoder[-2].weight)
        assert torch.equal(small.fc_mu.weight, big.fc_mu.weight)
        assert torch.equal(small.encoder[1][0].weight, big.encoder[2][0].weight)
    # the 64px model's first stage reads RGB, the 128px one's second reads 4 channels: neither its conv nor its
    # batch norm is copied
    assert torch.equal(big.encoder[1][1].running_mean, untouched)


def test_growing_needs_the_same_latent_size_blocks_and_a_stage_that_lines_up():
    small, _ = models()
    with pytest.raises(ValueError, match="latent_dim=16 from one with latent_dim=8"):
        grow_from(ConvVAE(VAEConfig(image_size=128, latent_dim=16, base_channels=4)), small)
    with pytest.raises(ValueError, match="residual_blocks=1 from one with residual_blocks=0"):
        grow_from(ConvVAE(VAEConfig(image_size=128, latent_dim=8, base_channels=4, residual_blocks=1)), small)
    with pytest.raises(ValueError, match="upsample=resize from one with upsample=transposed"):
        grow_from(ConvVAE(VAEConfig(image_size=128, latent_dim=8, base_channels=4, upsample="resize")), small)
    with pytest.raises(ValueError, match=r"no convolution stage .*\(try --base-channels 4\)"):
        grow_from(ConvVAE(VAEConfig(image_size=128, latent_dim=8, base_channels=8, full_res_channels=4)), small)


def test_residual_blocks_and_stages_keep_their_places():
    torch.manual_seed(0)
    small = ConvVAE(VAEConfig(image_size=64, latent_dim=8, base_channels=8, max_channels=16, residual_blocks=1))
    big = ConvVAE(VAEConfig(image_size=128, latent_dim=8, base_channels=4, max_channels=16, residual_blocks=1))
    grow_from(big, small)
    stages = small.config.stages
    assert torch.equal(small.encoder[stages].body[0].weight, big.encoder[stages + 1].body[0].weight)  # the block
    assert torch.equal(small.encoder[stages - 1][0].weight, big.encoder[stages][0].weight)  # the 8→4 stage
    assert torch.equal(small.decoder[1].body[0].weight, big.decoder[1].body[0].weight)


def test_train_cli_init_from_starts_from_the_copied_layers_and_refuses_a_bad_checkpoint(tmp_path):
    small, _ = models()
    source = tmp_path / "small.pt"
    checkpoint.save(source, small)
    common = [
        sys.executable,
        str(ROOT / "train_cli.py"),
        "--data",
        "builtin",
        "--builtin-count",
        "40",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--image-size",
        "128",
        "--latent-dim",
        "8",
        "--base-channels",
        "4",
        "--full-res-channels",
        "4",
        "--seed",
        "1",
    ]
    proc = subprocess.run(
        [*common, "--init-from", str(source), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"started from .*small.pt: [\d,]+ of the model's [\d,]+ weights copied", proc.stderr + proc.stdout)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["init_from"] == str(source)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nothing")
    proc = subprocess.run(
        [*common, "--init-from", str(bad), "--out", str(tmp_path / "other")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "bad.pt" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "other" / "last.pt").exists()


def test_resuming_keeps_how_the_run_began(tmp_path):
    from tests.helpers import write_good_faces
    from vae.data.cache import open_folder
    from vae.train.trainer import TrainConfig, Trainer

    small, _ = models()
    source = tmp_path / "small.pt"
    checkpoint.save(source, small)
    write_good_faces(tmp_path / "faces", 12, size=128)
    data = open_folder(tmp_path / "faces", 128, workers=1)
    arch = VAEConfig(image_size=128, latent_dim=8, base_channels=4, full_res_channels=4)
    Trainer(
        TrainConfig(model=arch, epochs=1, batch_size=4, device="cpu", init_from=str(source)), data, tmp_path / "run"
    ).run()
    logs = []
    Trainer(
        TrainConfig(model=arch, epochs=2, batch_size=4, device="cpu", init_from="other.pt"),
        data,
        tmp_path / "run",
        log=logs.append,
    ).run(resume=True)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["init_from"] == str(source)
    assert any("--init-from is not used when resuming" in line for line in logs)


@pytest.mark.parametrize("upsample", ["transposed", "resize"])
def test_a_wider_decoder_starts_drawing_the_same_faces_and_its_copies_learn_apart(upsample):
    torch.manual_seed(0)
    arch = dict(image_size=64, latent_dim=8, base_channels=8, full_res_channels=4, upsample=upsample)
    narrow = ConvVAE(VAEConfig(**arch))
    wide = ConvVAE(VAEConfig(**arch, decoder_width=3))
    copied, total = grow_from(wide, narrow)
    assert copied == total > sum(p.numel() for p in narrow.parameters())
    x = torch.rand(4, 3, 64, 64)
    for mode in (narrow.eval, narrow.train):
        mode()
        wide.train(narrow.training)
        torch.manual_seed(1)
        a = narrow(x)[0]
        torch.manual_seed(1)
        b = wide(x)[0]
        assert torch.allclose(a, b, atol=1e-5)
    channels = narrow.config.decoder_channels(narrow.config.stages - 2)
    z = torch.randn(5, 8)

    def copies_differ():
        wide.eval()
        with torch.no_grad():
            h = wide.decoder[1](wide.decoder[0](wide.fc_decode(z)))
        assert h.shape[1] == 3 * channels
        return (h[:, :channels] - h[:, channels : 2 * channels]).abs().max().item()

    assert copies_differ() < 1e-5  # a channel's copies draw the same (up to rounding)
    optimiser = torch.optim.SGD(wide.parameters(), lr=0.1)
    wide.train()
    recon, mu, logvar = wide(x)
    ((recon - x) ** 2).sum().backward()
    optimiser.step()
    assert copies_differ() > 1e-4  # their shares of the next layer differ, so their gradients do


@pytest.mark.parametrize("residual_blocks", [0, 1])
def test_a_wider_encoder_starts_with_the_same_encodings_and_its_copies_learn_apart(residual_blocks):
    torch.manual_seed(0)
    arch = dict(image_size=64, latent_dim=8, base_channels=8, full_res_channels=4, residual_blocks=residual_blocks)
    narrow = ConvVAE(VAEConfig(**arch, decoder_width=2))
    wide = ConvVAE(VAEConfig(**arch, decoder_width=2, encoder_width=2))
    copied, total = grow_from(wide, narrow)
    assert copied == total > sum(p.numel() for p in narrow.parameters())
    assert wide.fc_mu.in_features == 2 * narrow.fc_mu.in_features
    x = torch.rand(4, 3, 64, 64)
    for mode in (narrow.eval, narrow.train):
        mode()
        wide.train(narrow.training)
        torch.manual_seed(1)
        a = narrow(x)
        torch.manual_seed(1)
        b = wide(x)
        assert all(torch.allclose(u, v, atol=1e-4) for u, v in zip(a, b, strict=True))  # faces, μ and log σ²
    first = narrow.config.encoder_channels(1)

    def copies_differ():
        wide.eval()
        with torch.no_grad():
            h = wide.encoder[1](wide.encoder[0](x))
        return (h[:, :first] - h[:, first : 2 * first]).abs().max().item()

    assert copies_differ() < 1e-5
    optimiser = torch.optim.SGD(wide.parameters(), lr=0.1)
    wide.train()
    recon, mu, logvar = wide(x)
    ((recon - x) ** 2).sum().backward()
    optimiser.step()
    assert copies_differ() > 1e-4


def assert_grown_whole_drawing_the_same_faces(wide: ConvVAE, narrow: ConvVAE):
    """Grow ``wide`` from ``narrow``: every weight set, more of them, and the same faces decoded."""
    copied, total = grow_from(wide, narrow)
    assert copied == total > sum(p.numel() for p in narrow.parameters())
    narrow.eval()
    wide.eval()
    z = torch.randn(5, narrow.latent_dim)
    with torch.no_grad():
        assert torch.allclose(narrow.decode(z), wide.decode(z), atol=1e-5)


@pytest.mark.parametrize("decoder_width", [1, 2])
def test_a_wider_full_resolution_stage_starts_drawing_the_same_faces(decoder_width):
    torch.manual_seed(0)
    arch = dict(image_size=64, latent_dim=8, base_channels=8, decoder_width=1)
    narrow = ConvVAE(VAEConfig(**arch, full_res_channels=4))
    wide = ConvVAE(VAEConfig(**{**arch, "decoder_width": decoder_width}, full_res_channels=8))
    assert_grown_whole_drawing_the_same_faces(wide, narrow)
    assert wide.decoder[-3][0].out_channels == 8 and wide.decoder[-2].in_channels == 8
    refused = r"full-resolution stage of 6 channels from one of 4: .* --full-res-channels 4"
    with pytest.raises(ValueError, match=refused):
        grow_from(ConvVAE(VAEConfig(**arch, full_res_channels=6)), narrow)


def test_high_resolution_stages_raised_to_a_floor_start_drawing_the_same_faces():
    torch.manual_seed(0)
    arch = dict(image_size=64, latent_dim=8, base_channels=4, full_res_channels=4)
    narrow = ConvVAE(VAEConfig(**arch))
    wide = ConvVAE(VAEConfig(**arch, decoder_min_channels=16))
    assert [wide.config.decoder_channels(s) for s in range(4)] == [16, 16, 16, 32]
    assert wide.config.encoder_channels(0) == narrow.config.encoder_channels(0) == 4
    assert_grown_whole_drawing_the_same_faces(wide, narrow)
    assert wide.decoder[-3][0].in_channels == 16 and wide.decoder[-4][0].out_channels == 16
    assert shares_latent_space(narrow, wide)  # the encoder is left as it was
    refused = r"decoder stage of 12 channels from one of 8: .* --decoder-min-channels 8"
    with pytest.raises(ValueError, match=refused):
        grow_from(ConvVAE(VAEConfig(**arch, decoder_min_channels=12)), narrow)
    with pytest.raises(ValueError, match=r"decoder stage of 4 channels from one of 16: .* --decoder-min-channels 16"):
        grow_from(narrow, wide)  # a floor never falls: the wider stages would start untrained


def test_a_decoder_width_that_is_not_a_multiple_is_refused():
    arch = dict(image_size=64, latent_dim=8, base_channels=8)
    with pytest.raises(ValueError, match=r"width 3 from one of width 2: .* \(try --decoder-width 2\)"):
        grow_from(ConvVAE(VAEConfig(**arch, decoder_width=3)), ConvVAE(VAEConfig(**arch, decoder_width=2)))
    with pytest.raises(ValueError, match=r"width 1 from one of width 2: .* \(try --decoder-width 2\)"):
        grow_from(ConvVAE(VAEConfig(**arch)), ConvVAE(VAEConfig(**arch, decoder_width=2)))
    with pytest.raises(ValueError, match=r"an encoder of width 3 from one of width 2: .* \(try --encoder-width 2\)"):
        grow_from(ConvVAE(VAEConfig(**arch, encoder_width=3)), ConvVAE(VAEConfig(**arch, encoder_width=2)))
