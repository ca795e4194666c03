"""Cartoon Set attributes as people name them, with their colours (for the Map legend and direction lists)."""

from __future__ import annotations

from vae.data import synth
from vae.data.attribute_names import ATTRIBUTE_TITLES, VALUE_NAMES, describe_direction, title, value_name

__all__ = ["ATTRIBUTE_TITLES", "VALUE_NAMES", "COLOURS", "colour", "describe_direction", "title", "value_name"]

COLOURS = {"hair_color": synth.HAIR, "face_color": synth.SKIN, "eye_color": synth.EYES, "glasses_color": synth.GLASSES}


def colour(attribute: str, value: int) -> tuple[int, int, int] | None:
    """The attribute value's colour when the attribute is a colour, else None."""
    palette = COLOURS.get(attribute)
    return palette[value] if palette and 0 <= value < len(palette) else None
