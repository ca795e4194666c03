"""Traversals: the explorer's face with each used dimension swept from −3σ to +3σ, one row each.

Clicking a face shows it in the explorer (one undo step). The rows follow the explorer: they are decoded again,
off the GUI thread, whenever its face changes while the window is open.
"""

from __future__ import annotations

import torch
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QDialog, QHBoxLayout, QPushButton, QScrollArea, QToolTip, QVBoxLayout, QWidget

from vae.explore import export, traversal
from vae.explore.axis_names import AxisName, name_axes
from vae.explore.traversal import signed
from vae.model.latent import traversal_grid

from .controls import ElidedLabel, plain_label, spin_box
from .dialogs import STILL_FILTER, ask_save_path
from .export_size import export_size_box, show_native_size, wrote_message
from .follow import follow
from .widgets import JobSlot
from .workers import Job, ModelJob, describe_error

CELL_PX = 96
GAP = 4
LABEL_W, HEADER_H = 118, 22
HOVER = QColor("#2a82da")
MARK = QColor("#d9822b")


def _qimage(image: torch.Tensor, size: int) -> QImage:
    """One face as a ``size``-pixel QImage (Lanczos, as the app's exports): safe to make off the GUI thread."""
    pil = export.to_pil(image).resize((size, size), Image.LANCZOS)
    return QImage(pil.tobytes(), size, size, 3 * size, QImage.Format.Format_RGB888).copy()


