"""Morph panel: a timeline between two faces, a filmstrip, playback and PNG/GIF export."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem, QProgressBar,
    QPushButton, QSlider, QVBoxLayout, QWidget,
)

from vae import export
from vae.latent import morph, ping_pong

from .controls import spin_box
from .dialogs import ask_save_path
from .explore_panel import FaceView
from .qt_images import to_pixmap
from .slot_picker import SlotPicker
from .workers import Background

STRIP_ICON = 72


class MorphPanel(QWidget):
    """Interpolates between slots A and B; every frame is decoded in one batch."""

    send_to_explorer = Signal(object)  # a latent
    error = Signal(str)

    def __init__(self, context):
        super().__init__()
        self.context = context
        self.latents = None
        self.images = None
        self.slot_a = SlotPicker("Face A", context)
        self.slot_b = SlotPicker("Face B", context)
        self.frames = spin_box(2, 120, 12, prefix="frames ")
        self.mode = QComboBox()
        self.mode.addItems(["slerp", "lerp"])
        self.fps = spin_box(1, 60, 12, suffix=" fps")
        self.loop = QCheckBox("ping-pong")
        self.loop.setChecked(True)
        self.play_button = QPushButton("Play")
        self.timeline = QSlider(Qt.Orientation.Horizontal)
        self.frame_label = QLabel("frame – of –")
        self.face = FaceView(minimum=240)
        self.strip = QListWidget()
        self.strip.setViewMode(QListView.ViewMode.IconMode)
        self.strip.setFlow(QListView.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setIconSize(QSize(STRIP_ICON, STRIP_ICON))
        self.strip.setFixedHeight(STRIP_ICON + 34)
        self.strip.setToolTip("Click a frame to send it to the explorer")
        self.export_strip_button = QPushButton("Export strip PNG…")
        self.export_gif_button = QPushButton("Export GIF…")
        self.export_progress = QProgressBar()
        self.export_progress.setRange(0, 0)  # busy indicator while an export runs
        self.export_progress.hide()
        self.background = Background(self)
        self.timer = QTimer(self)
        self._order: list[int] = []
        self._cursor = 0

        slots_row = QHBoxLayout()
        slots_row.addWidget(self.slot_a, 1)
        slots_row.addWidget(self.slot_b, 1)
        options = QHBoxLayout()
        for w in (self.frames, self.mode, self.play_button, self.fps, self.loop):
            options.addWidget(w)
        options.addStretch(1)
        for w in (self.export_progress, self.export_strip_button, self.export_gif_button):
            options.addWidget(w)
        timeline = QHBoxLayout()
        timeline.addWidget(self.timeline, 1)
        timeline.addWidget(self.frame_label)
        layout = QVBoxLayout(self)
        layout.addLayout(slots_row)
        layout.addLayout(options)
        layout.addWidget(self.face, 1)
        layout.addLayout(timeline)
        layout.addWidget(self.strip)

        for picker in (self.slot_a, self.slot_b):
            picker.changed.connect(self.rebuild)
            picker.error.connect(self.error)
        self.frames.valueChanged.connect(self.rebuild)
        self.mode.currentTextChanged.connect(self.rebuild)
        self.timeline.valueChanged.connect(self.show_frame)
        self.strip.itemClicked.connect(lambda item: self.send_to_explorer.emit(self.latents[self.strip.row(item)]))
        self.play_button.clicked.connect(self.toggle_play)
        self.timer.timeout.connect(self._tick)
        self.fps.valueChanged.connect(lambda v: self.timer.setInterval(int(1000 / v)))
        self.export_strip_button.clicked.connect(self._ask_export_strip)
        self.export_gif_button.clicked.connect(self._ask_export_gif)
        self.background.finished.connect(lambda path: self.context.statusBar().showMessage(f"wrote {path}", 5000))
        self.background.error.connect(self.error)
        self.background.running_changed.connect(self.export_progress.setVisible)

    def reset_for_session(self) -> None:
        """A new model: start from its current face and a random face."""
        self.stop()
        self.slot_a.blockSignals(True)
        self.slot_a.fill_from_source("current")
        self.slot_a.blockSignals(False)
        self.slot_b.fill_from_source("random")

    def rebuild(self) -> None:
        """Recompute every frame's latent and decode them in one batch."""
        if self.slot_a.latent is None or self.slot_b.latent is None:
            return
        self.latents = morph(self.slot_a.latent, self.slot_b.latent, self.frames.value(), self.mode.currentText())
        self.images = self.context.session.renderer.render_batch(self.latents)
        self.strip.clear()
        for k, image in enumerate(self.images):
            item = QListWidgetItem(QIcon(to_pixmap(image, STRIP_ICON)), str(k + 1))
            self.strip.addItem(item)
        self.timeline.blockSignals(True)
        self.timeline.setRange(0, len(self.latents) - 1)
        self.timeline.setValue(min(self.timeline.value(), len(self.latents) - 1))
        self.timeline.blockSignals(False)
        self._order = ping_pong(len(self.latents)) if self.loop.isChecked() else list(range(len(self.latents)))
        self.show_frame(self.timeline.value())

    def show_frame(self, k: int) -> None:
        if self.images is None:
            return
        self.face.set_image(self.images[k])
        self.frame_label.setText(f"frame {k + 1} of {len(self.images)}")
        self.strip.setCurrentRow(k)

    # ------------------------------------------------------------ playback
    def toggle_play(self) -> None:
        if self.timer.isActive():
            self.stop()
        elif self.images is not None:
            self._order = ping_pong(len(self.images)) if self.loop.isChecked() else list(range(len(self.images)))
            self.timer.start(int(1000 / self.fps.value()))
            self.play_button.setText("Pause")

    def stop(self) -> None:
        self.timer.stop()
        self.play_button.setText("Play")

    def _tick(self) -> None:
        self._cursor = (self._cursor + 1) % len(self._order)
        self.timeline.setValue(self._order[self._cursor])

    # ------------------------------------------------------------ export
    def _playback_frames(self):
        order = ping_pong(len(self.images)) if self.loop.isChecked() else list(range(len(self.images)))
        return self.images[order], self.latents[order]

    def export_gif(self, path: str, size: int = 256) -> bool:
        """Write the animated GIF off the GUI thread (progress shown while it runs)."""
        if self.images is None:
            return False
        frames, latents = self._playback_frames()
        return self.background.start(export.save_gif, path, frames, size, int(round(1000 / self.fps.value())), 0,
                                     latents, self.context.session.name)

    def export_strip(self, path: str, size: int = 128) -> bool:
        if self.images is None:
            return False
        return self.background.start(export.save_strip, path, self.images, size, self.latents, self.context.session.name)

    def _ask_export_gif(self) -> None:
        path = ask_save_path(self, "Export GIF", "morph.gif", "GIF animation (*.gif)", ".gif")
        if path:
            self.export_gif(path)

    def _ask_export_strip(self) -> None:
        path = ask_save_path(self, "Export strip", "morph.png", "PNG image (*.png)", ".png")
        if path:
            self.export_strip(path)
