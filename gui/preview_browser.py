"""The Train tab's preview images, one per epoch, browsable with ◀ ▶."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMargins, QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from vae.train.run_history import list_previews

from .controls import plain_label


class PreviewBrowser(QWidget):
    """A run's preview per epoch (a file or a pixmap), newest first shown; it follows new epochs unless the
    user stepped back to an earlier one."""

    def __init__(self, caption: str, empty: str = "No previews yet: each epoch of a run adds one here."):
        super().__init__()
        self.empty = empty
        self.image = plain_label(empty)
        self.image.setWordWrap(True)
        self.image.setMinimumSize(300, 120)
        ignored = QSizePolicy.Policy.Ignored
        self.image.setSizePolicy(ignored, ignored)  # the space sets the preview's size, never the reverse
        self.image.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.caption = plain_label(caption)  # says what the rows are, above every preview
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #505050;")
        self.back = QPushButton("◀")
        self.forward = QPushButton("▶")
        for button, tip in ((self.back, "the previous epoch's preview"), (self.forward, "the next epoch's preview")):
            button.setFixedWidth(32)
            button.setToolTip(tip)
        self.position = plain_label()
        row = QHBoxLayout()
        row.addWidget(self.back)
        row.addWidget(self.position)
        row.addWidget(self.forward)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.image, 1)
        layout.addLayout(row)
        self.back.clicked.connect(lambda: self.show_index(self.index - 1))
        self.forward.clicked.connect(lambda: self.show_index(self.index + 1))
        self.clear()

    def clear(self) -> None:
        self.items: list[tuple[int, Path | QPixmap]] = []
        self.index = -1
        self._source = QPixmap()  # the preview shown, at its own size
        self.image.clear()
        self.image.setText(self.empty)
        self._update_buttons()

    def show_folder(self, folder: str | Path) -> None:
        """The previews saved in a run folder (``epoch_001.png``, …), the newest shown."""
        self.clear()
        self.items = list(list_previews(folder))
        self.show_index(len(self.items) - 1)

    def add(self, epoch: int, image: Path | QPixmap) -> None:
        """A new epoch's preview: shown if the newest was, else kept for browsing."""
        following = self.index == len(self.items) - 1
        self.items = [item for item in self.items if item[0] != epoch] + [(epoch, image)]
        self.show_index(len(self.items) - 1 if following else self.index)

    def show_index(self, index: int) -> None:
        if not self.items:
            self._update_buttons()
            return
        self.index = max(0, min(index, len(self.items) - 1))
        image = self.items[self.index][1]
        pixmap = image if isinstance(image, QPixmap) else QPixmap(str(image))
        self._source = pixmap
        if pixmap.isNull():
            self.image.setText(f"cannot read {image}")
        else:
            self._fit()
        self._update_buttons()

    def _fit(self) -> None:
        """The preview as large as the space allows, whole: its width or its height fills the space."""
        room = self.image.contentsRect().size().shrunkBy(QMargins(0, 0, 4, 4))
        room = QSize(max(room.width(), 300), max(room.height(), 100))
        self.image.setPixmap(
            self._source.scaled(room, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        )

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self.items and not self._source.isNull():
            self._fit()

    def _update_buttons(self) -> None:
        last = len(self.items) - 1
        self.back.setEnabled(self.index > 0)
        self.forward.setEnabled(0 <= self.index < last)
        self.position.setText(f"epoch {self.items[self.index][0]} of {self.items[-1][0]}" if self.items else "")

    @property
    def epoch(self) -> int | None:
        """The epoch of the preview shown."""
        return self.items[self.index][0] if self.items else None

    def pixmap(self) -> QPixmap:
        return self.image.pixmap()