class TraversalGrid(QWidget):
    """Rows of faces drawn in one widget (hundreds of buttons would be slow to build); ``picked(row, col)``."""

    picked = Signal(int, int)

    def __init__(self):
        super().__init__()
        self.labels: list[tuple[str, str]] = []  # per row: (``z12``, ``hair colour`` or "")
        self.tips: list[str] = []
        self.values: list[float] = []
        self.faces: list[QImage] = []
        self.marks: list[float] = []  # per row: the value of the face the rows sweep, marked above its row
        self._hover: tuple[int, int] | None = None
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_layout(self, labels: list[tuple[str, str]], tips: list[str], values: list[float]) -> None:
        self.labels, self.tips, self.values, self.faces, self.marks = labels, tips, values, [], []
        self.setFixedSize(self.sizeHint())
        self.update()

    def set_faces(self, faces: list[QImage], marks: list[float]) -> None:
        self.faces, self.marks = faces, marks
        self.update()

    def _mark_x(self, value: float) -> float:
        """Where ``value`` lies along a row: between the centres of the first and last faces."""
        first, last = self.cell_rect(0, 0).center().x(), self.cell_rect(0, len(self.values) - 1).center().x()
        low, high = self.values[0], self.values[-1]
        return first + (min(max(value, low), high) - low) / (high - low) * (last - first)

    def sizeHint(self) -> QSize:
        cols, rows = max(len(self.values), 1), max(len(self.labels), 1)
        return QSize(LABEL_W + cols * (CELL_PX + GAP) + GAP, HEADER_H + rows * (CELL_PX + GAP) + GAP)

    def cell_rect(self, row: int, col: int) -> QRect:
        return QRect(LABEL_W + GAP + col * (CELL_PX + GAP), HEADER_H + GAP + row * (CELL_PX + GAP), CELL_PX, CELL_PX)

    def header_top(self) -> int:
        """Where the values' header is drawn: the top of the grid in sight, so it stays there as the rows scroll."""
        return max(0, -self.y())

    def cell_at(self, x: int, y: int) -> tuple[int, int] | None:
        if y < self.header_top() + HEADER_H:
            return None  # the header, over whichever row scrolled under it
        col, row = (x - LABEL_W - GAP) // (CELL_PX + GAP), (y - HEADER_H - GAP) // (CELL_PX + GAP)
        if 0 <= row < len(self.labels) and 0 <= col < len(self.values) and self.cell_rect(row, col).contains(x, y):
            return row, col
        return None

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.fillRect(event.rect(), QColor("white"))
        small = QFont(self.font())
        small.setPointSizeF(small.pointSizeF() * 0.9)
        for row, (dim, name) in enumerate(self.labels):
            rect = QRect(4, self.cell_rect(row, 0).y(), LABEL_W - 8, CELL_PX)
            if not rect.intersects(event.rect()):
                continue
            top, bottom = rect.adjusted(0, 0, 0, -CELL_PX // 2), rect.adjusted(0, CELL_PX // 2, 0, 0)
            painter.setPen(QColor("#202020"))
            painter.setFont(self.font())
            painter.drawText(
                top if name else rect, Qt.AlignmentFlag.AlignBottom if name else Qt.AlignmentFlag.AlignVCenter, dim
            )
            if name:
                painter.setFont(small)
                painter.setPen(QColor("#2a6ab0"))
                painter.drawText(bottom, Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap, name)
            for col in range(len(self.values)):
                index = row * len(self.values) + col
                cell = self.cell_rect(row, col)
                if index < len(self.faces):
                    painter.drawImage(cell, self.faces[index])
                else:
                    painter.fillRect(cell, QColor("#eeeeee"))
            if row < len(self.marks):
                x, y = self._mark_x(self.marks[row]), self.cell_rect(row, 0).top()  # inside its own row's band
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(MARK)
                painter.drawPolygon(QPolygonF([QPointF(x - 6, y), QPointF(x + 6, y), QPointF(x, y + 8)]))
                painter.setBrush(Qt.BrushStyle.NoBrush)
        if self._hover is not None:
            painter.setPen(QPen(HOVER, 2))
            painter.drawRect(self.cell_rect(*self._hover).adjusted(-1, -1, 1, 1))
        top = self.header_top()
        painter.fillRect(QRect(0, top, self.width(), HEADER_H), QColor("white"))
        painter.setPen(QColor("#606060"))
        painter.setFont(self.font())
        painter.drawText(QRect(4, top, LABEL_W - 8, HEADER_H), Qt.AlignmentFlag.AlignVCenter, "value (σ)")
        for col, value in enumerate(self.values):
            rect = self.cell_rect(0, col)
            painter.drawText(QRect(rect.x(), top, CELL_PX, HEADER_H), Qt.AlignmentFlag.AlignCenter, signed(value))

    def mouseMoveEvent(self, event):
        hover = self.cell_at(int(event.position().x()), int(event.position().y()))
        if hover != self._hover:
            self._hover = hover
            self.update()

    def leaveEvent(self, event):
        self._hover = None
        self.update()

    def mouseReleaseEvent(self, event):
        cell = self.cell_at(int(event.position().x()), int(event.position().y()))
        if event.button() == Qt.MouseButton.LeftButton and cell is not None and len(self.faces) > 0:
            self.picked.emit(*cell)

    def event(self, event):
        if event.type() == QEvent.Type.ToolTip:
            pos = event.pos()
            cell = self.cell_at(pos.x(), pos.y())
            row = (pos.y() - HEADER_H - GAP) // (CELL_PX + GAP)
            if cell is not None:
                text = f"{self.labels[cell[0]][0]} = {self.values[cell[1]]:+.1f}σ: click to show this face in Explore"
            elif pos.x() < LABEL_W and 0 <= row < len(self.tips):
                text = self.tips[row]
            else:
                text = ""
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)


