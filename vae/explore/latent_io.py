"""One check for every latent read from outside (a JSON file, a slot, a pasted value).

:func:`validate_latent` turns numbers, nested lists or tensors into a float32 tensor (n, D) or
raises one ``ValueError`` that names the source: wrong shape, wrong length for the model, a value
that is not a number, not finite, or implausibly large. Nothing is evaluated recursively, so a
deeply nested or huge input cannot exhaust the stack or the memory.
"""

from __future__ import annotations

import math
import numbers

import torch

MAX_ABS = 1000.0  # latents of a trained VAE lie within a few units of 0; this only stops absurd values
MAX_LATENTS = 100_000


class LatentError(ValueError):
    """Latent values that cannot be used; the message names where they came from."""


def _number(value, source: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise LatentError(f"{source}: {where} is not a number ({type(value).__name__})")
    try:
        number = float(value)
    except OverflowError:
        raise LatentError(f"{source}: {where} is too large to be a latent value") from None
    if not math.isfinite(number):
        raise LatentError(f"{source}: {where} is {number} (latent values must be finite)")
    if abs(number) > MAX_ABS:
        raise LatentError(f"{source}: {where} is {number:g}, outside ±{MAX_ABS:g}")
    return number


def _rows(values, source: str) -> list[list]:
    if torch.is_tensor(values):
        values = values.detach().cpu()
        if values.dim() not in (1, 2) or values.numel() == 0:
            raise LatentError(f"{source}: expected a latent vector or a list of them, got shape {tuple(values.shape)}")
        return (values.unsqueeze(0) if values.dim() == 1 else values).double().tolist()
    if not isinstance(values, (list, tuple)) or not values:
        raise LatentError(f"{source}: expected a latent vector or a list of them")
    if all(not isinstance(v, (list, tuple)) for v in values):
        return [list(values)]
    if not all(isinstance(v, (list, tuple)) for v in values):
        raise LatentError(f"{source}: mixes numbers and lists (expected a list of latent vectors)")
    if len(values) > MAX_LATENTS:
        raise LatentError(f"{source}: holds {len(values)} latents (at most {MAX_LATENTS})")
    return [list(v) for v in values]


def validate_latent(values, latent_dim: int | None, source: str) -> torch.Tensor:
    """``values`` as float32 (n, D); ``LatentError`` (a ValueError) naming ``source`` if unusable.

    ``latent_dim`` (when given) is the length every vector must have.
    """
    rows = _rows(values, source)
    width = len(rows[0])
    if width == 0:
        raise LatentError(f"{source}: holds an empty latent vector")
    if latent_dim is not None and width != latent_dim:
        raise LatentError(f"{source}: holds latents of {width} values; this model uses {latent_dim}")
    for i, row in enumerate(rows):
        if len(row) != width:
            raise LatentError(f"{source}: latent {i + 1} has {len(row)} values, the first has {width}")
        for j, value in enumerate(row):
            if isinstance(value, (list, tuple)):
                raise LatentError(f"{source}: latent {i + 1} is nested too deeply")
            row[j] = _number(value, source, f"value {j + 1} of latent {i + 1}")
    return torch.tensor(rows, dtype=torch.float32)
