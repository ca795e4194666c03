"""Start a model from a trained one of another resolution (progressive growing).

A 128×128 model with half the base channels of a 64×64 one has the same layers at 32×32 and
below, plus one stage more at each end. :func:`grow_from` copies every layer that lines up:
encoder stages counted from the deep end, decoder stages from the 4×4 start, the residual blocks,
the fully connected layers and the RGB output convolution. A layer is copied whole or not at all,
and only the stages at the new resolution start untrained.
"""

from __future__ import annotations

import re
from collections import defaultdict

import torch

from .network import ConvVAE

MUST_MATCH = ("latent_dim", "residual_blocks", "decoder_width", "upsample")
LAYER = re.compile(r"((?:encoder|decoder)\.\d+|[^.]+)\.(.+)")  # "encoder.3.0.weight" → ("encoder.3", "0.weight")


def _rgb_layer(model: ConvVAE) -> str:
    """The decoder's convolution to RGB, before the sigmoid."""
    return f"decoder.{len(model.decoder) - 2}"


def _target_layer(layer: str, source: ConvVAE, target: ConvVAE) -> str:
    """The name in ``target`` of ``source``'s layer ``layer`` (e.g. ``encoder.2`` or ``fc_mu``)."""
    if layer == _rgb_layer(source):
        return _rgb_layer(target)
    if layer.startswith("encoder."):  # stages, then residual blocks: shifted by the extra stages in front
        return f"encoder.{int(layer.split('.')[1]) + target.config.stages - source.config.stages}"
    return layer  # fully connected layers, the 4×4 start, residual blocks and up-stages keep their places


@torch.no_grad()
def grow_from(target: ConvVAE, source: ConvVAE) -> tuple[int, int]:
    """Copy ``source``'s layers into the matching layers of ``target``.

    Returns (weights copied, weights in ``target``), counted in parameters. Raises ``ValueError``
    when the two differ in latent size, residual blocks, decoder width or upsampling, or when no convolution
    stage lines up (then only the fully connected layers would match, wired to random convolutions).
    """
    for name in MUST_MATCH:
        if getattr(source.config, name) != getattr(target.config, name):
            raise ValueError(
                f"cannot start a model with {name}={getattr(target.config, name)} from one with "
                f"{name}={getattr(source.config, name)}"
            )
    layers: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)
    for name, value in source.state_dict().items():
        layer, rest = LAYER.fullmatch(name).groups()
        layers[layer][rest] = value
    mine = target.state_dict()
    parameters = {name for name, _ in target.named_parameters()}
    copied, conv_stages = 0, 0
    for layer, tensors in layers.items():
        goal = _target_layer(layer, source, target)
        names = {f"{goal}.{tail}": value for tail, value in tensors.items()}
        if all(n in mine and mine[n].shape == v.shape for n, v in names.items()):
            for n, v in names.items():
                mine[n].copy_(v)
            copied += sum(v.numel() for n, v in names.items() if n in parameters)
            conv_stages += layer.startswith(("encoder.", "decoder.")) and layer != _rgb_layer(source)
    if not conv_stages:
        half = source.config.base_channels * source.image_size // target.image_size
        raise ValueError(
            f"no convolution stage of the {source.image_size}px model lines up with this "
            f"{target.image_size}px one (try --base-channels {max(1, half)})"
        )
    return copied, sum(p.numel() for p in target.parameters())
