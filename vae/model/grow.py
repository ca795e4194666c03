"""Start a model from a trained one of another resolution or a wider decoder (progressive growing).

A 128×128 model with half the base channels of a 64×64 one has the same layers at 32×32 and
below, plus one stage more at each end. :func:`grow_from` copies every layer that lines up:
encoder stages counted from the deep end, decoder stages from the 4×4 start, the residual blocks,
the fully connected layers and the RGB output convolution. A layer is copied whole or not at all,
and only the stages at the new resolution start untrained.

A decoder or an encoder k times as wide (``decoder_width``, ``encoder_width``), a full-resolution
stage with k times the channels (``full_res_channels``), or high-resolution stages raised to a floor of
channels (``decoder_min_channels``) that is a whole multiple of theirs, starts as the trained one widened the
Net2Net way: each channel is repeated k times and the layer that reads them splits its weights among
the copies in random shares that sum to one, so the wider model computes the same faces and latents,
and the copies learn apart from the first step.
"""

from __future__ import annotations

import re
from collections import defaultdict

import torch

from .network import ConvVAE

MUST_MATCH = ("latent_dim", "residual_blocks", "upsample")
FC_DECODE_SPATIAL = 16  # fc_decode's outputs are a (channels, 4, 4) map, channel-major
LAYER = re.compile(r"((?:encoder|decoder)\.\d+|[^.]+)\.(.+)")  # "encoder.3.0.weight" → ("encoder.3", "0.weight")


def _rgb_layer(model: ConvVAE) -> str:
    """The decoder's convolution to RGB, before the sigmoid."""
    return f"decoder.{len(model.decoder) - 2}"


def _full_res_layers(model: ConvVAE) -> tuple[str, str]:
    """The decoder's full-resolution stage and the convolution to RGB that reads it."""
    return f"decoder.{len(model.decoder) - 3}", _rgb_layer(model)


def _target_layer(layer: str, source: ConvVAE, target: ConvVAE) -> str:
    """The name in ``target`` of ``source``'s layer ``layer`` (e.g. ``encoder.2`` or ``fc_mu``)."""
    if layer == _rgb_layer(source):
        return _rgb_layer(target)
    if layer.startswith("encoder."):  # stages, then residual blocks: shifted by the extra stages in front
        return f"encoder.{int(layer.split('.')[1]) + target.config.encoder_stages - source.config.encoder_stages}"
    return layer  # fully connected layers, the 4×4 start, residual blocks and up-stages keep their places


