"""Widgets of the panels: the face view, the face picker, the progress row of a long job, the training log."""

from __future__ import annotations

import math
from contextlib import ExitStack, contextmanager

import pyqtgraph as pg
import torch
from PySide6.QtCore import QPoint, QRect, QSignalBlocker, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from vae.data.folder import ImageLoadError
from vae.explore import slots
from vae.explore.session import ExplorerSession

from .controls import plain_label, plain_tooltip
from .dialogs import IMAGE_FILTER, LATENT_FILTER, ask_open_path, refuse
from .follow import follow
from .qt_images import to_pixmap
from .workers import Job, ModelJob, describe_error, format_eta


class LogView(QPlainTextEdit):
    """A read-only log that keeps showing its newest line, also after a resize, until the user scrolls up."""

    def __init__(self, max_lines: int = 2000):
        super().__init__()
        self.setReadOnly(True)
        self.setMaximumBlockCount(max_lines)
        self.follows = True
        bar = self.verticalScrollBar()
        bar.actionTriggered.connect(lambda _action: self._user_scrolled())
        bar.sliderReleased.connect(self._user_scrolled)

    def _user_scrolled(self) -> None:
        bar = self.verticalScrollBar()
        self.follows = bar.sliderPosition() >= bar.maximum()

    def append_line(self, message: str) -> None:
        self.appendPlainText(message)
        self._keep_following()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._keep_following()

    def _keep_following(self) -> None:
        if self.follows:
            bar = self.verticalScrollBar()
            bar.setValue(bar.maximum())


CRISP_AFTER_MS = 150


class FaceView(QWidget):
    """Shows one face, enlarged to fill the widget's square: at once with Lanczos (fast enough for a slider
    drag), then, once the face has stayed the same for :data:`CRISP_AFTER_MS`, with crisp outlines as exports
    are (vae.explore.upscale).

    It paints its picture itself rather than through a QLabel's pixmap: a new face then repaints this widget
    alone, where setting a label's pixmap asks the window to lay itself out again and repaints every slider.
    """

    def __init__(self, minimum: int = 256):
        super().__init__()
        self.setMinimumSize(minimum, minimum)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # it fills every pixel itself
        self._image: torch.Tensor | None = None
        self._pixmap = QPixmap()
        self.crisp = False  # whether the face shown is the crisp enlargement
        self._settle = QTimer(self, singleShot=True, interval=CRISP_AFTER_MS)
        self._settle.timeout.connect(lambda: self._repaint(crisp=True))

    @property
    def image(self) -> torch.Tensor | None:
        """The face shown (3, S, S), or None."""
        return self._image

    def pixmap(self) -> QPixmap:
        """The enlarged face being shown (a null pixmap when there is none)."""
        return self._pixmap

    def set_image(self, image: torch.Tensor | None) -> None:
        self._image = image
        if image is None:
            self._pixmap = QPixmap()
            self.update()
        self._repaint()

    def _repaint(self, crisp: bool = False) -> None:
        if self._image is not None:
            side = max(16, min(self.width(), self.height()) - 4)
            self._pixmap = to_pixmap(self._image, side, "crisp" if crisp else "lanczos")
            self.crisp = crisp
            if not crisp:
                self._settle.start()
            self.update()

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        painter.setPen(QColor("#c8c8c8"))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        if not self._pixmap.isNull():
            picture = QRect(QPoint(0, 0), self._pixmap.deviceIndependentSize().toSize())
            picture.moveCenter(self.rect().center())
            painter.drawPixmap(picture.topLeft(), self._pixmap)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._repaint()

    def sizeHint(self) -> QSize:
        return QSize(448, 448)


