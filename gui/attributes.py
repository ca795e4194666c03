"""Cartoon Set attributes as people name them, with their colours (for the Map legend and direction lists)."""

from __future__ import annotations

from vae.data import synth
from vae.data.attribute_names import ATTRIBUTE_TITLES, VALUE_NAMES, describe_direction, title, value_name
from vae.data.label_table import CARTOONSET_KEYS

__all__ = [
    "ATTRIBUTE_TITLES",
    "VALUE_NAMES",
    "COLOURS",
    "colour",
    "describe_direction",
    "table_colour",
    "title",
    "value_name",
]

COLOURS = {"hair_color": synth.HAIR, "face_color": synth.SKIN, "eye_color": synth.EYES, "glasses_color": synth.GLASSES}


def colour(attribute: str, value: int) -> tuple[int, int, int] | None:
    """The attribute value's colour when the attribute is a colour, else None."""
    palette = COLOURS.get(attribute)
    return palette[value] if palette and 0 <= value < len(palette) else None


def table_colour(attribute: str, class_name: str) -> tuple[int, int, int] | None:
    """The colour of a labels.tsv class that names a Cartoon Set colour (``hair_color`` ``blonde``), else None."""
    attr, matched, value = CARTOONSET_KEYS.get((attribute, class_name), "").partition(":")
    return colour(attr, int(value)) if matched else None
