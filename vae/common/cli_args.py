"""argparse types for numbers with an allowed range: a bad value exits 2 naming the flag and the range."""

from __future__ import annotations

import argparse
import math

SEED_MAX = 2**32 - 1


def int_range(low: int, high: int):
    """A whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (allowed: {low}…{high})") from None
        if not low <= value <= high:
            shown = text if len(text) <= 30 else text[:12] + "…" + text[-6:]
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {shown}")
        return value

    return parse


def float_range(low: float, high: float, low_inclusive: bool = True):
    """A finite number in [low, high] (or (low, high] when ``low_inclusive`` is false)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        above = value >= low if low_inclusive else value > low
        if not (math.isfinite(value) and above and value <= high):
            bracket = "[" if low_inclusive else "("
            raise argparse.ArgumentTypeError(f"must be a finite number in {bracket}{low:g}, {high:g}], got {text}")
        return value

    return parse
