"""Explore panel: the decoded face and one slider per latent dimension."""

from __future__ import annotations

import torch
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider,
    QToolButton, QVBoxLayout, QWidget,
)

from vae import export
from vae.data import ImageLoadError
from vae.session import SLIDER_RANGE, ExplorerSession

from .controls import double_spin_box, spin_box
from .dialogs import ask_save_path, export_face
from .qt_images import to_pixmap

STEPS_PER_UNIT = 100
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp)"
LOCK_STYLE = ("QToolButton { font-size: 9px; color: #909090; border: 1px solid transparent; padding: 0 2px; }"
              "QToolButton:checked { color: white; background: #d9822b; border-radius: 3px; }")


class FaceView(QLabel):
    """Shows one face, scaled smoothly to fill the widget's square."""

    def __init__(self, minimum: int = 256):
        super().__init__()
        self.setMinimumSize(minimum, minimum)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("background: white; border: 1px solid #c8c8c8;")
        self._image: torch.Tensor | None = None

    def set_image(self, image: torch.Tensor) -> None:
        self._image = image
        self._repaint()

    def _repaint(self) -> None:
        if self._image is not None:
            side = max(16, min(self.width(), self.height()) - 4)
            self.setPixmap(to_pixmap(self._image, side))

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._repaint()

    def sizeHint(self) -> QSize:
        return QSize(448, 448)


