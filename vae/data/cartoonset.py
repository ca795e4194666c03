"""The Cartoon Set attribute table and its per-image CSV format.

Each face ``cs<digits>.png`` has a sibling ``cs<digits>.csv`` with one line per attribute:
``"<name>", <value>, <number of variants>``, values 0-based.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# (name, number of variants), in the order the dataset's own CSV files list them.
ATTRIBUTES: tuple[tuple[str, int], ...] = (
    ("eye_angle", 3),
    ("eye_lashes", 2),
    ("eye_lid", 2),
    ("chin_length", 3),
    ("eyebrow_weight", 2),
    ("eyebrow_shape", 14),
    ("eyebrow_thickness", 4),
    ("face_shape", 7),
    ("facial_hair", 15),
    ("hair", 111),
    ("eye_color", 5),
    ("face_color", 11),
    ("hair_color", 10),
    ("glasses", 12),
    ("glasses_color", 7),
    ("eye_slant", 3),
    ("eyebrow_width", 3),
    ("eye_eyebrow_distance", 3),
)
ATTRIBUTE_NAMES: tuple[str, ...] = tuple(name for name, _ in ATTRIBUTES)
VARIANTS: dict[str, int] = dict(ATTRIBUTES)
NO_GLASSES = 11
NO_FACIAL_HAIR = 14

GROUPS = {
    "artwork": (
        "chin_length",
        "eye_angle",
        "eye_lashes",
        "eye_lid",
        "eyebrow_shape",
        "eyebrow_weight",
        "face_shape",
        "facial_hair",
        "glasses",
        "hair",
    ),
    "colour": ("eye_color", "face_color", "glasses_color", "hair_color"),
    "proportion": ("eye_eyebrow_distance", "eye_slant", "eyebrow_thickness", "eyebrow_width"),
}

_LINE = re.compile(r'^\s*"([a-z_]+)"\s*,\s*(-?\d+)\s*,\s*(\d+)\s*$')


class CsvFormatError(ValueError):
    """A Cartoon Set CSV file is malformed; the message names the file and line."""


def format_csv(attributes: dict[str, int]) -> str:
    """The CSV text for one face, in the dataset's attribute order."""
    lines = []
    for name, variants in ATTRIBUTES:
        value = int(attributes[name])
        if not 0 <= value < variants:
            raise ValueError(f"{name}={value} is outside 0…{variants - 1}")
        lines.append(f'"{name}", {value}, {variants}')
    return "\n".join(lines) + "\n"


def parse_csv(text: str, source: str | os.PathLike = "<csv>") -> dict[str, int]:
    """Attributes from CSV text; unknown names are ignored, malformed lines raise :class:`CsvFormatError`."""
    result: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if not match:
            raise CsvFormatError(f"{source}: line {number} is not '\"name\", value, variants': {line.strip()[:60]!r}")
        name, value, variants = match.group(1), int(match.group(2)), int(match.group(3))
        if name in VARIANTS:
            if variants != VARIANTS[name] or not 0 <= value < variants:
                raise CsvFormatError(f"{source}: line {number}: {name}={value} of {variants} is out of range")
            result[name] = value
    if not result:
        raise CsvFormatError(f"{source}: no Cartoon Set attributes found")
    return result


def read_csv(path: str | os.PathLike) -> dict[str, int]:
    """Attributes from a CSV file (see :func:`parse_csv`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CsvFormatError(f"{path}: cannot read ({exc.__class__.__name__})") from exc
    return parse_csv(text, path)


def labels_vector(attributes: dict[str, int] | None) -> list[int]:
    """All 18 attribute values in table order, −1 where unknown."""
    attributes = attributes or {}
    return [int(attributes.get(name, -1)) for name in ATTRIBUTE_NAMES]