class JobProgress(QWidget):
    """A long job's progress: a bar with "done / total what · ETA", and Cancel. Hidden while the job is idle,
    unless ``hide_when_idle`` is False (a :class:`JobSlot` then shows it in another widget's place)."""

    def __init__(self, job: Job, cancellable: bool = True, hide_when_idle: bool = True):
        super().__init__()
        self.job = job
        self.hide_when_idle = hide_when_idle
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setRange(0, 0)
        self.label = plain_label("starting…")
        self.label.setStyleSheet("color: #505050;")
        ignored, preferred = QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
        self.label.setSizePolicy(ignored, preferred)  # half the row, whatever its text: the bar never jumps
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("0" * 24))  # room for a count
        self.cancel_button = QPushButton("Cancel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.cancel_button)
        self.cancel_button.setVisible(cancellable)
        self.cancel_button.clicked.connect(self._cancel)
        job.progress.connect(self.show_progress)
        job.running_changed.connect(self._running)
        if hide_when_idle:
            self.hide()

    def _running(self, running: bool) -> None:
        if running:
            self.bar.setRange(0, 0)
            self.label.setText("starting…")
            self.cancel_button.setEnabled(True)
        if self.hide_when_idle:
            self.setVisible(running)

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.label.setText("cancelling…")
        self.job.cancel()

    def show_progress(self, done: int, total: int, what: str, eta: float) -> None:
        if self.job.stopping:
            return
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(done)
        text = f"{what}: {done:,} / {total:,}" if total > 0 else what
        eta_known = 0 < done < total and math.isfinite(eta)  # a short job ends before its ETA is known
        self.label.setText(f"{text} · ETA {format_eta(eta)}" if eta_known else text)


class JobSlot(QStackedWidget):
    """One place in a layout that shows ``idle`` and, while the job runs, its progress instead: the layout
    around it keeps its size, so nothing jumps when the job starts or ends."""

    def __init__(self, idle: QWidget, job: Job, cancellable: bool = True):
        super().__init__()
        self.idle = idle
        self.progress = JobProgress(job, cancellable, hide_when_idle=False)
        self.addWidget(idle)
        self.addWidget(self.progress)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        job.running_changed.connect(lambda running: self.setCurrentWidget(self.progress if running else idle))


SOURCES = {  # source → its button's text and tooltip, in the buttons' order
    "random": ("Random", "A random face; click again for another"),
    "current": ("Explorer", "The explorer's face, followed live while this button is down"),
    "image": ("Image…", "Encode a face image file"),
    "latent": ("Latent…", "A latent saved as JSON"),
    "dataset": ("Map", "A random face of those the Map tab shows (or click one there)"),
}


NO_MAP_FACES = (
    "No faces in the Map tab yet: open the Map tab (it maps faces as it opens) or map a folder there, then pick "
    "Map here or click a face there"
)
KEPT = "kept"  # a slot that followed the explorer until the panel sent its result there
KEPT_CAPTION = "the explorer's face before Send"
SAVED = "saved"  # a face taken up from the last session, not picked from a source


def move_face(move, pickers: dict) -> str | None:
    """Undo or redo (``move``: a :class:`~vae.explore.slots.FaceHistory`'s ``undo`` or ``redo``) one face of
    ``pickers`` (the steps' keys → pickers); what happened, in words, or None when there was nothing to move."""
    step = move(lambda step: (step[0], pickers[step[0]].slot, pickers[step[0]].kind))
    if step is None:
        return None
    key, slot, kind = step
    return pickers[key].restore(slot, kind)


def holding(pickers):
    """A context in which every picker in ``pickers`` keeps its face (see :meth:`FacePicker.held`)."""
    stack = ExitStack()
    for picker in pickers:
        stack.enter_context(picker.held())
    return stack


class FacePicker(QWidget):
    """A face slot: shows the face it holds and where it came from, and a button per source that fills it at once.

    The button of the source the slot holds stays down; with "Explorer" the slot follows the explorer live.
    Buttons never move, unlike a dropdown's rows, so a click picks the source under the pointer.
    The "Map" source, a random face of those the Map tab encoded, is greyed out until it has some.
    """

    changed = Signal()
    error = Signal(str)
    replaced = Signal(object, object)  # the face a choice of the user's replaced, and where it came from

    def __init__(self, title: str, session: ExplorerSession, thumb: int = 72, settings=None):
        super().__init__()
        self.session = session
        self.settings = settings
        self.slot: slots.FaceSlot | None = None
        self.kind: str | None = None
        self._held = False
        self._stale = False
        self.thumb_size = thumb
        self.title = plain_label(title)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.thumb = plain_label()
        self.thumb.setFixedSize(thumb, thumb)
        self.thumb.setStyleSheet("background: white; border: 1px solid #c8c8c8;")
        self.caption = plain_label("–")
        self.caption.setStyleSheet("color: #606060;")
        self.buttons: dict[str, QToolButton] = {}
        row = QHBoxLayout()
        row.setSpacing(2)
        for key, (label, tip) in SOURCES.items():
            button = self.buttons[key] = QToolButton()
            button.setText(label)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.clicked.connect(lambda checked=False, k=key: self.fill_from_source(k))
            row.addWidget(button)
        row.addStretch(1)
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.caption)
        text.addLayout(row)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.thumb)
        layout.addLayout(text, 1)
        self.encoder = ModelJob(session, "encode image", self, abandonable=True, latent_only=True)
        self.encoder.finished.connect(self._encoded)
        self.encoder.errored.connect(self._encode_failed)
        self.encoder.cancelled.connect(self._encode_dropped)
        follow(
            self,
            (session.values_changed, self._explorer_changed),
            (session.model_changed, self._model_changed),
            (session.map_faces_changed, self._map_faces_changed),
        )
        self._map_faces_changed()

    def set_slot(self, slot: slots.FaceSlot, kind: str = "dataset") -> None:
        """Hold ``slot`` (from source ``kind``): the thumbnail, caption and source buttons all show it."""
        self.slot, self.kind, self._stale = slot, kind, False
        self._show_kind()
        self.caption.setText(slot.label)
        self.caption.setToolTip(plain_tooltip(slot.label))
        self._draw_thumb()
        self.changed.emit()

    def pick(self, slot: slots.FaceSlot, kind: str) -> None:
        """The user's choice of face: the face it replaces is announced (``replaced``), so that Undo can give it
        back."""
        old, old_kind = self.slot, self.kind
        self.set_slot(slot, kind)
        if old is not None and not torch.equal(old.latent, slot.latent):
            self.replaced.emit(old, old_kind)

    def restore(self, slot: slots.FaceSlot, kind: str | None) -> str:
        """Hold a face it held before (Undo): one that followed the explorer follows it again. What happened, in
        words ("Face B: back to 0042.png")."""
        if kind == "current":
            slot = slots.from_current(self.session.state.values)
        self.set_slot(slot, kind)
        return f"{self.title.text()}: back to {self.caption.text()}"

    def take_up(self, latent, follows: bool, name: str, caption: str = "") -> None:
        """Take up face ``name`` of the last session, quietly: the explorer's face again where it followed the
        explorer, else the saved latent, pinned, with its ``caption`` where it was kept."""
        with QSignalBlocker(self):
            if follows:
                self.fill_from_source("current")
            else:
                self.set_slot(slots.FaceSlot(latent, caption or f"face {name} of your last session"), SAVED)

    def _draw_thumb(self) -> None:
        self.thumb.setPixmap(to_pixmap(self.session.render(self.slot.latent), self.thumb_size - 2))

    @contextmanager
    def held(self):
        """Keep the face while the panel itself changes the explorer (sending its result there).

        A slot that followed the explorer and now differs from it stops following: it keeps the face it
        had, and says so, instead of claiming to be the explorer's face.
        """
        self._held = True
        try:
            yield
        finally:
            self._held = False
            if self.kind == "current" and not torch.equal(self.slot.latent, self.session.state.values.reshape(-1)):
                self.slot, self.kind = slots.FaceSlot(self.slot.latent, KEPT_CAPTION), KEPT  # its label says so too
                self.caption.setText(self.slot.label)
                self.caption.setToolTip(self.slot.label)
                self._show_kind()

    def _explorer_changed(self, dims) -> None:
        if self.kind == "current" and not self._held:
            if self.isVisible():
                self.set_slot(slots.from_current(self.session.state.values), "current")
            else:
                self._stale = True  # caught up when shown: a hidden panel does not decode on every slider move

    def showEvent(self, event):
        super().showEvent(event)
        if self._stale and self.kind == "current":
            self.set_slot(slots.from_current(self.session.state.values), "current")
        self._stale = False

    @property
    def latent(self):
        if self._stale and self.kind == "current":
            self.set_slot(slots.from_current(self.session.state.values), "current")
            self._stale = False
        return None if self.slot is None else self.slot.latent

    def _model_changed(self) -> None:
        """Another model: a face kept where the latent means the same face there (drawn by the new decoder), else
        none."""
        if self.slot is None or not self.session.same_latent_space:
            self.clear()
        elif self.kind == "current":
            self._stale = False
            self.set_slot(slots.from_current(self.session.state.values), "current")
        else:
            self._draw_thumb()

    def _map_faces_changed(self) -> None:
        mapped = self.session.map_faces is not None
        self.buttons["dataset"].setEnabled(mapped)
        self.buttons["dataset"].setToolTip(SOURCES["dataset"][1] if mapped else NO_MAP_FACES)

    def fill_from_source(self, source: str, path: str | None = None) -> bool:
        """Fill the slot from ``source`` (a key of :data:`SOURCES`); file sources ask for a path."""
        session = self.session
        self._show_kind()  # a click toggled its button: it goes down once the slot holds that source's face
        try:
            if source == "current":
                slot = slots.from_current(session.state.values)
            elif source == "random":
                slot = slots.from_random(session.state)
            elif source == "image":
                path = path or ask_open_path(self, "image", "Face image", IMAGE_FILTER, self.settings)
                if not path:
                    return False
                return self._encode_in_background(path)
            elif source == "latent":
                path = path or ask_open_path(self, "latent", "Latent JSON", LATENT_FILTER, self.settings)
                if not path:
                    return False
                slot = slots.from_latent_file(path, session.model.latent_dim)
            else:
                faces = session.map_faces
                if faces is None:
                    self.error.emit(NO_MAP_FACES)
                    return False
                slot = faces.random_slot()
        except (ImageLoadError, ValueError, OSError) as exc:
            refuse(self, f"{self.title.text()} from {source}", exc)
            return False
        self.pick(slot, source)
        return True

    def _encode_in_background(self, path: str) -> bool:
        """Encode an image off the GUI thread; the slot changes when it is done."""
        session = self.session
        self.caption.setText(f"encoding {path}…")
        return self.encoder.start(lambda control: slots.from_image(session, path, control))

    def _encoded(self, slot: slots.FaceSlot) -> None:  # for the model open, or one of its latent space (see ModelJob)
        self.pick(slot, "image")

    def _encode_failed(self, exc: BaseException) -> None:
        self._encode_dropped()
        self.error.emit(describe_error(exc))

    def _encode_dropped(self) -> None:
        """An encoding that failed, or was dropped because a model of another latent space was opened meanwhile: the
        slot keeps what it holds (what the model change left it) and says so again."""
        self._show_kind()
        self.caption.setText(self.slot.label if self.slot else "–")  # a kept face's label says it was kept

    def _show_kind(self) -> None:
        """Put down the button of the source the slot holds, and only that one (none for a kept face)."""
        for key, button in self.buttons.items():
            button.setChecked(key == self.kind)

    def clear(self) -> None:
        self.slot = self.kind = None
        self.thumb.clear()
        self.caption.setText("–")
        self._show_kind()