def _repeat(value: torch.Tensor, dim: int, k: int, spatial: int = 1) -> torch.Tensor:
    """``value`` with each channel along ``dim`` (``spatial`` entries each) repeated as k blocks."""
    shape = value.shape
    grouped = value.reshape(*shape[:dim], shape[dim] // spatial, spatial, *shape[dim + 1 :])
    return torch.cat([grouped] * k, dim).reshape(*shape[:dim], shape[dim] * k, *shape[dim + 1 :])


def _split(value: torch.Tensor, dim: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """``value`` read from k copies of each input channel along ``dim``: random shares that sum to one."""
    shares = torch.rand(k, *value.shape, generator=generator) + 0.5
    shares = shares / shares.sum(0)
    return torch.cat([value * share.to(value.dtype) for share in shares], dim)


def _widened(value: torch.Tensor, module: torch.nn.Module, shape: torch.Size, generator) -> torch.Tensor | None:
    """``value``, a tensor of ``module`` in a narrower decoder, widened to ``shape``; None if it cannot be."""
    if value.dim() != len(shape) or any(b % a for a, b in zip(value.shape, shape, strict=True)):
        return None
    if isinstance(module, torch.nn.ConvTranspose2d):
        out_dim, in_dim, spatial = (1, 0, 1) if value.dim() > 1 else (0, None, 1)
    elif isinstance(module, torch.nn.Linear):  # fc_decode writes, fc_mu and fc_logvar read, (channels, 4, 4) maps
        out_dim, in_dim, spatial = 0, (1 if value.dim() > 1 else None), FC_DECODE_SPATIAL
    elif isinstance(module, (torch.nn.Conv2d, torch.nn.BatchNorm2d)):
        out_dim, in_dim, spatial = 0, (1 if value.dim() > 1 else None), 1
    else:
        return None
    for dim, k in enumerate(b // a for a, b in zip(value.shape, shape, strict=True)):
        if k == 1:
            continue
        if dim == out_dim:
            value = _repeat(value, dim, k, spatial)
        elif dim == in_dim:
            value = _split(value, dim, k, generator)
        else:
            return None
    return value


@torch.no_grad()
def grow_from(target: ConvVAE, source: ConvVAE, seed: int = 0) -> tuple[int, int]:
    """Copy ``source``'s layers into the matching layers of ``target``, widening its decoder or encoder where wider.

    Returns (weights copied, weights in ``target``), counted in parameters. Raises ``ValueError``
    when the two differ in latent size, residual blocks or upsampling, when a width of ``target`` is
    not a multiple of ``source``'s, or when no convolution stage lines up (then only the fully connected
    layers would match, wired to random convolutions). ``seed`` draws the shares of widened channels.
    """
    for name in MUST_MATCH:
        if getattr(source.config, name) != getattr(target.config, name):
            raise ValueError(
                f"cannot start a model with {name}={getattr(target.config, name)} from one with "
                f"{name}={getattr(source.config, name)}"
            )
    widened = []  # the layers (by name prefix) whose channels grow
    for part, prefixes in (("decoder", ("decoder.", "fc_decode")), ("encoder", ("encoder.", "fc_mu", "fc_logvar"))):
        wide, narrow = getattr(target.config, f"{part}_width"), getattr(source.config, f"{part}_width")
        if wide % narrow:
            raise ValueError(
                f"cannot start {'an' if part == 'encoder' else 'a'} {part} of width {wide} from one of width "
                f"{narrow}: the width can only grow by a whole factor (try --{part}-width "
                f"{narrow * max(1, wide // narrow)})"
            )
        if wide > narrow:
            widened += prefixes
    full_res = ()  # the full-resolution stage's layers, when its channel count grows
    wide, narrow = target.config.full_res_channels, source.config.full_res_channels
    if target.image_size == source.image_size and wide > narrow > 0:
        if wide % narrow:
            raise ValueError(
                f"cannot start a full-resolution stage of {wide} channels from one of {narrow}: it can only grow "
                f"by a whole factor (try --full-res-channels {narrow * (wide // narrow)})"
            )
        full_res = _full_res_layers(target)
    floors = target.config.decoder_min_channels, source.config.decoder_min_channels
    if target.image_size == source.image_size and floors[0] != floors[1]:
        for stage in range(target.config.stages):
            wide, narrow = target.config.decoder_channels(stage), source.config.decoder_channels(stage)
            if wide % narrow:
                raise ValueError(
                    f"cannot start a decoder stage of {wide} channels from one of {narrow}: it can only grow by a "
                    f"whole factor (try --decoder-min-channels {narrow * max(1, wide // narrow)})"
                )
        if floors[0] > floors[1]:
            widened += ("decoder.", "fc_decode")
    generator = torch.Generator().manual_seed(seed)
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
        if goal.startswith(tuple(widened)) or goal in full_res:
            names = _widen_layer(target, names, mine, generator)
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


def _widen_layer(target: ConvVAE, names: dict, mine: dict, generator: torch.Generator) -> dict:
    """``names`` (target name → source tensor) with each tensor widened to the target's shape where it can be."""
    widened = {}
    for name, value in names.items():
        if name in mine and mine[name].shape != value.shape:
            module = target.get_submodule(name.rsplit(".", 1)[0])
            value = _widened(value, module, mine[name].shape, generator)
            if value is None:
                return names
        widened[name] = value
    return widened
