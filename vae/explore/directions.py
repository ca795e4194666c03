"""Attribute directions of a trained model: from a labelled (or pseudo-labelled) dataset, or from examples."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.attribute_names import title
from ..data.cache import open_folder
from ..data.cartoonset import ATTRIBUTE_NAMES, NO_FACIAL_HAIR, NO_GLASSES, VARIANTS
from ..data.folder import DataError, scan_folder
from ..data.label_table import CARTOONSET_KEYS, has_label_table, label_columns
from ..model.latent import attribute_direction
from ..model.metrics import encode_all

PRESENCE = {"glasses": NO_GLASSES, "facial_hair": NO_FACIAL_HAIR}  # attribute → its "none" value
BINARY = ("eye_lashes", "eye_lid")
ONE_VS_REST = ("hair_color", "face_color", "eye_color", "face_shape")
MIN_EXAMPLES = 5
RELIABLE_PER_SIDE = 8  # examples per side from which a direction by example is dependable (bench/direction_examples.py)
RELIABLE_AGREEMENT = 0.8  # the share of examples that must agree when each is left out in turn
ENCODE_BATCH = 256


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


@dataclass(frozen=True)
class Reliability:
    """How far a direction by example can be trusted: leave-one-out agreement of its examples.

    ``agree`` of ``total`` examples lie on their own side of the direction built from the others
    (split half-way between the two groups' means along it); ``per_side`` is the smaller group's size.
    """

    agree: int
    total: int
    per_side: int

    @property
    def share(self) -> float:
        return self.agree / self.total if self.total else 0.0

    @property
    def reliable(self) -> bool:
        return self.per_side >= RELIABLE_PER_SIDE and self.share >= RELIABLE_AGREEMENT

    def describe(self) -> str:
        """One line for the user, saying plainly when the direction is weak and what would help."""
        agreement = f"{self.agree} of {self.total} examples agree (leave-one-out)"
        advice = f"use {RELIABLE_PER_SIDE}+ per side for a dependable direction"
        if self.reliable:
            return f"reliable: {agreement}"
        if self.per_side < 2:
            return f"weak: too few examples to check it; {advice}"
        if self.per_side < RELIABLE_PER_SIDE:
            return f"weak: only {self.per_side} per side, {agreement}; {advice}"
        return f"weak: only {agreement}; the examples do not separate well: check they differ in the trait"


def example_reliability(with_mu: torch.Tensor, without_mu: torch.Tensor) -> Reliability:
    """Leave each example out in turn, build the direction from the rest, and count the examples it places on
    their own side. An example whose group would be left empty counts as disagreeing."""
    groups = [torch.as_tensor(mu, dtype=torch.float32) for mu in (with_mu, without_mu)]
    agree = 0
    for own, other in (groups, groups[::-1]):
        for i in range(own.shape[0]):
            rest = torch.cat([own[:i], own[i + 1 :]])
            if rest.shape[0] == 0:
                continue
            toward_own = rest.mean(0) - other.mean(0)
            middle = (rest.mean(0) + other.mean(0)) / 2
            agree += int(float((own[i] - middle) @ toward_own) > 0)
    sizes = [g.shape[0] for g in groups]
    return Reliability(agree, sum(sizes), min(sizes))


def direction_names() -> list[str]:
    """Every direction name :func:`compute_directions` can produce, in display order."""
    names = list(PRESENCE) + list(BINARY)
    for attr in ONE_VS_REST:
        names += [f"{attr}:{value}" for value in range(VARIANTS[attr])]
    return names


def compute_directions(mu: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Named unit directions from latents ``mu`` (N, D) and Cartoon Set labels (N, 18), −1 where unknown.

    The labels may be pseudo-labels (:func:`vae.measure.attribute_classifier.label_cache`) of an unlabelled folder.

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


def table_directions(mu: torch.Tensor, columns: dict[str, tuple[list[str], torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Named unit directions from latents ``mu`` (N, D) and a ``labels.tsv``'s columns
    (:func:`vae.data.label_table.label_columns`): a presence (without/with) towards "with", every other class one
    versus the rest; named as the Cartoon Set's direction where the class is matched with one
    (:data:`~vae.data.label_table.CARTOONSET_KEYS`), else "attribute: class" as the table names them."""
    directions: dict[str, torch.Tensor] = {}
    for attribute, (names, values) in columns.items():
        known = values >= 0
        classes = [1] if names == ["without", "with"] else range(len(names))
        for k in classes:
            positive = values[known] == k
            if MIN_EXAMPLES <= int(positive.sum()) <= len(positive) - MIN_EXAMPLES:
                key = CARTOONSET_KEYS.get((attribute, names[k]), f"{title(attribute)}: {names[k]}")
                directions[key] = attribute_direction(mu[known], positive)
    return directions


def check_labelled(folder: str) -> bool:
    """Raise DataError when ``folder`` has no labels to compute directions from (neither Cartoon Set CSV files nor
    a ``labels.tsv``), reading no face; True when it has a ``labels.tsv``."""
    table = has_label_table(folder)
    if not table and not any(face.csv is not None for face in scan_folder(folder)):
        raise DataError(f"{folder} has no labels to compute directions from (Cartoon Set CSV files or a labels.tsv)")
    return table


def directions_from_folder(control, model, folder: str) -> dict:
    """Encode a labelled folder and compute its attribute directions: ``{"folder", "directions"}``.

    The labels are the faces' Cartoon Set CSV files, else the folder's ``labels.tsv``. ``control`` (a
    :class:`~vae.common.control.Control`) may stop it and hears the progress. Raises DataError, before any face is
    read, for a folder with neither.
    """
    table = check_labelled(folder)
    cache = open_folder(folder, model.image_size, control=control)
    if not cache.has_labels and not table:
        raise DataError(f"{folder}: none of its Cartoon Set CSV files could be read, so there are no labels")
    columns = None if cache.has_labels else label_columns(folder, cache.files)
    indices = list(range(len(cache)))
    mus = []
    for start in range(0, len(indices), ENCODE_BATCH):
        control.check()
        mus.append(encode_all(model, cache, indices[start : start + ENCODE_BATCH])[0])
        control.progress(min(start + ENCODE_BATCH, len(indices)), len(indices), "encoding faces")
    mu = torch.cat(mus)
    directions = compute_directions(mu, cache.label_tensor()) if columns is None else table_directions(mu, columns)
    return {"folder": folder, "directions": directions}