class LatentSlider(QWidget):
    """A vertical slider for one dimension, with its index, a lock toggle and a used/unused mark."""

    moved = Signal(int, float)
    pressed = Signal()
    released = Signal()
    lock_toggled = Signal(int)

    def __init__(self, dim: int, active: bool, kl: float | None):
        super().__init__()
        self.dim = dim
        self.slider = QSlider(Qt.Orientation.Vertical)
        self.slider.setRange(-int(SLIDER_RANGE * STEPS_PER_UNIT), int(SLIDER_RANGE * STEPS_PER_UNIT))
        self.slider.setPageStep(STEPS_PER_UNIT // 2)
        self.slider.setMinimumHeight(120)
        self.label = QLabel(f"z{dim}")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.lock = QToolButton()
        self.lock.setCheckable(True)
        self.lock.setText("lock")
        self.lock.setStyleSheet(LOCK_STYLE)
        self.lock.setToolTip(f"Lock z{dim}: keep it when randomising")
        self.lock.setAutoRaise(True)
        usage = f"KL {kl:.2f} nats" if kl is not None else "usage unknown"
        self.setToolTip(f"z{dim}: {usage}" + ("" if active else " — unused by the model"))
        if not active:
            self.label.setText(f"z{dim}·")
            self.label.setStyleSheet("color: #a0a0a0;")
            self.slider.setStyleSheet("QSlider::groove:vertical { background: #e6e6e6; width: 4px; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(1, 1, 1, 1)
        layout.setSpacing(1)
        layout.addWidget(self.lock, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.slider, 1, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.label)
        self.active = active
        self.slider.valueChanged.connect(lambda v: self.moved.emit(self.dim, v / STEPS_PER_UNIT))
        self.slider.sliderPressed.connect(self.pressed)
        self.slider.sliderReleased.connect(self.released)
        self.lock.toggled.connect(self._lock_changed)

    def _lock_changed(self, checked: bool) -> None:
        self.lock_toggled.emit(self.dim)

    def show_value(self, value: float, locked: bool) -> None:
        """Reflect the state without emitting signals back into it."""
        self.slider.blockSignals(True)
        self.slider.setValue(round(max(-SLIDER_RANGE, min(SLIDER_RANGE, value)) * STEPS_PER_UNIT))
        self.slider.blockSignals(False)
        self.lock.blockSignals(True)
        self.lock.setChecked(locked)
        self.lock.blockSignals(False)


class ExplorePanel(QWidget):
    """The face and its latent sliders, with Random/Reset/Encode/Load/Save/Export."""

    error = Signal(str)

    def __init__(self):
        super().__init__()
        self.session: ExplorerSession | None = None
        self.sliders: dict[int, LatentSlider] = {}
        self.face = FaceView()

        self.random_button = QPushButton("Random")
        self.random_button.setToolTip("A new face from the prior (R); locked sliders stay")
        self.temperature = double_spin_box(0.0, 2.0, 0.8, 0.1, prefix="temperature ")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("All sliders to zero: the average face (Home)")
        self.encode_button = QPushButton("Encode image…")
        self.encode_button.setToolTip("Set the sliders to an image's encoding (or drop an image on the window)")
        self.load_button = QPushButton("Load latent…")
        self.save_button = QPushButton("Save latent…")
        self.export_button = QPushButton("Export PNG…")
        self.export_size = spin_box(64, 1024, 512, suffix=" px")
        self.export_size.setSingleStep(64)

        buttons = QHBoxLayout()
        for widget in (self.random_button, self.temperature, self.reset_button, self.encode_button, self.load_button,
                       self.save_button, self.export_button, self.export_size):
            buttons.addWidget(widget)
        buttons.addStretch(1)

        self.slider_box = QGroupBox("Latent dimensions (±3σ), most used first")
        self.slider_grid = QGridLayout(self.slider_box)
        self.slider_grid.setSpacing(2)

        top = QHBoxLayout()
        top.addWidget(self.face, 5)
        top.addWidget(self.slider_box, 7)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addLayout(buttons)

        self.random_button.clicked.connect(self.randomize)
        self.reset_button.clicked.connect(lambda: self.session and self.session.state.reset())
        self.encode_button.clicked.connect(self._ask_encode)
        self.load_button.clicked.connect(self._ask_load_latent)
        self.save_button.clicked.connect(self._ask_save_latent)
        self.export_button.clicked.connect(self.ask_export)

    # ------------------------------------------------------------ model
    def set_session(self, session: ExplorerSession) -> None:
        """Show a (new) model: rebuild the sliders and observe its latent state."""
        self.session = session
        for slider in self.sliders.values():
            slider.setParent(None)
            slider.deleteLater()
        self.sliders.clear()
        kl = session.latent_kl
        columns = 16 if session.model.latent_dim > 16 else session.model.latent_dim
        for position, dim in enumerate(session.dimension_order):
            slider = LatentSlider(dim, session.is_active(dim), None if kl is None else float(kl[dim]))
            slider.moved.connect(self._slider_moved)
            slider.pressed.connect(session.state.begin_drag)
            slider.released.connect(session.state.end_drag)
            slider.lock_toggled.connect(session.state.toggle_lock)
            self.slider_grid.addWidget(slider, position // columns, position % columns)
            self.sliders[dim] = slider
        session.state.subscribe(self.refresh)
        self.refresh()

    def _slider_moved(self, dim: int, value: float) -> None:
        self.session.state.set_dim(dim, value)

    def refresh(self) -> None:
        """Pull the state into the widgets: every slider, then one decode."""
        state = self.session.state
        values = state.values
        for dim, slider in self.sliders.items():
            slider.show_value(float(values[dim]), dim in state.locks)
        self.face.set_image(self.session.current_image())

    # ------------------------------------------------------------ actions
    def randomize(self) -> None:
        if self.session:
            self.session.state.randomize(self.temperature.value())

    def encode_path(self, path: str) -> bool:
        """Set the latent to the encoding of an image file; False (and an error) if it cannot be read."""
        try:
            mu = self.session.encode_file(path)
        except ImageLoadError as exc:
            self.error.emit(str(exc))
            return False
        self.session.state.set_values(mu)
        return True

    def _ask_encode(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Encode image", "", IMAGE_FILTER)
        if path:
            self.encode_path(path)

    def load_latent_path(self, path: str) -> bool:
        try:
            latents = export.load_latents(path)
            self.session.state.set_values(latents[0])
        except ValueError as exc:
            self.error.emit(str(exc))
            return False
        return True

    def _ask_load_latent(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load latent", "", "Latent JSON (*.json)")
        if path:
            self.load_latent_path(path)

    def save_latent_path(self, path: str) -> bool:
        try:
            export.save_latents(path, self.session.state.values, self.session.name)
        except export.ExportError as exc:
            self.error.emit(str(exc))
            return False
        return True

    def _ask_save_latent(self) -> None:
        path = ask_save_path(self, "Save latent", "face.json", "Latent JSON (*.json)", ".json")
        if path:
            self.save_latent_path(path)

    def export_path(self, path: str, size: int | None = None) -> bool:
        """Write the current face as a PNG (with its latent beside it)."""
        return export_face(self, path, self.session.current_image(), size or self.export_size.value(),
                           self.session.state.values, self.session.name)

    def ask_export(self) -> None:
        path = ask_save_path(self, "Export PNG", "face.png", "PNG image (*.png)", ".png")
        if path:
            self.export_path(path)
