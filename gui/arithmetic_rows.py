"""The rows of the Arithmetic panel: a weighted face term, an applied direction with its strength."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSlider, QWidget

from vae.explore.session import ExplorerSession

from .attributes import describe_direction
from .controls import double_spin_box, plain_label, wheel_only_when_focused
from .widgets import FacePicker

STRENGTH_STEPS = 100  # slider steps per unit of strength


class TermRow(QWidget):
    """One term of the sum: a face picker with a weight (negative to subtract)."""

    changed = Signal()
    remove = Signal(object)

    def __init__(self, title: str, session: ExplorerSession, settings, weight: float = 1.0):
        super().__init__()
        self.picker = FacePicker(title, session, thumb=64, settings=settings)
        self.weight = double_spin_box(-3.0, 3.0, weight, 0.1, prefix="× ")
        wheel_only_when_focused(self.weight)
        self.remove_button = QPushButton("✕")
        self.remove_button.setFixedWidth(28)
        self.remove_button.setToolTip("Remove this term")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picker, 1)
        layout.addWidget(self.weight)
        layout.addWidget(self.remove_button)
        self.picker.changed.connect(self.changed)
        self.weight.valueChanged.connect(self.changed)
        self.remove_button.clicked.connect(lambda: self.remove.emit(self))


class DirectionRow(QWidget):
    """An attribute direction with a strength slider (−3 … +3)."""

    changed = Signal()
    remove = Signal(object)

    def __init__(self, name: str, strength: float = 1.0):
        super().__init__()
        self.name = name
        self.label = plain_label(describe_direction(name))
        self.label.setMinimumWidth(140)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-3 * STRENGTH_STEPS, 3 * STRENGTH_STEPS)
        self.slider.setValue(round(strength * STRENGTH_STEPS))
        self.slider.setSingleStep(STRENGTH_STEPS // 10)  # arrow keys: 0.1, Page Up/Down: 0.5, as the latent sliders
        self.slider.setPageStep(STRENGTH_STEPS // 2)
        wheel_only_when_focused(self.slider)
        self.value_label = plain_label()
        self.value_label.setMinimumWidth(40)
        self.remove_button = QPushButton("✕")
        self.remove_button.setFixedWidth(28)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.value_label)
        layout.addWidget(self.remove_button)
        self.slider.valueChanged.connect(self._update)
        self.remove_button.clicked.connect(lambda: self.remove.emit(self))
        self._update()

    @property
    def strength(self) -> float:
        return self.slider.value() / STRENGTH_STEPS

    def show_direction(self, name: str, strength: float) -> None:
        """Show direction ``name`` at ``strength`` without announcing it."""
        self.name = name
        self.label.setText(describe_direction(name))
        self.slider.blockSignals(True)
        self.slider.setValue(round(strength * STRENGTH_STEPS))
        self.slider.blockSignals(False)
        self.value_label.setText(f"{self.strength:+.2f}")

    def _update(self) -> None:
        self.value_label.setText(f"{self.strength:+.2f}")
        self.changed.emit()
