"""Attribute consistency: a frozen attribute classifier should read a reconstruction as it reads the face.

Eye colour and thin glasses are a few pixels of a 64 px face, so a loss summed over pixels barely sees
them. This term asks a classifier trained on real labels (:mod:`vae.measure.fidelity`) for its class
probabilities on each training face and penalises the reconstruction by how far the classifier's reading of
it is from them (the KL divergence, summed over the heads): no labels are needed, so it also steers the
unlabelled faces.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from .attribute_net import AttributeNet, classifier_sized, load


def frozen_judge(path: str | os.PathLike, device="cpu") -> AttributeNet:
    """The classifier at ``path`` in eval mode with its weights frozen (gradients still reach its input)."""
    judge = load(path, device)
    judge.requires_grad_(False)
    return judge


def attribute_consistency(judge: AttributeNet, recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Σ over ``judge``'s heads of KL(judge(target) ‖ judge(recon)), averaged over the batch: 0 when both read alike.

    The judge runs in fp32, whatever precision ``recon`` comes in (bf16 from an autocast forward pass)."""
    with torch.no_grad():
        read_target = judge(classifier_sized(target.float()))
        wanted = {name: logits.log_softmax(1) for name, logits in read_target.items()}
    read = judge(classifier_sized(recon.float()))
    return sum(
        F.kl_div(read[name].log_softmax(1), wanted[name], log_target=True, reduction="batchmean") for name in wanted
    )
