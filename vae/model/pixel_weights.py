"""Per-pixel weights for the reconstruction loss: where on the face the squared error counts more.

A map is an (H, W) tensor of non-negative weights, written by :func:`save` (``python -m
vae.measure.pixel_weights`` builds one from labelled faces). Training reads it with :func:`load`, resized to the
training resolution and scaled to mean 1, so the loss keeps its size and only its emphasis moves: a map that
weighs the irises 20× makes a wrong eye colour cost what a wrong hair colour does.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from ..common.atomic import atomic_write

FORMAT = "face-explorer pixel weights"


class PixelWeightsError(ValueError):
    """A pixel-weight file cannot be used; the message names the file."""


def _checked(weights: torch.Tensor, where: str) -> torch.Tensor:
    if not isinstance(weights, torch.Tensor) or weights.dim() != 2 or min(weights.shape) < 1:
        raise PixelWeightsError(f"{where}: the weights must be a 2-D (height, width) tensor")
    weights = weights.float()
    if not torch.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise PixelWeightsError(f"{where}: the weights must be finite, non-negative and not all zero")
    return weights


def save(path: str | os.PathLike, weights: torch.Tensor, about: dict | None = None) -> None:
    """Write ``weights`` (H, W) atomically, with ``about`` (how they were made) beside them."""
    payload = {"format": FORMAT, "version": 1, "weights": _checked(weights, str(path)), "about": about or {}}
    with atomic_write(path, "wb") as handle:
        torch.save(payload, handle)


def read(path: str | os.PathLike) -> tuple[torch.Tensor, dict]:
    """The (H, W) weights and the ``about`` dict of a file written by :func:`save`."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise PixelWeightsError(f"{path}: no such file") from exc
    except Exception as exc:  # torch.load raises many types on foreign or damaged bytes
        raise PixelWeightsError(f"{path}: not a readable pixel-weight file ({exc.__class__.__name__})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise PixelWeightsError(f"{path}: not a pixel-weight file (python -m vae.measure.pixel_weights writes one)")
    return _checked(payload.get("weights"), str(path)), dict(payload.get("about") or {})


def load(path: str | os.PathLike, image_size: int) -> torch.Tensor:
    """The weights of ``path`` as a (1, 1, image_size, image_size) tensor of mean 1, ready to multiply a batch."""
    weights, _ = read(path)
    if weights.shape != (image_size, image_size):
        weights = F.interpolate(weights[None, None], size=(image_size, image_size), mode="bilinear", antialias=True)[
            0, 0
        ].clamp(min=0)
    return (weights / weights.mean())[None, None]
