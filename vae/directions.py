"""Attribute directions of a trained model, computed from a labelled dataset."""

from __future__ import annotations

import torch

from .cartoonset import ATTRIBUTE_NAMES, NO_FACIAL_HAIR, NO_GLASSES, VARIANTS
from .latent import attribute_direction

PRESENCE = {"glasses": NO_GLASSES, "facial_hair": NO_FACIAL_HAIR}  # attribute → its "none" value
BINARY = ("eye_lashes", "eye_lid")
ONE_VS_REST = ("hair_color", "face_color", "eye_color", "face_shape")
MIN_EXAMPLES = 5


def direction_names() -> list[str]:
    """Every direction name :func:`compute_directions` can produce, in display order."""
    names = list(PRESENCE) + list(BINARY)
    for attr in ONE_VS_REST:
        names += [f"{attr}:{value}" for value in range(VARIANTS[attr])]
    return names


def compute_directions(mu: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Named unit directions from latents ``mu`` (N, D) and Cartoon Set labels (N, 18).

    ``glasses`` and ``facial_hair`` point from without to with; ``eye_lashes``/``eye_lid``
    from value 0 to 1; ``hair_color:k`` etc. from the other values to value k. Attributes with
    too few labelled examples on either side are left out.
    """
    directions: dict[str, torch.Tensor] = {}
    column = {name: i for i, name in enumerate(ATTRIBUTE_NAMES)}

    def add(name, values, positive):
        known = values >= 0
        pos = positive & known
        neg = ~positive & known
        if pos.sum() >= MIN_EXAMPLES and neg.sum() >= MIN_EXAMPLES:
            directions[name] = attribute_direction(mu[known], pos[known])

    for attr, none in PRESENCE.items():
        values = labels[:, column[attr]]
        add(attr, values, values != none)
    for attr in BINARY:
        values = labels[:, column[attr]]
        add(attr, values, values == 1)
    for attr in ONE_VS_REST:
        values = labels[:, column[attr]]
        for value in range(VARIANTS[attr]):
            add(f"{attr}:{value}", values, values == value)
    return directions
