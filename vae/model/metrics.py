"""Validation metrics: loss terms, SSIM and PSNR (torchmetrics), KL per latent dimension."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from ..common.machine import native_bf16
from .latent import ACTIVE_UNIT_THRESHOLD
from .loss import kl_per_dimension, vae_loss

PRECISIONS = ("auto", "bf16", "fp32")


def training_precision(device: torch.device, precision: str = "auto") -> str:
    """The precision a training run uses: "auto" is bf16 on CUDA and on CPUs with native bf16 (AVX512-BF16, AMX),
    which train about 1.7× faster under it (bench/precision_speed.py); fp32 on other CPUs, which emulate bf16 slowly.
    """
    if precision != "auto":
        return precision
    return "bf16" if device.type == "cuda" or (device.type == "cpu" and native_bf16()) else "fp32"


def autocast_for(device: torch.device, precision: str = "auto"):
    """bf16 autocast for ``precision="bf16"``, and for "auto" on CUDA; plain fp32 otherwise.

    Measuring and the app use "auto", so that their numbers do not depend on the CPU; a training run passes the
    precision :func:`training_precision` chose.
    """
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


@torch.no_grad()
def encode_all(model, cache, indices, batch_size: int = 256, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """μ and log σ² of the images at ``indices``: two (N, D) float tensors on the CPU."""
    device = torch.device(device)
    mus, logvars = [], []
    for start in range(0, len(indices), batch_size):
        x = cache.batch(indices[start : start + batch_size]).to(device)
        with autocast_for(device):
            mu, logvar = model.encode(x)
        mus.append(mu.float().cpu())
        logvars.append(logvar.float().cpu())
    return torch.cat(mus), torch.cat(logvars)


@torch.no_grad()
def evaluate(model, cache, indices, beta: float = 1.0, batch_size: int = 256, device="cpu") -> dict:
    """Loss terms, SSIM, PSNR and per-dimension KL over ``indices`` (model used in eval mode, z = μ)."""
    # imported on use: torchmetrics loads torchvision's models (seconds), a cost the app's start-up avoids
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    device = torch.device(device)
    was_training = model.training
    model.eval()
    n = 0
    sums = {"loss": 0.0, "recon": 0.0, "kl": 0.0, "ssim": 0.0, "psnr": 0.0}
    kl_dims = None
    for start in range(0, len(indices), batch_size):
        x = cache.batch(np.asarray(indices[start : start + batch_size])).to(device)
        with autocast_for(device):
            recon, mu, logvar = model(x)
        recon = recon.float().clamp(0, 1)
        terms = vae_loss(recon, x, mu, logvar, beta)
        b = x.shape[0]
        sums["loss"] += terms.total.item() * b
        sums["recon"] += terms.recon.item() * b
        sums["kl"] += terms.kl.item() * b
        sums["ssim"] += structural_similarity_index_measure(recon, x, data_range=1.0).item() * b
        sums["psnr"] += (
            peak_signal_noise_ratio(recon, x, data_range=1.0, reduction="elementwise_mean", dim=(1, 2, 3)).item() * b
        )
        batch_kl = kl_per_dimension(mu.float(), logvar.float()).sum(0).cpu()
        kl_dims = batch_kl if kl_dims is None else kl_dims + batch_kl
        n += b
    model.train(was_training)
    result = {k: v / max(n, 1) for k, v in sums.items()}
    result["kl_per_dim"] = kl_dims / max(n, 1)
    result["active_units"] = int((result["kl_per_dim"] > ACTIVE_UNIT_THRESHOLD).sum())
    return result
