"""Morph panel: a timeline between two faces, a filmstrip, playback and PNG/GIF export."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from vae.explore import export, slots
from vae.explore.morph_model import MAX_FRAMES, MODES, MorphModel
from vae.explore.session import ExplorerSession

from .controls import JumpToClickStyle, plain_label, refresh_snap_box, show_value, snap_box, spin_box
from .dialogs import STILL_FILTER, ask_save_path
from .export_size import enlargement, export_size_box, remember_size, show_native_size, wrote_message
from .follow import follow
from .qt_images import to_pixmap
from .widgets import FacePicker, FaceView, JobProgress, holding, move_face
from .workers import Job, describe_error

STRIP_ICON = 72
STRIP_STYLE = (
    "QListWidget::item { border: 2px solid transparent; padding: 1px; }"
    "QListWidget::item:selected { background: transparent; border: 2px solid #d9822b; color: black; }"
)


class MorphPanel(QWidget):
    """A view of a :class:`~vae.explore.morph_model.MorphModel`: edits go into the model, and each change to its frames
    decodes every frame in one batch."""

    send_to_explorer = Signal(object)  # a latent
    error = Signal(str)

    def __init__(self, session: ExplorerSession, settings=None):
        super().__init__()
        self.session = session
        self.settings = settings
        self.model = MorphModel(session)
        self.latents = None
        self.images = None
        self.slot_a = FacePicker("Face A", session, settings=settings)
        self.slot_b = FacePicker("Face B", session, settings=settings)
        self.frames = spin_box(2, MAX_FRAMES, self.model.frames, prefix="frames ")
        self.frames.setKeyboardTracking(False)  # "60" typed is 60 frames, not 6 on the way
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.mode.setCurrentText(self.model.mode)
        self.fps = spin_box(1, 60, 12, suffix=" fps")
        self.loop = QCheckBox("ping-pong")
        self.loop.setChecked(self.model.ping_pong)
        self.snap = snap_box(
            "snap to faces",
            "Blends of two faces decode ghosted; snapped, each frame between A and B is drawn to the\n"
            "nearest faces of the model's fitted prior, most in the middle (A and B stay as they are)",
        )
        self.play_button = QPushButton("Play")
        self.timeline = QSlider(Qt.Orientation.Horizontal)
        self.timeline_style = JumpToClickStyle()  # kept: a widget does not own its style
        self.timeline.setStyle(self.timeline_style)
        self.frame_label = plain_label("frame – of –")
        self.send_button = QPushButton("Send frame to explorer")
        self.send_button.setToolTip(
            "Show the timeline's frame in the Explore tab, to edit it there (Ctrl+Z there brings back the face before)"
        )
        self.face = FaceView(minimum=240)
        self.strip = QListWidget()
        self.strip.setViewMode(QListView.ViewMode.IconMode)
        self.strip.setFlow(QListView.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # one row: it scrolls sideways
        self.strip.setIconSize(QSize(STRIP_ICON, STRIP_ICON))
        self.strip.setFixedHeight(STRIP_ICON + 38)
        self.strip.setStyleSheet(STRIP_STYLE)
        self.strip.setToolTip("Click a frame to show it; “Send frame to explorer” edits it there")
        self.export_strip_button = QPushButton("Export strip PNG…")
        self.export_gif_button = QPushButton("Export GIF…")
        self.export_size = export_size_box(256, "frames of the exported strip and GIF")
        remember_size(self.export_size, settings, "export/morph")
        self.job = Job("morph export", self)
        self.export_progress = JobProgress(self.job, cancellable=False)
        self.timer = QTimer(self)
        self._order: list[int] = []
        self._cursor = 0

        slots_row = QHBoxLayout()
        slots_row.addWidget(self.slot_a, 1)
        slots_row.addWidget(self.slot_b, 1)
        options = QHBoxLayout()
        for w in (self.frames, self.mode, self.snap, self.play_button, self.fps, self.loop):
            options.addWidget(w)
        options.addStretch(1)
        for w in (self.export_progress, self.export_size, self.export_strip_button, self.export_gif_button):
            options.addWidget(w)
        timeline = QHBoxLayout()
        timeline.addWidget(self.timeline, 1)
        timeline.addWidget(self.frame_label)
        timeline.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.addLayout(slots_row)
        layout.addLayout(options)
        layout.addWidget(self.face, 1)
        layout.addLayout(timeline)
        layout.addWidget(self.strip)

        self.slot_a.changed.connect(lambda: self.model.set_a(self.slot_a.latent))
        self.slot_b.changed.connect(lambda: self.model.set_b(self.slot_b.latent))
        self.history = slots.FaceHistory()  # the faces A and B held before each choice, for Edit → Undo
        self._by_key = {"a": self.slot_a, "b": self.slot_b}  # the history's keys
        for key, picker in self._by_key.items():
            picker.error.connect(self.error)
            picker.replaced.connect(lambda slot, kind, k=key: self.history.record((k, slot, kind)))
        self.frames.valueChanged.connect(self.model.set_frames)
        self.mode.currentTextChanged.connect(self.model.set_mode)
        self.snap.toggled.connect(self.model.set_snap)
        self.loop.toggled.connect(self.model.set_ping_pong)
        self.timeline.valueChanged.connect(self.show_frame)
        self.strip.itemClicked.connect(lambda item: self.timeline.setValue(self.strip.row(item)))
        self.send_button.clicked.connect(self._send_frame)
        self.play_button.clicked.connect(self.toggle_play)
        self.timer.timeout.connect(self._tick)
        self.fps.valueChanged.connect(lambda v: self.timer.setInterval(int(1000 / v)))
        self.export_strip_button.clicked.connect(self.ask_export_strip)
        self.export_gif_button.clicked.connect(self._ask_export_gif)
        self.job.finished.connect(lambda path: self.session.report(wrote_message(path)))
        self.job.errored.connect(lambda exc: self.error.emit(describe_error(exc)))
        follow(
            self,
            (session.model_changed, self.reset_for_session),
            (self.model.path_changed, self.rebuild),
            (self.model.ping_pong_changed, self._mirror_ping_pong),
        )
        self.reset_for_session()

    def reset_for_session(self) -> None:
        """A (new) model: A follows the explorer's face live, B is a random face; faces already picked stay where
        the new model reads latents as the old one did (the pickers keep them)."""
        self.stop()
        if not self.session.same_latent_space:
            self.history.clear()  # its faces mean other faces under this model
        show_native_size(self.export_size, self.session.model.image_size)
        refresh_snap_box(self.snap, self.session.can_snap)  # silently: the model takes it with the new faces
        kept = self.slot_a.latent is not None and self.slot_b.latent is not None
        for picker, source in ((self.slot_a, "current"), (self.slot_b, "random")):
            if picker.latent is None:
                picker.blockSignals(True)
                picker.fill_from_source(source)
                picker.blockSignals(False)
        moved = self.model.update(a=self.slot_a.latent, b=self.slot_b.latent, snap=self.snap.isChecked())
        if kept and not moved:
            self.rebuild()  # the same path, drawn by the new decoder

    def pickers(self) -> list[FacePicker]:
        """Face A's and face B's pickers."""
        return [self.slot_a, self.slot_b]

    def undo_face(self) -> str | None:
        """Give face A or B back the face the last choice replaced; what happened, or None."""
        return move_face(self.history.undo, self._by_key)

    def redo_face(self) -> str | None:
        """Take back the last Undo of face A or B; what happened, or None."""
        return move_face(self.history.redo, self._by_key)

    def take_up(self, saved: dict) -> None:
        """Take up a morph saved when the app last closed (:func:`vae.explore.saved_work.read_work`), drawn once."""
        faces = zip(self.pickers(), saved["faces"] or (), saved["follows"], "AB", saved["captions"])
        for picker, z, follows, name, caption in faces:
            picker.take_up(z, follows, name, caption)
        self.model.set_ping_pong(saved["ping_pong"])
        snap = saved["snap"] and self.session.can_snap
        self.model.update(
            a=self.slot_a.latent, b=self.slot_b.latent, frames=saved["frames"], mode=saved["mode"], snap=snap
        )

    def rebuild(self) -> None:
        """Mirror the model's settings, recompute every frame's latent and decode them in one batch."""
        show_value(self.frames, self.model.frames)
        for widget, show in (
            (self.mode, lambda: self.mode.setCurrentText(self.model.mode)),
            (self.snap, lambda: self.snap.setChecked(self.model.snap)),
        ):
            widget.blockSignals(True)
            show()
            widget.blockSignals(False)
        latents = self.model.latents()
        if latents is None:
            return
        self.latents = latents
        self.images = self.session.renderer.render_batch(self.latents)
        self.strip.clear()
        for k, image in enumerate(self.images):
            pixmap = to_pixmap(image, STRIP_ICON)
            icon = QIcon(pixmap)
            icon.addPixmap(pixmap, QIcon.Mode.Selected)  # no selection tint over the face
            self.strip.addItem(QListWidgetItem(icon, str(k + 1)))
        self.timeline.blockSignals(True)
        before = self.timeline.value() / max(self.timeline.maximum(), 1)  # where along the morph the frame shown is
        self.timeline.setRange(0, len(self.latents) - 1)
        self.timeline.setValue(round(before * (len(self.latents) - 1)))  # the same place, in more or fewer frames
        self.timeline.blockSignals(False)
        self._order = self.model.order(len(self.latents))
        self.show_frame(self.timeline.value())

    def _mirror_ping_pong(self, on: bool) -> None:
        self.loop.blockSignals(True)
        self.loop.setChecked(on)
        self.loop.blockSignals(False)
        if self.images is not None:
            self._order = self.model.order(len(self.images))

    def show_frame(self, k: int) -> None:
        if self.images is None:
            return
        self.face.set_image(self.images[k])
        self.frame_label.setText(f"frame {k + 1} of {len(self.images)}")
        self.strip.setCurrentRow(k)

    def _send_frame(self) -> None:
        if self.latents is not None:
            with holding([self.slot_a, self.slot_b]):
                self.send_to_explorer.emit(self.latents[self.timeline.value()])

    # ------------------------------------------------------------ playback
    def toggle_play(self) -> None:
        if self.timer.isActive():
            self.stop()
        elif self.images is not None:
            self._order = self.model.order(len(self.images))
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
        order = self.model.order(len(self.images))
        return self.images[order], self.latents[order]

    def export_gif(self, path: str, size: int | None = None) -> bool:
        """Write the animated GIF off the GUI thread (progress shown while it runs); frames ``size`` px square
        (default: the size box's)."""
        if self.images is None:
            return False
        size = size or self.export_size.value()
        frames, latents = self._playback_frames()
        name = self.session.name
        duration = int(round(1000 / self.fps.value()))
        return self._start_export(lambda control: export.save_gif(path, frames, size, duration, 0, latents, name))

    def export_strip(self, path: str, size: int | None = None) -> bool:
        """Write the frames side by side as one PNG, each ``size`` px square (default: the size box's)."""
        if self.images is None:
            return False
        size = size or self.export_size.value()
        images, latents, name = self.images, self.latents, self.session.name
        return self._start_export(lambda control: export.save_strip(path, images, size, latents, name))

    def _start_export(self, write) -> bool:
        """Run ``write`` off the GUI thread; while an export runs, say so instead of dropping the request."""
        if self.job.busy:
            self.session.report("an export is still being written; export again when it has finished")
            return False
        return self.job.start(write)

    def _ask_export_gif(self) -> None:
        title = f"Export GIF ({enlargement(self.session.model.image_size, self.export_size.value())})"
        path = ask_save_path(self, title, "morph.gif", "GIF animation (*.gif)", ".gif", "export", self.settings)
        if path:
            self.export_gif(path)

    def ask_export_strip(self) -> None:
        title = f"Export strip ({enlargement(self.session.model.image_size, self.export_size.value())})"
        path = ask_save_path(self, title, "morph.png", STILL_FILTER, ".png", "export", self.settings)
        if path:
            self.export_strip(path)
