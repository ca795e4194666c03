"""VAE loss: per-image summed MSE reconstruction + β·KL, with KL warm-up, free bits and optional SSIM and L1 terms.

Reduction: the reconstruction term is summed over the pixels and channels of each image and
averaged over the batch; the KL term is summed over latent dimensions and averaged over the
batch. β multiplies the KL term only. With β = 1 and unit-variance Gaussian likelihood this is
the negative ELBO up to constants. ``ssim_weight`` adds ``weight · pixels · (1 − SSIM)`` per image, in the
same per-image units as the summed squared error; ``l1_weight`` adds ``weight · Σ|error|`` per image (L1's
gradient does not fade as the error shrinks, so it pulls small errors, such as a blurred outline's, to zero
where squared error settles for the mean). ``pixel_weights`` (mean 1, :mod:`vae.model.pixel_weights`)
moves the squared error's emphasis to where it is weighed more.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchmetrics.functional.image import structural_similarity_index_measure


@dataclass
class LossTerms:
    """The loss and its parts, each a scalar tensor (per image, batch-averaged)."""

    total: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    beta: float
    ssim: torch.Tensor | None = None  # the batch's mean SSIM, when the loss has an SSIM term


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) for every sample and dimension: shape (N, D), in nats."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def warmup_beta(beta: float, epoch: float, warmup_epochs: float) -> float:
    """β ramped linearly from 0 to ``beta`` over the first ``warmup_epochs`` (fractional) epochs."""
    if warmup_epochs <= 0:
        return beta
    return beta * min(1.0, max(0.0, epoch) / warmup_epochs)


def summed_per_image(values: torch.Tensor) -> torch.Tensor:
    """``values`` summed over each image's pixels and channels, averaged over the batch (the loss's reduction)."""
    return values.flatten(1).sum(1).mean()


def ssim_penalty(recon: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``pixels · (1 − SSIM)`` per image, in the summed squared error's units, and the batch's SSIM."""
    ssim = structural_similarity_index_measure(recon.float(), target.float(), data_range=1.0)
    return target[0].numel() * (1.0 - ssim), ssim


def vae_loss(
    recon: torch.Tensor,
    target: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float = 1.0,
    free_bits: float = 0.0,
    ssim_weight: float = 0.0,
    pixel_weights: torch.Tensor | None = None,
    l1_weight: float = 0.0,
) -> LossTerms:
    """Reconstruction (summed MSE per image, + ``ssim_weight · pixels · (1 − SSIM)`` + ``l1_weight · Σ|error|``) + β·KL.

    ``free_bits`` (nats per latent dimension) stops the optimiser from pushing a dimension's
    batch-average KL below that floor, a standard guard against posterior collapse. The
    reported ``kl`` is always the true KL, and ``recon`` the unweighted squared error alone (comparable across
    losses). ``pixel_weights`` (broadcastable to the images) multiplies the squared error pixel by pixel.
    """
    squared = F.mse_loss(recon.float(), target.float(), reduction="none")
    recon_term = summed_per_image(squared)
    ssim = None
    fit = recon_term if pixel_weights is None else summed_per_image(squared * pixel_weights)
    if ssim_weight > 0:
        penalty, ssim = ssim_penalty(recon, target)
        fit = fit + ssim_weight * penalty
    if l1_weight > 0:
        fit = fit + l1_weight * summed_per_image((recon.float() - target.float()).abs())
    kl_dims = kl_per_dimension(mu.float(), logvar.float()).mean(0)
    kl_term = kl_dims.sum()
    kl_for_loss = kl_dims.clamp(min=free_bits).sum() if free_bits > 0 else kl_term
    return LossTerms(total=fit + beta * kl_for_loss, recon=recon_term, kl=kl_term, beta=beta, ssim=ssim)
