"""One latent dimension's control: a vertical slider filled from its centre, its lock, its name and value."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSlider, QStyle, QStyleOptionSlider, QToolButton, QVBoxLayout, QWidget

from vae.explore.axis_names import AxisName
from vae.explore.session import SLIDER_RANGE

from .controls import plain_label

STEPS_PER_UNIT = 100
LOCK_STYLE = (
    "QToolButton { font-size: 9px; color: #6a6a6a; border: 1px solid #d4d4d4; border-radius: 3px; padding: 0 2px; }"
    "QToolButton:hover { color: #b5651d; border-color: #d9822b; }"
    "QToolButton:checked { color: white; background: #d9822b; border-color: #d9822b; }"
    "QToolButton:focus { border: 1px solid #2a82da; border-radius: 3px; }"
)  # a framed button, not loose text; Tab reaches it: show it
ACCENT = QColor("#2a82da")
MUTED = QColor("#b8b8b8")


class CentreSlider(QSlider):
    """A vertical slider whose fill runs from the centre (0) to the handle, so 0 looks like 0."""

    hovered = Signal(bool)
    focused = Signal(bool)

    def __init__(self, active: bool = True):
        super().__init__(Qt.Orientation.Vertical)
        self.active = active
        self.setMouseTracking(True)

    def event(self, event):
        """Home and End move a focused slider to its ends, as End always did (Home, as a window shortcut, reset
        the whole face instead)."""
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and event.key() in (Qt.Key.Key_Home, Qt.Key.Key_End)
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
        ):
            event.accept()
            return True
        return super().event(event)

    def enterEvent(self, event):
        super().enterEvent(event)
        self.hovered.emit(True)

    def leaveEvent(self, event):
        super().leaveEvent(event)
        self.hovered.emit(False)

    def focusInEvent(self, event):
        super().focusInEvent(event)
        self.focused.emit(True)

    def focusOutEvent(self, event):
        super().focusOutEvent(event)
        self.focused.emit(False)

    def _y(self, value: int) -> float:
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        handle = self.style().subControlRect(
            QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, self
        )
        span = self.height() - handle.height()
        pos = QStyle.sliderPositionFromValue(self.minimum(), self.maximum(), value, span, upsideDown=True)
        return pos + handle.height() / 2

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        x = self.width() / 2
        top, bottom = self._y(self.maximum()), self._y(self.minimum())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#e4e4e4"))
        painter.drawRoundedRect(QRectF(x - 2, top, 4, bottom - top), 2, 2)
        centre, here = self._y(0), self._y(self.value())
        painter.setBrush(ACCENT if self.active else MUTED)
        painter.drawRect(QRectF(x - 2, min(centre, here), 4, abs(here - centre)))
        painter.setPen(QPen(QColor("#909090"), 1))
        painter.drawLine(int(x - 5), int(centre), int(x + 5), int(centre))
        focused = self.hasFocus()  # the arrow keys move it: show it as the palette's focus ring does
        painter.setPen(
            QPen(ACCENT if focused else QColor("#5a5a5a" if self.isSliderDown() else "#808080"), 2 if focused else 1)
        )
        painter.setBrush(QColor("white"))
        painter.drawEllipse(QRectF(x - 6, here - 6, 12, 12))


class LatentSlider(QWidget):
    """A vertical slider for one dimension, with its index, a lock toggle and a used/unused mark."""

    moved = Signal(int, float)
    pressed = Signal()
    released = Signal()
    lock_toggled = Signal(int, bool)
    hovered = Signal(int, bool)
    focused = Signal(int, bool)

    def __init__(self, dim: int, active: bool, kl: float | None, name: AxisName | None = None):
        super().__init__()
        self.dim = dim
        self.kl = kl
        self.name = name
        self.slider = CentreSlider(active)
        self.slider.setRange(-int(SLIDER_RANGE * STEPS_PER_UNIT), int(SLIDER_RANGE * STEPS_PER_UNIT))
        self.slider.setSingleStep(STEPS_PER_UNIT // 10)  # arrow keys: 0.1σ, Page Up/Down: 0.5σ
        self.slider.setPageStep(STEPS_PER_UNIT // 2)
        self.slider.setMinimumHeight(110)
        self.slider.setMinimumWidth(16)
        self.label = plain_label(f"z{dim}")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.lock = QToolButton()
        self.lock.setCheckable(True)
        self.lock.setText("lock")
        self.lock.setStyleSheet(LOCK_STYLE)
        self.lock.setToolTip(
            f"Lock z{dim}: keep it through Random, Reset and Zero all (an encoded or loaded face sets it)"
        )
        self.lock.setAutoRaise(True)
        if not active:
            self.label.setText(f"z{dim}·")
            self.label.setStyleSheet("color: #a0a0a0;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(1, 1, 1, 1)
        layout.setSpacing(1)
        layout.addWidget(self.lock, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.slider, 1, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.label)
        self.active = active
        self._value = 0.0  # the state's value, which may lie beyond the slider's ±SLIDER_RANGE
        self.slider.valueChanged.connect(self._moved)
        self.slider.sliderPressed.connect(self.pressed)
        self.slider.sliderReleased.connect(self.released)
        self.slider.hovered.connect(lambda inside: self.hovered.emit(self.dim, inside))
        self.slider.focused.connect(lambda has: self.focused.emit(self.dim, has))
        self.lock.toggled.connect(lambda checked: self.lock_toggled.emit(self.dim, checked))
        self._describe()

    @property
    def value(self) -> float:
        """The value this dimension holds, also where it lies beyond the slider's reach (the slider then sits at
        its end)."""
        return self._value

    def _moved(self, steps: int) -> None:
        self._value = steps / STEPS_PER_UNIT
        self.moved.emit(self.dim, self._value)

    def describe(self) -> str:
        """``z12 · hair colour = +1.25σ · KL 2.10 nats`` (what the value readout shows for this slider); the name
        only where the axis clearly moves along a stored direction (:func:`vae.explore.axis_names.name_axes`)."""
        usage = f"KL {self.kl:.2f} nats" if self.kl is not None else "usage unknown"
        named = f"z{self.dim} · {self.name.short}" if self.name is not None else f"z{self.dim}"
        beyond = f" (beyond the slider's ±{SLIDER_RANGE:g}σ)" if abs(self.value) > SLIDER_RANGE else ""
        return f"{named} = {self.value:+.2f}σ{beyond} · {usage}" + ("" if self.active else " · unused by the model")

    def set_name(self, name: AxisName | None) -> None:
        self.name = name
        self._describe()

    def _describe(self) -> None:
        detail = f"\n{self.name.detail}" if self.name is not None and self.name.detail else ""
        self.setToolTip(self.describe() + detail)

    def show_value(self, value: float) -> None:
        """Reflect the state without emitting signals back into it."""
        self._value = value
        self.slider.blockSignals(True)
        self.slider.setValue(round(max(-SLIDER_RANGE, min(SLIDER_RANGE, value)) * STEPS_PER_UNIT))
        self.slider.blockSignals(False)
        self._describe()

    def show_lock(self, locked: bool) -> None:
        self.lock.blockSignals(True)
        self.lock.setChecked(locked)
        self.lock.blockSignals(False)
