import torch
from torchvision.transforms.functional import gaussian_blur

from vae.measure.quality import (
    arithmetic_results,
    decode,
    laplacian_energy,
    morph_middles,
    random_latents,
    random_sharpness,
    sharpness_ratio,
)
from vae.model.latent import fit_gaussian, fit_latents


def _edges(n=4, size=32):
    images = torch.ones(n, 3, size, size)
    images[:, :, 8:24, 8:24] = 0.1
    return images


def test_blur_lowers_the_sharpness_ratio():
    sharp = _edges()
    assert sharpness_ratio(sharp, sharp) == 1.0
    assert sharpness_ratio(gaussian_blur(sharp, 5, 1.5), sharp) < 0.5
    assert laplacian_energy(torch.full((2, 3, 16, 16), 0.5)).max() == 0


def test_morph_middles_and_arithmetic_follow_the_app():
    mu = torch.randn(7, 5)
    middles = morph_middles(mu)
    assert middles.shape == (3, 5)
    bisector = mu[0] / mu[0].norm() + mu[1] / mu[1].norm()
    direction = bisector / bisector.norm()
    assert torch.allclose(middles[0] / middles[0].norm(), direction, atol=1e-4)  # slerp's middle bisects the angle
    assert torch.allclose(arithmetic_results(mu), (mu[0:6:3] + mu[1:6:3] - mu[2:6:3]))


def test_random_latents_sample_the_stored_prior():
    prior = fit_gaussian(torch.randn(500, 3) * 0.1 + 5)
    z = random_latents(400, 3, prior, temperature=1.0)
    assert (z.mean(0) - 5).abs().max() < 0.05
    assert random_latents(400, 3, None).std() < 1.0  # N(0, I) at the app's temperature 0.8


def test_random_sharpness_averages_sets_of_draws_and_reports_their_spread(tiny_model):
    real = _edges(size=64)
    mean, spread, first = random_sharpness(tiny_model, None, real, count=5, sets=3)
    per_set = [
        sharpness_ratio(decode(tiny_model, random_latents(5, tiny_model.latent_dim, None, seed=s)), real)
        for s in range(3)
    ]
    assert mean == sum(per_set) / 3
    assert spread == torch.tensor(per_set).std().item() > 0
    assert torch.equal(first, decode(tiny_model, random_latents(5, tiny_model.latent_dim, None, seed=0)))
    assert random_sharpness(tiny_model, None, real, count=5, sets=1)[1] == 0.0


@torch.no_grad()
def faces_of_random_latents(model, count: int, seed: int) -> torch.Tensor:
    """What ``model`` decodes from ``count`` latents drawn from N(0, I) with ``seed``."""
    torch.manual_seed(seed)
    return model.decode(torch.randn(count, model.latent_dim))


def test_fit_latents_finds_latents_the_decoder_turns_into_the_images(tiny_model):
    images = faces_of_random_latents(tiny_model, 6, seed=1)
    start = torch.zeros(6, tiny_model.latent_dim)
    with torch.no_grad():
        before = (tiny_model.decode(start) - images).pow(2).mean()
    fitted = fit_latents(tiny_model, images, start, steps=200, lr=0.05)
    with torch.no_grad():
        after = (tiny_model.decode(fitted) - images).pow(2).mean()
    assert after < 0.1 * before
    assert all(p.requires_grad for p in tiny_model.parameters())  # the model is left trainable


def test_fit_latents_weighs_the_error_by_a_pixel_map(tiny_model):
    images = faces_of_random_latents(tiny_model, 3, seed=2)
    start = torch.zeros(3, tiny_model.latent_dim)
    plain = fit_latents(tiny_model, images, start, steps=5, lr=0.05)
    assert torch.allclose(
        fit_latents(tiny_model, images, start, steps=5, lr=0.05, weights=torch.ones(1, 1, 64, 64)), plain
    )
    ignored = fit_latents(tiny_model, images, start, steps=5, lr=0.05, weights=torch.zeros(1, 1, 64, 64))
    assert torch.equal(ignored, start)  # no pixel counts: nothing moves the latents