class TraversalDialog(QDialog):
    """A window of traversals of the session's face; ``ready`` when a new set of faces is shown."""

    ready = Signal()
    exported = Signal(str)
    error = Signal(str)

    def __init__(self, session, parent: QWidget | None = None, settings=None):
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.setWindowTitle("Traversals: what each dimension does")
        self.dims: list[int] = []
        self.values = torch.zeros(0)
        self.latents: torch.Tensor | None = None  # (rows·steps, D) of the faces shown
        self.images: torch.Tensor | None = None
        self._pending = False
        self._stale = True

        self.steps = spin_box(traversal.MIN_STEPS, traversal.MAX_STEPS, traversal.DEFAULT_STEPS, suffix=" steps")
        self.steps.setToolTip("Faces per row, from −3σ to +3σ")
        self.export_button = QPushButton("Export PNG…")
        self.export_button.setToolTip("The rows as one labelled PNG, each face at the size beside, with their latents")
        self.face_size = export_size_box(session.model.image_size, "faces in the exported PNG")
        self.face_size.setMaximum(traversal.MAX_FACE_SIZE)
        self.export_button.setEnabled(False)
        self.note = ElidedLabel()  # shortened, never widening the window, where the window is narrow
        self.note.setStyleSheet("color: #505050;")
        self.grid = TraversalGrid()
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.grid)
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.scroll.verticalScrollBar().setSingleStep((CELL_PX + GAP) // 3)  # a wheel notch (3 steps): one row
        self.scroll.verticalScrollBar().valueChanged.connect(self.grid.update)  # its header follows the scroll
        self.job = ModelJob(session, "decode traversals", self, abandonable=True)
        self.note_slot = JobSlot(self.note, self.job, cancellable=False)  # the progress in the note's place
        self.exporter = Job("export traversals", self)

        bar = QHBoxLayout()
        bar.addWidget(self.steps)
        bar.addWidget(self.note_slot, 1)
        bar.addWidget(plain_label("faces at"))
        bar.addWidget(self.face_size)
        bar.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.scroll, 1)

        self.steps.valueChanged.connect(lambda _: self.rebuild())
        self.export_button.clicked.connect(self.ask_export)
        self.grid.picked.connect(self.pick)
        self.job.finished.connect(self._decoded)
        self.job.errored.connect(lambda exc: self.note.set_full_text(f"could not decode: {describe_error(exc)}"))
        self.exporter.finished.connect(self._exported)
        self.exporter.errored.connect(lambda exc: self.error.emit(describe_error(exc)))
        follow(
            self,
            (session.model_changed, self.rebuild),
            (session.values_changed, lambda dims: self.refresh()),
            (session.directions_changed, lambda names: self._label()),
        )
        self.rebuild()
        room = self.screen().availableGeometry().height() - 60  # its title bar and the window's edges in sight
        self.resize(self._width_for_grid(), min(760, room))

    def _width_for_grid(self) -> int:
        """The window's width that shows every column (at most the screen's)."""
        frame = 2 * self.scroll.frameWidth() + self.scroll.verticalScrollBar().sizeHint().width()
        wanted = self.grid.width() + frame + 2 * self.layout().contentsMargins().left()
        return min(wanted, self.screen().availableGeometry().width() - 40)

    # ------------------------------------------------------------ layout
    def rebuild(self) -> None:
        """Rows for the session's model (its active dimensions, most used first) and the chosen steps."""
        model = self.session.model
        if self.face_size.property("native") != model.image_size:  # a model of another size: its own size first
            self.face_size.setProperty("native", model.image_size)
            self.face_size.setValue(model.image_size)
            show_native_size(self.face_size, model.image_size)
        self.dims = traversal.traversal_dims(self.session.latent_kl, model.latent_dim)
        self.values = traversal.traversal_values(self.steps.value())
        self.latents = self.images = None
        self.export_button.setEnabled(False)
        self._label()
        wanted = self._width_for_grid()
        if self.width() < wanted:  # more steps: widen to show them, on the screen
            edges = self.frameGeometry().width() - self.width()
            right = self.screen().availableGeometry().right()
            self.setGeometry(min(self.x(), right + 1 - wanted - edges), self.y(), wanted, self.height())
        if self.job.busy:
            self.job.abandon()  # its faces are for another model or another number of steps
        self.refresh()

    @property
    def axis_names(self) -> dict[int, AxisName]:
        return name_axes(self.session.directions, self.session.model.latent_dim)

    def _label(self) -> None:
        names, kl = self.axis_names, self.session.latent_kl
        labels = [(f"z{d}", names[d].short if d in names else "") for d in self.dims]
        tips = []
        for d in self.dims:
            usage = f"KL {float(kl[d]):.2f} nats" if kl is not None else "usage unknown"
            tips.append(f"z{d} · {names[d].short}: {names[d].detail} · {usage}" if d in names else f"z{d} · {usage}")
        faces, marks = self.grid.faces, self.grid.marks
        self.grid.set_layout(labels, tips, self.values.tolist())
        if self.images is not None:
            self.grid.set_faces(faces, marks)
        self.note.set_full_text(
            f"{len(self.dims)} dimensions, most used first · ▼ the explorer's value · click a face to show it"
        )

    # ------------------------------------------------------------ decoding
    def showEvent(self, event):
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def refresh(self) -> None:
        """Decode the rows of the explorer's face now, or once the window is shown or the running decode ends."""
        if not self.isVisible():
            self._stale = True
            return
        if self.job.busy:
            self._pending = True
            return
        self._stale = self._pending = False
        model = self.session.model
        z = self.session.state.values
        latents = traversal_grid(z, self.dims, self.values)
        marks = [float(z[d]) for d in self.dims]

        def work(control):
            images = traversal.decode(model, latents, control=control)
            return latents, images, [_qimage(image, CELL_PX) for image in images], marks

        self.job.start(work)

    def _decoded(self, result) -> None:
        if self._pending:  # the face changed while these were decoded: they are stale
            self.refresh()
            return
        latents, images, faces, marks = result
        if len(latents) != len(self.dims) * len(self.values):
            self.refresh()
            return
        self.latents, self.images = latents, images
        self.grid.set_faces(faces, marks)
        self.export_button.setEnabled(True)
        self.ready.emit()

    # ------------------------------------------------------------ actions
    def latent_at(self, row: int, col: int) -> torch.Tensor:
        """The latent of the face shown at ``row`` (a dimension of :attr:`dims`) and ``col`` (a step)."""
        if self.latents is None:
            raise ValueError("the traversals are still being decoded")
        return self.latents[row * len(self.values) + col].clone()

    def pick(self, row: int, col: int) -> None:
        """Show the face at (row, col) in the explorer: one undo step."""
        if self.latents is not None:
            self.session.state.set_values(self.latent_at(row, col))
            self.session.report(f"z{self.dims[row]} = {float(self.values[col]):+.1f}σ from the traversals")

    def export_path(self, path: str) -> bool:
        """Start writing the rows as one labelled PNG (with every face's latent beside it) off the GUI thread;
        ``exported(path)`` when written. False when there is nothing to write yet or an export is running."""
        if self.images is None or self.exporter.busy:
            self.error.emit("the traversals are still being decoded or exported: export them once they are shown")
            return False
        images, latents, dims, values = self.images, self.latents, list(self.dims), self.values.clone()
        labels, name = traversal.row_labels(dims, self.axis_names), self.session.name
        face_size = self.face_size.value()

        def work(control):
            image = traversal.traversal_image(images, len(values), labels, values, face_size=face_size)
            written = export.save_traversal(path, image, latents, name, dims, values.tolist())
            return written, image.size

        started = self.exporter.start(work)
        if started:
            self.session.report(f"writing the traversals to {path}…")
        return started

    def _exported(self, result) -> None:
        written, (width, height) = result
        self.session.report(wrote_message(written, f"{width}×{height} px"))
        self.exported.emit(str(written))

    def ask_export(self) -> None:
        path = ask_save_path(self, "Export traversals", "traversals.png", STILL_FILTER, ".png", "export", self.settings)
        if path:
            self.export_path(path)
