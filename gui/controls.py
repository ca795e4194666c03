"""Small widget factories shared by the panels."""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox


def spin_box(minimum: int, maximum: int, value: int, prefix: str = "", suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(minimum, maximum)
    box.setValue(value)
    box.setPrefix(prefix)
    box.setSuffix(suffix)
    return box


def double_spin_box(minimum: float, maximum: float, value: float, step: float, decimals: int = 2,
                    prefix: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setValue(value)
    box.setPrefix(prefix)
    return box
