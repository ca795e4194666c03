"""How good a model's latent space is on real faces: sharpness of what Random, morph and arithmetic make.

A blurred or ghosted face has less high-frequency energy than a real one, so each measure is
the mean Laplacian energy of the model's faces divided by that of real faces at the same size
(1.0: as crisp as real faces).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..model.latent import APP_TEMPERATURE, sample_fitted, sample_prior, slerp

LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian_energy(images: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared Laplacian of the grey image: (N, 3, S, S) in [0, 1] → (N,)."""
    grey = images.float().mean(1, keepdim=True)
    response = F.conv2d(grey, LAPLACIAN.view(1, 1, 3, 3).to(grey))
    return response.pow(2).mean(dim=(1, 2, 3))


def sharpness_ratio(generated: torch.Tensor, real: torch.Tensor) -> float:
    """Mean Laplacian energy of ``generated`` over that of ``real`` images."""
    return float(laplacian_energy(generated).mean() / laplacian_energy(real).mean())


def random_latents(
    n: int, latent_dim: int, prior: dict | None, temperature: float = APP_TEMPERATURE, seed: int = 0
) -> torch.Tensor:
    """What the explorer's Random draws: the fitted prior when the model has one, else N(0, I)."""
    generator = torch.Generator().manual_seed(seed)
    if prior is None:
        return sample_prior(n, latent_dim, temperature, generator)
    return sample_fitted(n, prior, temperature, generator)


def morph_middles(mu: torch.Tensor) -> torch.Tensor:
    """The middle frame of the explorer's default morph (slerp) between consecutive pairs of latents."""
    return torch.stack([slerp(mu[i], mu[i + 1], 3)[1] for i in range(0, len(mu) - 1, 2)])


def arithmetic_results(mu: torch.Tensor) -> torch.Tensor:
    """A + (B − C) over consecutive triples of latents."""
    n = len(mu) // 3 * 3
    a, b, c = mu[0:n:3], mu[1:n:3], mu[2:n:3]
    return a + (b - c)


@torch.no_grad()
def decode(model, z: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Decode latents in batches (eval mode, CPU float output)."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat(
        [model.decode(z[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(z), batch_size)]
    )


def random_sharpness(
    model, prior: dict | None, real: torch.Tensor, count: int, sets: int
) -> tuple[float, float, torch.Tensor]:
    """How crisp the explorer's Random faces are: ``sets`` sets of ``count`` draws (seeds 0, 1, …) against ``real``.

    Returns the mean sharpness ratio over the sets, its standard deviation between sets (how much one set of
    ``count`` faces can mislead), and the first set's faces.
    """
    ratios = []
    for seed in range(sets):
        faces = decode(model, random_latents(count, model.latent_dim, prior, seed=seed))
        ratios.append(sharpness_ratio(faces, real))
        if seed == 0:
            first = faces
    spread = torch.tensor(ratios).std().item() if sets > 1 else 0.0
    return sum(ratios) / sets, spread, first
