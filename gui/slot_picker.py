"""A face slot chooser: the explorer's face, a random face, an image, a saved latent or a dataset face."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from vae import slots
from vae.data import ImageLoadError

from .qt_images import to_pixmap

SOURCE_LABELS = {
    "current": "Explorer face",
    "random": "Random face",
    "image": "Image file…",
    "latent": "Latent JSON…",
    "dataset": "Dataset face (from the Map)",
}


class SlotPicker(QWidget):
    """Shows a slot's face and lets the user refill it from any source."""

    changed = Signal()
    error = Signal(str)

    def __init__(self, title: str, context, thumb: int = 72):
        super().__init__()
        self.context = context  # the main window: .session, .map_faces() for dataset faces
        self.slot: slots.FaceSlot | None = None
        self.thumb_size = thumb
        self.title = QLabel(f"<b>{title}</b>")
        self.thumb = QLabel()
        self.thumb.setFixedSize(thumb, thumb)
        self.thumb.setStyleSheet("background: white; border: 1px solid #c8c8c8;")
        self.caption = QLabel("–")
        self.caption.setStyleSheet("color: #606060;")
        self.source = QComboBox()
        for key, label in SOURCE_LABELS.items():
            self.source.addItem(label, key)
        self.set_button = QPushButton("Set")
        self.set_button.clicked.connect(self.fill_from_source)
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.caption)
        row = QHBoxLayout()
        row.addWidget(self.source, 1)
        row.addWidget(self.set_button)
        text.addLayout(row)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.thumb)
        layout.addLayout(text, 1)

    @property
    def latent(self):
        return None if self.slot is None else self.slot.latent

    def set_slot(self, slot: slots.FaceSlot) -> None:
        self.slot = slot
        self.caption.setText(slot.label)
        image = self.context.session.renderer.render_batch(slot.latent.reshape(1, -1))[0]
        self.thumb.setPixmap(to_pixmap(image, self.thumb_size - 2))
        self.changed.emit()

    def fill_from_source(self, source: str | None = None, path: str | None = None) -> bool:
        """Fill the slot from ``source`` (default: the combo's choice); file sources ask for a path."""
        session = self.context.session
        source = source or self.source.currentData()
        try:
            if source == "current":
                slot = slots.from_current(session.state.values)
            elif source == "random":
                slot = slots.from_random(session.state)
            elif source == "image":
                path = path or QFileDialog.getOpenFileName(self, "Face image", "", "Images (*.png *.jpg *.jpeg *.webp)")[0]
                if not path:
                    return False
                slot = slots.from_image(session, path)
            elif source == "latent":
                path = path or QFileDialog.getOpenFileName(self, "Latent JSON", "", "Latent JSON (*.json)")[0]
                if not path:
                    return False
                slot = slots.from_latent_file(path, session.model.latent_dim)
            else:
                faces = self.context.map_faces()
                if faces is None:
                    self.error.emit("Load faces in the Map panel first, then pick one there or here at random.")
                    return False
                slot = faces.random_slot()
        except (ImageLoadError, ValueError) as exc:
            self.error.emit(str(exc))
            return False
        self.set_slot(slot)
        return True

    def clear(self) -> None:
        self.slot = None
        self.thumb.clear()
        self.caption.setText("–")
