"""Cartoon Set attributes and direction keys as people name them (``hair_color:3`` → ``hair colour: auburn``)."""

from __future__ import annotations

from .cartoonset import NO_FACIAL_HAIR, NO_GLASSES, VARIANTS

ATTRIBUTE_TITLES = {
    "hair_color": "hair colour",
    "face_color": "skin tone",
    "eye_color": "eye colour",
    "glasses_color": "glasses colour",
    "facial_hair": "facial hair",
    "eye_lashes": "eyelashes",
    "eye_lid": "eyelids",
    "face_shape": "face shape",
    "chin_length": "chin length",
}

VALUE_NAMES = {
    "hair_color": [
        "black",
        "dark brown",
        "brown",
        "auburn",
        "ginger",
        "golden blonde",
        "light blonde",
        "grey",
        "white",
        "blue-grey",
    ],
    "face_color": [
        "porcelain",
        "fair",
        "light",
        "light beige",
        "beige",
        "tan",
        "olive brown",
        "brown",
        "dark brown",
        "deep brown",
        "darkest brown",
    ],
    "eye_color": ["brown", "blue", "green", "grey", "dark brown"],
    "glasses_color": ["black", "pink", "yellow", "blue", "white", "brown", "green"],
    "eye_lashes": ["none", "long"],
    "eye_lid": ["plain", "lidded"],
}


def title(attribute: str) -> str:
    return ATTRIBUTE_TITLES.get(attribute, attribute.replace("_", " "))


def value_name(attribute: str, value: int) -> str:
    """``("hair_color", 0)`` → ``"black"``; styles without a name are numbered from 1; "none" where it means none."""
    if attribute == "glasses" and value == NO_GLASSES or attribute == "facial_hair" and value == NO_FACIAL_HAIR:
        return "none"
    names = VALUE_NAMES.get(attribute)
    if names and 0 <= value < len(names):
        return names[value]
    return f"style {value + 1}" if value >= 0 else "unknown"


def describe_direction(name: str) -> str:
    """A direction key as people read it: ``hair_color:3`` → ``hair colour: auburn``, ``glasses`` → ``+glasses``."""
    attr, sep, value = name.partition(":")
    if attr not in VARIANTS:
        return name  # a direction the user defined by example keeps the name it was given
    if not sep:
        return f"+{title(attr)}"
    return f"{title(attr)}: {value_name(attr, int(value))}"