LEGEND_TEXT = (40, 40, 40)  # pyqtgraph's default label grey is faint on a white plot


def legend_above(plot_item: pg.PlotItem, columns: int = 2, rows: int = 2) -> pg.LegendItem:
    """A legend of up to ``columns × rows`` entries in the plot's title row, above the data, so it never
    hides a curve or a point. Curves added afterwards with ``name=`` appear in it."""
    legend = pg.LegendItem(colCount=columns, verSpacing=-6, labelTextColor=LEGEND_TEXT)
    plot_item.titleLabel.setVisible(False)
    plot_item.layout.removeItem(plot_item.titleLabel)
    plot_item.layout.addItem(legend, 0, 1, alignment=Qt.AlignmentFlag.AlignRight)
    plot_item.layout.setRowFixedHeight(0, 20 * rows)
    plot_item.legend = legend
    return legend


def legend_beside(plot_item: pg.PlotItem) -> pg.LegendItem:
    """A one-column legend right of the plotted area, so it never hides a point. Filled by ``addItem``."""
    legend = pg.LegendItem(colCount=1, verSpacing=-6, labelTextColor=LEGEND_TEXT)
    legend.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)  # its own height, not the plot's
    plot_item.layout.addItem(legend, 2, 3, alignment=Qt.AlignmentFlag.AlignTop)
    return legend
