"""Attribute directions of a trained model: from a labelled (or pseudo-labelled) dataset, or from examples."""

from __future__ import annotations

import torch

from .cartoonset import ATTRIBUTE_NAMES, NO_FACIAL_HAIR, NO_GLASSES, VARIANTS
from .latent import attribute_direction

PRESENCE = {"glasses": NO_GLASSES, "facial_hair": NO_FACIAL_HAIR}  # attribute → its "none" value
BINARY = ("eye_lashes", "eye_lid")
ONE_VS_REST = ("hair_color", "face_color", "eye_color", "face_shape")
MIN_EXAMPLES = 5


def direction_from_examples(with_mu: torch.Tensor, without_mu: torch.Tensor) -> torch.Tensor:
    """Unit direction (D,) from the mean latent of faces without a trait to that of faces with it.

    ``with_mu`` (P, D) and ``without_mu`` (Q, D) are the encodings (μ) of a few faces picked by hand.
    Raises ValueError for an empty side, mismatched or non-finite latents, or equal means.
    """
    with_mu = torch.as_tensor(with_mu, dtype=torch.float32)
    without_mu = torch.as_tensor(without_mu, dtype=torch.float32)
    for name, mu in (("with", with_mu), ("without", without_mu)):
        if mu.ndim != 2 or mu.shape[0] == 0:
            raise ValueError(
                f"need at least one face {name} the trait as a (N, D) latent array, got shape {tuple(mu.shape)}"
            )
        if not torch.isfinite(mu).all():
            raise ValueError(f"the latents of the faces {name} the trait are not all finite")
    if with_mu.shape[1] != without_mu.shape[1]:
        raise ValueError(f"latent sizes differ: {with_mu.shape[1]} with the trait, {without_mu.shape[1]} without")
    diff = with_mu.mean(0) - without_mu.mean(0)
    norm = diff.norm()
    if norm < 1e-8:
        raise ValueError("the faces with and without the trait have the same mean latent: pick faces that differ")
    return diff / norm


def direction_names() -> list[str]:
    """Every direction name :func:`compute_directions` can produce, in display order."""
    names = list(PRESENCE) + list(BINARY)
    for attr in ONE_VS_REST:
        names += [f"{attr}:{value}" for value in range(VARIANTS[attr])]
    return names


def compute_directions(mu: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Named unit directions from latents ``mu`` (N, D) and Cartoon Set labels (N, 18), −1 where unknown.

    The labels may be pseudo-labels (:func:`vae.attribute_classifier.label_cache`) of an unlabelled folder.

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
