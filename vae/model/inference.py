"""A copy of a trained model for drawing faces: each batch norm folded into the convolution before it.

In eval mode a batch norm is a fixed per-channel scale and shift, so it can be merged into the
weights and bias of the (transposed) convolution that feeds it; the copy draws the same faces
(to float rounding) with one pass over each feature map fewer. ``bench/slider_latency.py`` measures it.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

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
def folded_for_inference(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` whose batch norms are folded into the convolutions before them."""
    model = copy.deepcopy(model).eval()
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            _fold(module)
    for p in model.parameters():
        p.requires_grad_(False)
    return model
