import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vae.model.loss import kl_per_dimension, vae_loss, warmup_beta
from vae.model.network import ConvVAE, VAEConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("size", [64, 128])
def test_shapes_and_ranges(size):
    model = ConvVAE(VAEConfig(image_size=size, latent_dim=32, base_channels=8))
    x = torch.rand(3, 3, size, size)
    recon, mu, logvar = model(x)
    assert recon.shape == x.shape
    assert mu.shape == logvar.shape == (3, 32)
    assert recon.min() >= 0 and recon.max() <= 1
    assert model.image_size == size and model.latent_dim == 32
    samples = model.eval().sample(5, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (5, 3, size, size)


def test_residual_blocks_keep_shapes():
    model = ConvVAE(VAEConfig(image_size=64, latent_dim=4, base_channels=8, residual_blocks=2))
    recon, _, _ = model(torch.rand(2, 3, 64, 64))
    assert recon.shape == (2, 3, 64, 64)


def test_full_resolution_stage_adds_a_stage_and_keeps_shapes():
    plain = ConvVAE(VAEConfig(image_size=64, latent_dim=4, base_channels=8))
    model = ConvVAE(VAEConfig(image_size=64, latent_dim=4, base_channels=8, full_res_channels=6))
    recon, _, _ = model(torch.rand(2, 3, 64, 64))
    assert recon.shape == (2, 3, 64, 64) and 0 <= recon.min() and recon.max() <= 1
    full_res = [m for m in model.decoder if type(m) is torch.nn.Conv2d]
    assert len(full_res) == 1 and full_res[0].in_channels == 6 and full_res[0].kernel_size == (3, 3)
    assert len(model.decoder) == len(plain.decoder) + 1
    with pytest.raises(ValueError, match="full_res_channels"):
        VAEConfig(full_res_channels=-1)


@pytest.mark.parametrize("full_res", [0, 6])
def test_resize_upsampling_keeps_shapes_and_uses_no_transposed_convolution(full_res):
    model = ConvVAE(
        VAEConfig(image_size=64, latent_dim=4, base_channels=8, full_res_channels=full_res, upsample="resize")
    )
    recon, _, _ = model(torch.rand(2, 3, 64, 64))
    assert recon.shape == (2, 3, 64, 64) and 0 <= recon.min() and recon.max() <= 1
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.modules())
    assert sum(isinstance(m, torch.nn.Upsample) for m in model.modules()) == 4
    with pytest.raises(ValueError, match="upsample must be one of"):
        VAEConfig(upsample="bilinear")


@torch.no_grad()
def test_resize_upsampling_draws_no_checkerboard_on_a_flat_input():
    torch.manual_seed(0)
    flat = torch.ones(1, 256, 8, 8)  # the first up-stage reads the 4×4 start's 256 channels
    inside = (slice(None), slice(None), slice(2, -2), slice(2, -2))  # away from the zero padding
    resize = ConvVAE(VAEConfig(upsample="resize")).decoder[1][0]
    out = resize(flat)[inside]
    assert out.shape[-1] == 12 and torch.allclose(out, out[..., :1, :1].expand_as(out), atol=1e-6)
    transposed = ConvVAE(VAEConfig()).decoder[1][0]
    out = transposed(flat)[inside]
    assert (out[..., 0::2, 0::2] - out[..., 1::2, 1::2]).abs().max() > 1e-2  # a period-2 pattern


def test_sample_is_seeded_and_temperature_scales():
    model = ConvVAE(VAEConfig(latent_dim=4, base_channels=8)).eval()
    a = model.sample(2, generator=torch.Generator().manual_seed(3))
    b = model.sample(2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    cold = model.sample(1, temperature=0.0)
    assert torch.allclose(cold, model.decode(torch.zeros(1, 4)))


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="image_size"):
        VAEConfig(image_size=100)
    with pytest.raises(ValueError, match="latent_dim"):
        VAEConfig(latent_dim=0)


def test_kl_of_standard_normal_posterior_is_zero():
    mu = torch.zeros(4, 8)
    logvar = torch.zeros(4, 8)
    assert torch.all(kl_per_dimension(mu, logvar) == 0)
    terms = vae_loss(torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8), mu, logvar)
    assert terms.kl.item() == 0


def test_loss_terms_match_hand_computation():
    recon = torch.full((2, 3, 4, 4), 0.5)
    target = torch.zeros(2, 3, 4, 4)
    mu = torch.ones(2, 3)
    logvar = torch.zeros(2, 3)
    terms = vae_loss(recon, target, mu, logvar, beta=2.0)
    assert terms.recon.item() == pytest.approx(0.25 * 48)
    assert terms.kl.item() == pytest.approx(3 * 0.5)
    assert terms.total.item() == pytest.approx(12 + 2 * 1.5)


def test_the_l1_term_adds_summed_absolute_error_but_not_to_the_reported_reconstruction():
    recon = torch.full((2, 3, 4, 4), 0.5)
    target = torch.zeros(2, 3, 4, 4)
    target[1] = 0.8  # errors of 0.5 and 0.3 per value: squared 0.25 and 0.09, absolute 0.5 and 0.3
    mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    plain = vae_loss(recon, target, mu, logvar)
    with_l1 = vae_loss(recon, target, mu, logvar, l1_weight=0.1)
    assert with_l1.recon.item() == pytest.approx(plain.recon.item()) == pytest.approx(48 * (0.25 + 0.09) / 2)
    assert with_l1.total.item() == pytest.approx(plain.total.item() + 0.1 * 48 * (0.5 + 0.3) / 2)
    assert vae_loss(target, target, mu, logvar, l1_weight=0.1).total.item() == 0


def test_free_bits_raise_the_floor_but_report_true_kl():
    mu = torch.zeros(2, 4)
    logvar = torch.zeros(2, 4)
    x = torch.zeros(2, 3, 4, 4)
    terms = vae_loss(x, x, mu, logvar, beta=1.0, free_bits=0.5)
    assert terms.kl.item() == 0
    assert terms.total.item() == pytest.approx(4 * 0.5)


def test_warmup_ramps_beta():
    assert warmup_beta(1.5, 0, 2) == 0
    assert warmup_beta(1.5, 1, 2) == pytest.approx(0.75)
    assert warmup_beta(1.5, 5, 2) == 1.5
    assert warmup_beta(1.5, 0, 0) == 1.5


def test_the_package_exports_resolve_on_first_use():
    import vae
    from vae.model.checkpoint import load_model

    assert vae.ConvVAE is ConvVAE and vae.load_model is load_model and "VAEConfig" in dir(vae)
    with pytest.raises(AttributeError):
        _ = vae.no_such_name


def test_submodules_are_reached_from_the_package_without_importing_them_first():
    code = (
        "import sys, vae\n"
        "assert 'latent' in dir(vae) and 'vae.model.latent' not in sys.modules\n"
        "import torch\n"
        "print(vae.model.latent.lerp(torch.zeros(2), torch.ones(2), 3)[1].tolist())"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "[0.5, 0.5]", proc.stderr
