"""Attribute consistency: a frozen attribute classifier should read a reconstruction as it reads the face.

Eye colour and thin glasses are a few pixels of a 64 px face, so a loss summed over pixels barely sees
them. This term asks a classifier trained on real labels (:mod:`vae.measure.fidelity`) for its class
probabilities on each training face and penalises the reconstruction by how far the classifier's reading of
it is from them (the KL divergence, summed over the heads): no labels are needed, so it also steers the
unlabelled faces. A linear read-out of μ learning the same readings (:class:`LatentReadout`) asks the encoder to
keep them in the latent itself (:func:`readout_divergence`). The same readings hold the rest of a face through an
edit (:func:`hold_attributes`) and fit an attribute direction that changes its attribute and leaves the others be
(:func:`fit_direction`).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from .attribute_net import AttributeEnsemble, AttributeNet, classifier_sized, load
from .latent import optimise_latents

# Holding attributes through an edit (:func:`hold_attributes`): Adam steps, their rate, and the weight of the
# squared distance from the edited latent (docs/model.md, "Holding what a classifier reads through an edit").
HOLD_STEPS, HOLD_LR, HOLD_ANCHOR = 30, 0.05, 1.0
# Fitting a direction (:func:`fit_direction`): Adam steps, their rate, latents per step, and the weight of the readings
# it should leave alone against the one it aims at (docs/model.md, "Directions fitted to keep the rest of the face").
FIT_STEPS, FIT_LR, FIT_BATCH, FIT_SIDE_WEIGHT = 100, 0.02, 96, 3.0


def frozen_judge(path: str | os.PathLike, device="cpu") -> AttributeNet | AttributeEnsemble:
    """The classifier at ``path`` in eval mode with its weights frozen (gradients still reach its input)."""
    judge = load(path, device)
    judge.requires_grad_(False)
    return judge


def attribute_consistency(judge: AttributeNet, recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Σ over ``judge``'s heads of KL(judge(target) ‖ judge(recon)), averaged over the batch: 0 when both read alike.

    The judge runs in fp32, whatever precision ``recon`` comes in (bf16 from an autocast forward pass)."""
    wanted = _readings(judge, target, judge.heads)
    return _disagreement(judge, recon, wanted, "batchmean")


class LatentReadout(nn.Module):
    """One linear read-out of μ per head of a judge, trained beside a VAE (:func:`readout_divergence`): its error
    tells the encoder what of the judge's reading μ does not yet keep, linearly."""

    def __init__(self, latent_dim: int, heads: dict[str, int]):
        super().__init__()
        self.heads = dict(heads)
        self.read = nn.ModuleList(nn.Linear(latent_dim, n) for n in self.heads.values())

    def forward(self, mu: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: read(mu.float()) for name, read in zip(self.heads, self.read)}


def readout_divergence(readout: LatentReadout, judge: AttributeNet, mu: torch.Tensor, faces: torch.Tensor):
    """Σ over ``readout``'s heads of KL(judge(faces) ‖ readout(μ)), averaged over the batch."""
    return _divergence(readout(mu), _readings(judge, faces, readout.heads), "batchmean")


def hold_attributes(
    model,
    judge: AttributeNet | AttributeEnsemble,
    before: torch.Tensor,
    edited: torch.Tensor,
    heads,
    steps: int = HOLD_STEPS,
    lr: float = HOLD_LR,
    anchor: float = HOLD_ANCHOR,
) -> torch.Tensor:
    """Edited latents moved as little as they can so that ``judge`` (frozen) reads ``heads`` off their faces as it
    reads them off the faces of ``before``: an edit that changes one attribute and holds the others.

    Adam on Σ KL(judge(decode(before)) ‖ judge(decode(z))) over ``heads`` + ``anchor``·‖z − edited‖², from
    ``edited``, each face on its own (the decoder in eval mode).
    """
    model.eval()
    with torch.no_grad():
        wanted = _readings(judge, model.decode(before), heads)

    def objective(z: torch.Tensor) -> torch.Tensor:
        return _disagreement(judge, model.decode(z), wanted, "sum") + anchor * (z - edited).pow(2).sum()

    return optimise_latents(model, edited, objective, steps, lr)


def fit_direction(
    model,
    judge: AttributeNet | AttributeEnsemble,
    latents: torch.Tensor,
    head: str,
    target: int,
    start: torch.Tensor,
    held,
    strength: float,
    steps: int = FIT_STEPS,
    lr: float = FIT_LR,
    side_weight: float = FIT_SIDE_WEIGHT,
    batch_size: int = FIT_BATCH,
    seed: int = 0,
) -> torch.Tensor:
    """A unit direction that, added at ``strength`` to ``latents`` (faces that lack the class), makes ``judge``
    (frozen) read class ``target`` on ``head`` and read the ``held`` heads as it read them before the step.

    Adam from ``start`` on the direction d = v/‖v‖: CE(judge(decode(z + strength·d))[head], target) + ``side_weight``
    · Σ KL(judge(decode(z)) ‖ judge(decode(z + strength·d))) over ``held``, on a random batch of ``batch_size``
    latents a step (drawn with ``seed``), the decoder fixed. One direction for every face, unlike
    :func:`hold_attributes`, which moves each edited face on its own.
    """
    generator = torch.Generator().manual_seed(seed)
    aimed = torch.full((min(batch_size, len(latents)),), target)

    def objective(v: torch.Tensor) -> torch.Tensor:
        z = latents[torch.randperm(len(latents), generator=generator)[: len(aimed)]]
        with torch.no_grad():
            wanted = _readings(judge, model.decode(z), held)
        read = judge(classifier_sized(model.decode(z + strength * v / v.norm()).float()))
        return F.cross_entropy(read[head], aimed) + side_weight * _divergence(read, wanted, "batchmean")

    v = optimise_latents(model, start, objective, steps, lr)
    return v / v.norm()


def _readings(judge: AttributeNet, faces: torch.Tensor, heads) -> dict[str, torch.Tensor]:
    """The judge's log-probabilities for ``heads`` on ``faces``, without gradients."""
    with torch.no_grad():
        read = judge(classifier_sized(faces.float()))
    return {name: read[name].log_softmax(1) for name in heads}


def _disagreement(judge: AttributeNet, faces: torch.Tensor, wanted: dict[str, torch.Tensor], reduction: str):
    """Σ over the heads of ``wanted`` of KL(wanted ‖ judge(faces)), reduced over the batch as ``reduction`` says."""
    return _divergence(judge(classifier_sized(faces.float())), wanted, reduction)


def _divergence(read: dict[str, torch.Tensor], wanted: dict[str, torch.Tensor], reduction: str) -> torch.Tensor:
    """Σ over the heads of ``wanted`` of KL(wanted ‖ ``read``'s logits), reduced as ``reduction`` says."""
    return sum(
        F.kl_div(read[name].log_softmax(1), wanted[name], log_target=True, reduction=reduction) for name in wanted
    )
