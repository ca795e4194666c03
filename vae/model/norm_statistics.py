"""Measure the decoder's batch-norm statistics afresh, on the latents the app decodes.

Training leaves each batch norm's running statistics as a moving average over its last batches, and the crisp
pass adds batches of random faces normalised on their own. The app decodes encodings of faces and draws from the
fitted prior with these fixed statistics. One pass over batches that mix both, averaged by batch size instead of
moving, gives statistics of what is drawn; ``vae.measure.package_default --norm-random-share`` does it when
packaging, and docs/model.md measures the share.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def decoder_norms(model: nn.Module) -> list[nn.BatchNorm2d]:
    """The batch norms that shape what ``model.decode`` draws."""
    return [m for m in model.decoder.modules() if isinstance(m, nn.BatchNorm2d)]


@torch.no_grad()
def recalibrate_decoder_norms(model: nn.Module, latent_batches: Sequence[torch.Tensor]) -> None:
    """Replace the decoder's running statistics by their average over ``latent_batches``, each weighed by its size.

    The weights, every module's train/eval mode and the norms' momenta are left as they were; on an error the
    statistics are too.
    """
    if not latent_batches:
        raise ValueError("no latents to measure the decoder's statistics on")
    norms = decoder_norms(model)
    saved = [({k: v.clone() for k, v in norm.state_dict().items()}, norm.momentum) for norm in norms]
    modes = [(module, module.training) for module in model.modules()]
    weight = next(model.decoder.parameters())
    model.eval()
    model.decoder.train()
    try:
        seen = 0
        for z in latent_batches:
            seen += len(z)
            for norm in norms:
                norm.momentum = len(z) / seen  # the first batch replaces the statistics, later ones join the mean
            model.decode(z.to(weight.device, weight.dtype))
    except BaseException:
        for norm, (state, _) in zip(norms, saved):
            norm.load_state_dict(state)
        raise
    finally:
        for norm, (_, momentum) in zip(norms, saved):
            norm.momentum = momentum
        for module, training in modes:
            module.training = training
