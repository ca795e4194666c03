"""Start a model from a trained one of another resolution (progressive growing).

A 128×128 model with half the base channels of a 64×64 one has the same layers at 32×32 and
below, plus one stage more at each end. :func:`grow_from` copies every layer that lines up:
encoder stages counted from the deep end, decoder stages from the 4×4 start, the fully connected
layers and the RGB output convolution. Only the new full-resolution stages start untrained.
"""

from __future__ import annotations

import re

import torch

from .model import ConvVAE


def _target_name(name: str, source: ConvVAE, target: ConvVAE) -> str:
    kind, _, rest = name.partition(".")
    match = re.match(r"(\d+)\.(.*)", rest)
    if match is None:
        return name
    index, tail = int(match.group(1)), match.group(2)
    if kind == "encoder":
        return f"encoder.{index + len(target.encoder) - len(source.encoder)}.{tail}"
    if kind == "decoder" and index == len(source.decoder) - 2:  # the convolution to RGB before the sigmoid
        return f"decoder.{len(target.decoder) - 2}.{tail}"
    return name


@torch.no_grad()
def grow_from(target: ConvVAE, source: ConvVAE) -> tuple[int, int]:
    """Copy ``source``'s weights into the matching layers of ``target``; returns (tensors copied, tensors in target)."""
    if source.latent_dim != target.latent_dim:
        raise ValueError(f"cannot start a latent-{target.latent_dim} model from a latent-{source.latent_dim} one")
    mine = target.state_dict()
    copied = 0
    for name, value in source.state_dict().items():
        goal = _target_name(name, source, target)
        if goal in mine and mine[goal].shape == value.shape and mine[goal].dtype == value.dtype:
            mine[goal].copy_(value)
            copied += 1
    return copied, len(mine)
