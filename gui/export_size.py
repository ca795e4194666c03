"""The export size box shared by the panels, and the words that say how a face is enlarged."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QSpinBox

from vae.explore.export import MAX_EXPORT_SIZE, sidecar_path

from .controls import spin_box, wrapped_tooltip

EXPORT_STEP = 64
LARGEST_OFFERED = min(2048, MAX_EXPORT_SIZE)


def enlargement(native: int, size: int) -> str:
    """How an export of ``size`` px is made from the model's ``native`` px faces, in a few words."""
    if size <= native:
        return f"the model draws {native} px faces; exported at {size} px"
    return f"the model draws {native} px faces, enlarged ×{size / native:.3g} to {size} px with crisp edges"


def wrote_message(written: str | Path, detail: str = "") -> str:
    """The status bar's words for an export: the file names first and the folder last, so that a long message cut
    in its middle keeps both ("wrote face.png (512×512 px) and face.png.json in /home/…/faces")."""
    written = Path(written)
    detail = f" ({detail})" if detail else ""
    return f"wrote {written.name}{detail} and {sidecar_path(written).name} in {written.parent}"


def export_size_box(default: int, what: str = "exported image") -> QSpinBox:
    """A pixel-size box from 64 px up, in steps of 64; :func:`show_native_size` keeps its tooltip true."""
    box = spin_box(EXPORT_STEP, LARGEST_OFFERED, default, suffix=" px")
    box.setSingleStep(EXPORT_STEP)
    box.setProperty("what", what)
    return box


def remember_size(box: QSpinBox, settings, key: str) -> None:
    """Start ``box`` at the size chosen at the last launch (under ``key`` in ``settings``) and keep each choice."""
    if settings is None:
        return
    try:
        box.setValue(int(settings.value(key, box.value())))  # out of range: clamped; not a number: kept
    except (TypeError, ValueError):
        pass
    box.valueChanged.connect(lambda size: settings.setValue(key, size))


def show_native_size(box: QSpinBox, native: int) -> None:
    """Say in ``box``'s tooltip how big the model's faces really are and how they are enlarged."""
    box.setToolTip(
        wrapped_tooltip(
            f"Side of the {box.property('what')}. The model draws {native}×{native} px faces; larger exports are "
            "enlarged by doubling with Lanczos and re-sharpening the outlines each time: no blur, "
            "no pixel stairs, but no detail the model did not draw"
        )
    )
