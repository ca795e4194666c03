"""Holding the rest of a face through attribute edits, as classifiers of the real labels read it (no Qt).

A step along a direction also changes what it does not aim at, most often the eye colour: at +2, "+blonde hair"
turns the eyes of one face in seven another colour and "+Asian skin" one in three (docs/model.md, "Holding what a
classifier reads through an edit"). Held, the edited latent is moved as little as it can so that the shipped
ensemble of classifiers reads every attribute the applied directions do not aim at as it read it before the edit
(:func:`~vae.model.attribute_loss.hold_attributes`).
"""

from __future__ import annotations

import os

import torch

from ..model.attribute_loss import frozen_judge, hold_attributes
from ..model.attribute_net import ClassifierError
from .default_choice import RESOURCES

# Three classifiers of the real labels (seeds 1–3; python -m vae.measure.fidelity train … --seed S, then join)
HOLD_CLASSIFIER = RESOURCES / "hold_classifier.pt"
# the attribute each kind of direction changes (the key before ":"), as the classifiers' heads name it
DIRECTION_ATTRIBUTES = {
    "hair_color": "hair_color",
    "face_color": "skin",
    "glasses": "glasses",
    "eye_color": "eye_color",
    "face_shape": "face_shape",
}


def load_hold_classifier(path: str | os.PathLike | None = None):
    """The classifier (or ensemble) at ``path`` (default: :data:`HOLD_CLASSIFIER`), frozen; None when it is missing
    or unreadable."""
    try:
        return frozen_judge(HOLD_CLASSIFIER if path is None else path)
    except ClassifierError:
        return None


def attribute_of_head(head: str) -> str:
    """``"cartoonset_amls_128:eye_color"`` → ``"eye_color"``."""
    return head.split(":", 1)[-1]


def held_heads(heads, applied) -> list[str]:
    """The heads (``folder:attribute``) whose attribute none of the ``applied`` direction names aims at.

    A direction of a kind :data:`DIRECTION_ATTRIBUTES` does not name (one made from examples or a folder) is not
    known to aim at any of them, so every attribute stays held for it."""
    return heads_without(heads, {DIRECTION_ATTRIBUTES.get(name.partition(":")[0]) for name in applied})


def heads_without(heads, attributes) -> list[str]:
    """The heads of ``heads`` whose attribute is not one of ``attributes``."""
    return [head for head in heads if attribute_of_head(head) not in attributes]


def hold_edit(model, judge, before: torch.Tensor, edited: torch.Tensor, applied) -> torch.Tensor:
    """``edited`` (one latent) moved so that ``judge`` reads the attributes the ``applied`` directions do not aim at
    as it reads them off ``before``'s face."""
    heads = held_heads(judge.heads, applied)
    if not heads:
        return edited.detach().clone()
    return hold_attributes(model, judge, before.reshape(1, -1), edited.reshape(1, -1), heads)[0]
