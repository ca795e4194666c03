"""Where attribute directions come from: examples picked by hand, or a labelled folder."""

from __future__ import annotations

import torch
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vae.data.folder import DataError
from vae.explore import slots
from vae.explore.directions import RELIABLE_PER_SIDE, check_labelled, directions_from_folder
from vae.explore.session import EXAMPLE_KINDS, ExplorerSession

from .controls import plain_label
from .dialogs import ask_folder
from .follow import follow
from .qt_images import to_pixmap
from .widgets import JobProgress
from .workers import ModelJob, describe_error

EXAMPLE_THUMB = 36
NO_DIRECTIONS = (
    "This model has no attribute directions (it was trained on an unlabelled folder). "
    "Compute them from a folder of Cartoon Set images with their CSV labels, or "
    "define one from examples below."
)


class ExamplesBox(QGroupBox):
    """Define a direction by example: faces with a trait, faces without it, a name."""

    error = Signal(str)
    created = Signal(str)

    def __init__(self, session: ExplorerSession):
        super().__init__("New direction from examples")
        self.session = session
        self.name = QLineEdit()
        self.name.setPlaceholderText("name of the trait, e.g. “big hair”")
        self.create_button = QPushButton("Create direction")
        self.rows: dict[str, QLabel] = {}
        self.counts: dict[str, QLabel] = {}
        layout = QVBoxLayout(self)
        hint = plain_label(
            "Add faces that have the trait and faces that don't: the explorer's face (move through "
            "its history with Undo), or click faces in the Map after choosing “adds an example”."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #505050;")
        layout.addWidget(hint)
        for kind, title in (("with", "With the trait"), ("without", "Without it")):
            row = QHBoxLayout()
            count = plain_label()
            count.setMinimumWidth(120)
            thumbs = plain_label()
            thumbs.setMinimumHeight(EXAMPLE_THUMB + 2)
            add = QPushButton("+ explorer face")
            clear = QPushButton("Clear")
            add.clicked.connect(lambda checked=False, k=kind: self.add_explorer_face(k))
            clear.clicked.connect(lambda checked=False, k=kind: self._clear(k))
            row.addWidget(count)
            row.addWidget(thumbs, 1)
            row.addWidget(add)
            row.addWidget(clear)
            layout.addLayout(row)
            self.rows[kind], self.counts[kind] = thumbs, count
            count.setProperty("title", title)
        self.reliability = plain_label()
        self.reliability.setWordWrap(True)
        self.last_created = ""  # what the last direction made here was worth, shown until new examples come
        layout.addWidget(self.reliability)
        name_row = QHBoxLayout()
        name_row.addWidget(self.name, 1)
        name_row.addWidget(self.create_button)
        layout.addLayout(name_row)
        self.create_button.clicked.connect(self.create)
        self.name.returnPressed.connect(self.create)
        follow(self, (session.examples_changed, self.refresh))
        self.refresh()

    def add_explorer_face(self, kind: str) -> bool:
        try:
            self.session.add_example(kind, slots.from_current(self.session.state.values))
        except ValueError as exc:
            self.error.emit(str(exc))
            return False
        return True

    def _clear(self, kind: str) -> None:
        for _ in range(len(self.session.examples[kind])):
            self.session.remove_example(kind, 0)

    def refresh(self) -> None:
        for kind in EXAMPLE_KINDS:
            examples = self.session.examples[kind]
            label = self.counts[kind]
            label.setText(f"{label.property('title')}: {len(examples)}")
            if not examples:
                self.rows[kind].clear()
                continue
            latents = torch.stack([slot.latent for slot in examples[-10:]])
            images = self.session.renderer.render_batch(latents)
            strip = torch.cat(list(images), dim=2)
            self.rows[kind].setPixmap(to_pixmap(strip).scaledToHeight(EXAMPLE_THUMB))
        ready = all(self.session.examples[kind] for kind in EXAMPLE_KINDS)
        self.create_button.setEnabled(ready)
        self.create_button.setToolTip(
            "Fit a direction from the faces without the trait towards those with it"
            if ready
            else f"Add a face with the trait and one without first ({RELIABLE_PER_SIDE} or more of each make a "
            "reliable direction)"
        )
        if any(self.session.examples.values()):
            self.last_created = ""
        reliability = self.session.examples_reliability()
        if reliability is not None:
            self._show_reliability("So far", reliability)
        else:
            self.reliability.setText(self.last_created)

    def _show_reliability(self, what: str, reliability) -> None:
        self.reliability.setText(f"{what}: {reliability.describe()}")
        self.reliability.setStyleSheet(f"color: {'#2e7d32' if reliability.reliable else '#b3261e'};")

    def create(self) -> bool:
        reliability = self.session.examples_reliability()
        try:
            self.session.direction_from_examples(self.name.text())
        except ValueError as exc:
            self.error.emit(str(exc))
            return False
        name = self.name.text().strip()
        self.created.emit(name)
        self.name.clear()
        self._show_reliability(f"“{name}”", reliability)
        self.last_created = self.reliability.text()
        self.session.clear_examples()
        return True


class FolderDirections(QWidget):
    """Compute the model's directions from a labelled folder, off the GUI thread (progress, Cancel)."""

    error = Signal(str)

    def __init__(self, session: ExplorerSession, settings=None, beside: QWidget | None = None):
        """``beside``: a widget shown left of the compute button, on its row (the Arithmetic tab's Add direction)."""
        super().__init__()
        self.session = session
        self.settings = settings
        self.no_directions = plain_label()
        self.no_directions.setWordWrap(True)
        self.compute_button = QPushButton("Compute from a labelled folder…")
        self.compute_button.setToolTip(
            "Compute this model's attribute directions from a folder of faces with labels "
            "(Cartoon Set CSV files or a labels.tsv), replacing the ones it has (asked first)"
        )
        self.job = ModelJob(session, "directions", self)
        self.job_progress = JobProgress(self.job)
        buttons = QHBoxLayout()
        if beside is not None:
            buttons.addWidget(beside)
        buttons.addWidget(self.compute_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.no_directions)
        layout.addLayout(buttons)
        layout.addWidget(self.job_progress)
        self.compute_button.clicked.connect(self._ask_compute)
        self.job.finished.connect(self._directions_computed)
        self.job.errored.connect(self._compute_failed)
        self.job.cancelled.connect(lambda: self.session.report("computing directions cancelled; nothing changed"))
        self.job.running_changed.connect(lambda running: self.compute_button.setEnabled(not running))
        follow(
            self, (session.model_changed, self.job.cancel), (session.directions_changed, lambda names: self.refresh())
        )
        self.refresh()

    def refresh(self) -> None:
        """Say so when the model has no directions."""
        self.no_directions.setVisible(not self.session.directions)
        self.no_directions.setText(NO_DIRECTIONS)

    def _ask_compute(self) -> None:
        folder = ask_folder(self, "dataset", "Labelled dataset folder", self.settings)
        if not folder:
            return
        try:
            check_labelled(folder)  # before asking whether to replace anything
        except (DataError, OSError) as exc:
            self.error.emit(describe_error(exc))
            return
        if self.confirm_replacing():
            self.compute_directions_from(folder)

    def confirm_replacing(self) -> bool:
        """Whether to replace the directions the model has (asked only when it has some)."""
        count = len(self.session.directions)
        if not count:
            return True
        answer = QMessageBox.question(
            self,
            "Replace the directions?",
            f"This model has {count} attribute directions. The folder's directions replace them while the model "
            "stays open (its file keeps its own: File → Open checkpoint… brings them back).",
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Ok

    def compute_directions_from(self, folder: str) -> bool:
        """Encode a labelled folder off the GUI thread (progress, Cancel) and give the model its directions."""
        self.no_directions.setText("computing directions…")
        return self.job.start(directions_from_folder, self.session.model, folder)

    def _directions_computed(self, result: dict) -> None:  # for the model still open (see ModelJob)
        directions = result["directions"]
        self.session.set_directions(
            directions, note=f"computed {len(directions)} attribute directions from {result['folder']}"
        )

    def _compute_failed(self, exc: BaseException) -> None:
        self.refresh()
        self.error.emit(describe_error(exc))
