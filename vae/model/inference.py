"""A copy of a trained model for drawing faces: each batch norm folded into the convolution before it,
its weights laid out channels-last, in bf16 where this CPU draws faster in it.

In eval mode a batch norm is a fixed per-channel scale and shift, so it can be merged into the
weights and bias of the (transposed) convolution that feeds it; the copy draws the same faces
(to float rounding) with one pass over each feature map fewer. On CPUs with native bf16 (AVX512-BF16,
AMX) a bf16 channels-last copy decodes a face 1.9–2.4× sooner, its pixels a quarter of a level of 255 from
fp32's on average (``bench/decode_precision.py``); :func:`drawing_dtype` picks it where it is measured
faster. ``bench/slider_latency.py`` measures what a slider move costs.
"""

from __future__ import annotations

import copy
import os
import time

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..common.machine import native_bf16

PRECISION_ENV = "FACE_EXPLORER_DRAW"  # "fp32" or "bf16" overrides the measured choice
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}
BF16_GAIN = 1.2  # bf16 is chosen only when it decodes at least this much faster

_CONVS = (nn.Conv2d, nn.ConvTranspose2d)


def _fold(seq: nn.Sequential) -> None:
    for i in range(len(seq) - 1):
        norm = seq[i + 1]
        if not isinstance(norm, nn.BatchNorm2d):
            continue
        owner, j = (seq[i], len(seq[i]) - 1) if isinstance(seq[i], nn.Sequential) else (seq, i)  # resize then conv
        conv = owner[j]
        if isinstance(conv, _CONVS):
            owner[j] = fuse_conv_bn_eval(conv, norm, transpose=isinstance(conv, nn.ConvTranspose2d))
            seq[i + 1] = nn.Identity()


@torch.no_grad()
def folded_for_inference(model: nn.Module, dtype: torch.dtype = torch.float32) -> nn.Module:
    """An eval-mode copy of ``model`` whose batch norms are folded into the convolutions before them, its
    weights channels-last, in ``dtype`` (draw with it through :func:`decode_faces`)."""
    model = copy.deepcopy(model).eval()
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            _fold(module)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.to(dtype=dtype, memory_format=torch.channels_last)


@torch.inference_mode()
def decode_faces(folded: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """(N, 3, S, S) fp32 images in [0, 1] of latents (N, D), drawn by a copy from :func:`folded_for_inference`."""
    dtype = next(folded.parameters()).dtype
    return folded.decode(z.to(dtype)).float().clamp(0, 1).contiguous()


@torch.inference_mode()
def fastest_decode_ms(folded: nn.Module, repeats: int = 7) -> float:
    """The fastest of ``repeats`` decodes of one latent by ``folded``, in ms (after one warm-up decode).

    The fastest, not the median: what the machine can do, steadier from launch to launch than a
    figure that a moment's load elsewhere inflates.
    """
    z = torch.zeros(1, folded.latent_dim)
    decode_faces(folded, z)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        decode_faces(folded, z)
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


class DrawPrecisionError(ValueError):
    """``$FACE_EXPLORER_DRAW`` names no precision the app draws in."""


def named_drawing_dtype() -> torch.dtype | None:
    """The precision ``$FACE_EXPLORER_DRAW`` names, or None when it is unset (raises :class:`DrawPrecisionError`)."""
    named = os.environ.get(PRECISION_ENV, "").strip().lower()
    if not named:
        return None
    if named not in DTYPES:
        raise DrawPrecisionError(f"{PRECISION_ENV} must be one of {', '.join(DTYPES)}, not {named!r}")
    return DTYPES[named]


_measured: dict[str, torch.dtype] = {}  # by architecture: a decode's time does not depend on the weights


def drawing_dtype(model: nn.Module) -> torch.dtype:
    """What the app draws ``model`` in: ``$FACE_EXPLORER_DRAW`` ("fp32" or "bf16") when set; else bf16 where the
    CPU computes it natively and a bf16 copy decodes at least :data:`BF16_GAIN` times sooner here; else fp32.

    Measured once per architecture in a process, so the start-up choice of default model, the face view and
    every reload of a checkpoint agree.
    """
    named = named_drawing_dtype()
    if named is not None:
        return named
    if not native_bf16():
        return torch.float32
    key = repr(getattr(model, "config", type(model).__name__))
    if key not in _measured:
        fp32 = fastest_decode_ms(folded_for_inference(model, torch.float32), repeats=5)
        bf16 = fastest_decode_ms(folded_for_inference(model, torch.bfloat16), repeats=5)
        _measured[key] = torch.bfloat16 if fp32 >= BF16_GAIN * bf16 else torch.float32
    return _measured[key]
