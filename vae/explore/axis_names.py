"""Names for the sliders: the stored attribute direction a latent axis moves along, where it clearly moves along one.

Raising slider ``i`` moves the latent along the unit axis eᵢ; its cosine with a unit direction d is dᵢ. An
axis is named after the directions with |dᵢ| ≥ :data:`AXIS_NAME_MIN_COSINE`, the strongest first.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.attribute_names import describe_direction, title, value_name
from ..data.cartoonset import VARIANTS

AXIS_NAME_MIN_COSINE = 0.45
"""The |cosine| an axis needs with a direction to be named after it: the axis carries at least a fifth (cos²) of the
direction. A random direction in D dimensions puts 1/D of itself on each axis (|cos| ≈ 0.18 for D = 32), so 0.45 is
2.5 standard deviations above chance there. In the shipped 64×64 model it names z8, z12 and z28 (hair colour) and
z30 (skin tone), in the 128×128 model z10 and z16 (hair colour) too."""


@dataclass(frozen=True)
class AxisMatch:
    """A direction an axis moves along: ``cosine`` > 0 when raising the slider moves toward it."""

    direction: str
    cosine: float

    @property
    def attribute(self) -> str:
        """The attribute (``hair_color`` of ``hair_color:3``), or the whole name of a direction defined by example."""
        attr, _, _ = self.direction.partition(":")
        return attr if attr in VARIANTS else self.direction


@dataclass(frozen=True)
class AxisName:
    """What one slider does, from the directions its axis matches (strongest first)."""

    matches: tuple[AxisMatch, ...]

    @property
    def short(self) -> str:
        """``hair colour``: the attribute of the strongest match (a direction defined by example: its name)."""
        attr = self.matches[0].attribute
        return title(attr) if attr in VARIANTS else attr

    @property
    def detail(self) -> str:
        """``raise for auburn, lower for white``: where each end of the slider leads."""
        ends = []
        for sign, verb in ((1, "raise"), (-1, "lower")):
            words = [self._word(m) for m in self.matches if (m.cosine > 0) == (sign > 0)]
            if words:
                ends.append(f"{verb} for {' or '.join(words)}")
        return ", ".join(ends)

    def _word(self, match: AxisMatch) -> str:
        attr, sep, value = match.direction.partition(":")
        if attr not in VARIANTS:
            return match.direction
        if not sep:
            return title(attr)
        word = value_name(attr, int(value))
        return word if match.attribute == self.matches[0].attribute else describe_direction(match.direction)


def axis_matches(
    directions: dict[str, torch.Tensor], latent_dim: int, threshold: float = AXIS_NAME_MIN_COSINE
) -> dict[int, list[AxisMatch]]:
    """Per dimension, the directions whose |cosine| with its unit axis is at least ``threshold``, strongest first.

    Dimensions with none are left out; so are directions of another length or of zero length.
    """
    found: dict[int, list[AxisMatch]] = {}
    for name, direction in directions.items():
        d = torch.as_tensor(direction, dtype=torch.float64).reshape(-1)
        norm = d.norm()
        if d.numel() != latent_dim or not torch.isfinite(d).all() or norm < 1e-12:
            continue
        cosines = d / norm
        for dim in torch.nonzero(cosines.abs() >= threshold).flatten().tolist():
            found.setdefault(dim, []).append(AxisMatch(name, float(cosines[dim])))
    return {dim: sorted(matches, key=lambda m: -abs(m.cosine)) for dim, matches in sorted(found.items())}


def name_axes(
    directions: dict[str, torch.Tensor], latent_dim: int, threshold: float = AXIS_NAME_MIN_COSINE
) -> dict[int, AxisName]:
    """Each dimension that clearly moves along a stored direction → its :class:`AxisName`."""
    return {dim: AxisName(tuple(m)) for dim, m in axis_matches(directions, latent_dim, threshold).items()}
