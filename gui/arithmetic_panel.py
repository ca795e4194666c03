"""Arithmetic panel: weighted face terms plus attribute directions, with a live result; directions by example."""

from __future__ import annotations

import torch
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QScrollArea,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from vae import slots
from vae.cache import open_folder
from vae.directions import ONE_VS_REST, compute_directions
from vae.latent import compose, weighted_sum
from vae.metrics import encode_all
from vae.session import EXAMPLE_KINDS, ExplorerSession

from .attributes import describe_direction
from .attributes import title as attribute_title
from .controls import (
    double_spin_box,
    plain_label,
    plain_tooltip,
    refresh_snap_box,
    snap_box,
    wheel_only_when_focused,
)
from .dialogs import ask_folder, ask_save_path
from .explore_panel import export_face
from .qt_images import to_pixmap
from .widgets import FacePicker, FaceView, JobProgress, holding
from .workers import ModelJob, describe_error

STRENGTH_STEPS = 100  # slider steps per unit of strength
EXAMPLE_THUMB = 36
ENCODE_BATCH = 256


class TermRow(QWidget):
    """One term of the sum: a face picker with a weight (negative to subtract)."""

    changed = Signal()
    remove = Signal(object)

    def __init__(self, title: str, session: ExplorerSession, faces_source, settings, weight: float = 1.0):
        super().__init__()
        self.picker = FacePicker(title, session, thumb=64, faces_source=faces_source, settings=settings)
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

    def _update(self) -> None:
        self.value_label.setText(f"{self.strength:+.2f}")
        self.changed.emit()


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
        self._unsubscribe = [session.examples_changed.connect(self.refresh)]
        self.destroyed.connect(lambda: [unsubscribe() for unsubscribe in self._unsubscribe])
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


def directions_from_folder(control, model, folder: str) -> dict:
    """Encode a labelled folder (cancellable, with progress) and compute its attribute directions."""
    cache = open_folder(
        folder, model.image_size, log=lambda m: None, should_stop=control.should_stop, progress_cb=control.progress
    )
    if not cache.has_labels:
        raise ValueError(f"{folder} has no Cartoon Set CSV labels to compute directions from")
    indices = list(range(len(cache)))
    mus = []
    for start in range(0, len(indices), ENCODE_BATCH):
        control.check()
        mus.append(encode_all(model, cache, indices[start : start + ENCODE_BATCH])[0])
        control.progress(min(start + ENCODE_BATCH, len(indices)), len(indices), "encoding faces")
    return {"folder": folder, "directions": compute_directions(torch.cat(mus), cache.label_tensor())}


class ArithmeticPanel(QWidget):
    """Builds z = Σ wᵢ·faceᵢ + Σ sⱼ·directionⱼ and shows the decoded result live."""

    send_to_explorer = Signal(object)
    error = Signal(str)

    def __init__(self, session: ExplorerSession, faces_source=None, settings=None):
        super().__init__()
        self.session = session
        self.faces_source = faces_source
        self.settings = settings
        self.terms: list[TermRow] = []
        self.direction_rows: list[DirectionRow] = []
        self.result = None

        self.terms_box = QVBoxLayout()
        self.add_term_button = QPushButton("Add face")
        self.preset_button = QPushButton("Preset: A + (B − C)")
        terms_group = QGroupBox("Faces")
        terms_layout = QVBoxLayout(terms_group)
        terms_layout.addLayout(self.terms_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_term_button)
        buttons.addWidget(self.preset_button)
        buttons.addStretch(1)
        terms_layout.addLayout(buttons)

        self.direction_menu = QMenu(self)
        self.direction_menu.aboutToShow.connect(self._fill_direction_menu)
        self.add_direction_button = QToolButton()
        self.add_direction_button.setText("Add direction")
        self.add_direction_button.setToolTip("Apply an attribute direction to the result")
        self.add_direction_button.setMenu(self.direction_menu)
        self.add_direction_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.directions_box = QVBoxLayout()
        self.keep_fixed = QListWidget()
        self.keep_fixed.setFlow(QListView.Flow.LeftToRight)
        self.keep_fixed.setWrapping(True)
        self.keep_fixed.setResizeMode(QListView.ResizeMode.Adjust)
        self.keep_fixed.setGridSize(QSize(190, 24))
        self.keep_fixed.setMinimumHeight(150)
        self.keep_fixed.setToolTip("Checked attributes stay as they are while the directions are applied")
        self.no_directions = plain_label()
        self.no_directions.setWordWrap(True)
        self.compute_button = QPushButton("Compute directions from a labelled folder…")
        self.job = ModelJob(session, "directions", self)
        self.job_progress = JobProgress(self.job)
        self.examples = ExamplesBox(session)
        directions_group = QGroupBox("Attribute directions")
        d_layout = QVBoxLayout(directions_group)
        d_layout.addWidget(self.no_directions)
        d_layout.addWidget(self.compute_button)
        d_layout.addWidget(self.job_progress)
        row = QHBoxLayout()
        row.addWidget(self.add_direction_button)
        row.addStretch(1)
        d_layout.addLayout(row)
        d_layout.addLayout(self.directions_box)
        d_layout.addWidget(plain_label("Keep fixed while applying directions:"))
        d_layout.addWidget(self.keep_fixed, 1)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(terms_group)
        left_layout.addWidget(directions_group, 1)
        left_layout.addWidget(self.examples)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(left)
        scroll.setMinimumWidth(560)

        self.face = FaceView(minimum=256)
        self.formula = plain_label()
        self.formula.setWordWrap(True)
        self.snap = snap_box(
            "Snap the result to the nearest faces",
            "Arithmetic often lands between the faces the model knows, which decode broken and noisy;\n"
            "snapped, the result is drawn to the nearest faces of the model's fitted prior",
        )
        self.send_button = QPushButton("Send to explorer")
        self.export_button = QPushButton("Export PNG…")
        right = QVBoxLayout()
        right.addWidget(self.face, 1)
        right.addWidget(self.formula)
        right.addWidget(self.snap)
        actions = QHBoxLayout()
        actions.addWidget(self.send_button)
        actions.addWidget(self.export_button)
        right.addLayout(actions)

        layout = QHBoxLayout(self)
        layout.addWidget(scroll, 3)
        layout.addLayout(right, 2)

        self.add_term_button.clicked.connect(lambda: self.add_term())
        self.preset_button.clicked.connect(self.preset_analogy)
        self.keep_fixed.itemChanged.connect(lambda _: self.update_result())
        self.snap.toggled.connect(lambda _: self.update_result())
        self.send_button.clicked.connect(self.send_result)
        self.export_button.clicked.connect(self._ask_export)
        self.compute_button.clicked.connect(self._ask_compute)
        self.job.finished.connect(self._directions_computed)
        self.job.errored.connect(self._compute_failed)
        self.job.cancelled.connect(lambda: self.session.report("computing directions cancelled; nothing changed"))
        self.job.running_changed.connect(lambda running: self.compute_button.setEnabled(not running))
        self.examples.error.connect(self.error)
        self.examples.created.connect(lambda name: self.add_direction(name, 1.0))
        self._unsubscribe = [
            session.model_changed.connect(self.reset_for_session),
            session.directions_changed.connect(self._directions_changed),
        ]
        self.destroyed.connect(lambda: [unsubscribe() for unsubscribe in self._unsubscribe])
        self.reset_for_session()

    # ------------------------------------------------------------ model
    def reset_for_session(self) -> None:
        self.job.cancel()
        for row in list(self.terms):
            self._remove_term(row, update=False)
        for row in list(self.direction_rows):
            self._remove_direction(row, update=False)
        refresh_snap_box(self.snap, self.session.can_snap)  # silently: the old model's rows are gone
        self._refresh_direction_lists()
        self.preset_analogy()

    def _directions_changed(self, names) -> None:
        for row in [r for r in self.direction_rows if r.name not in names]:
            self._remove_direction(row, update=False)
        self._refresh_direction_lists()
        self.update_result()

    def _refresh_direction_lists(self) -> None:
        names = list(self.session.directions)
        kept = {item.data(Qt.ItemDataRole.UserRole) for item in self._checked_items()}
        self.keep_fixed.blockSignals(True)
        self.keep_fixed.clear()
        for name in names:
            item = QListWidgetItem(describe_direction(name))
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in kept else Qt.CheckState.Unchecked)
            self.keep_fixed.addItem(item)
        self.keep_fixed.blockSignals(False)
        if not self.direction_menu.isVisible():  # an open menu keeps its entries until it closes
            self._fill_direction_menu()
        self._grey_out_applied_directions()
        has = bool(names)
        self.no_directions.setVisible(not has)
        self.no_directions.setText(
            "This model has no attribute directions (it was trained on an unlabelled folder). "
            "Compute them from a folder of Cartoon Set images with their CSV labels, or "
            "define one from examples below."
        )
        for widget in (self.add_direction_button, self.keep_fixed):
            widget.setEnabled(has)

    # ------------------------------------------------------------ terms
    def add_term(self, weight: float = 1.0, source: str = "random") -> TermRow:
        row = TermRow(f"Face {chr(ord('A') + len(self.terms))}", self.session, self.faces_source, self.settings, weight)
        row.changed.connect(self.update_result)
        row.remove.connect(self._remove_term)
        row.picker.error.connect(self.error)
        self.terms.append(row)
        self.terms_box.addWidget(row)
        row.picker.blockSignals(True)
        row.picker.fill_from_source(source)
        row.picker.blockSignals(False)
        self.update_result()
        return row

    def _remove_term(self, row: TermRow, update: bool = True) -> None:
        self._remove_row(self.terms, row, update)

    def _remove_row(self, rows: list, row: QWidget, update: bool) -> None:
        rows.remove(row)
        row.setParent(None)
        row.deleteLater()
        if update:
            self.update_result()

    def preset_analogy(self) -> None:
        """A + 1·(B − C): A follows the explorer's face, B and C are random faces."""
        for row in list(self.terms):
            self._remove_term(row, update=False)
        self.add_term(1.0, "current")
        self.add_term(1.0, "random")
        self.add_term(-1.0, "random")

    # ------------------------------------------------------------ directions
    def _fill_direction_menu(self) -> None:
        """The menu is filled as it opens and not touched while open: a direction that arrives meanwhile (a
        computation ending) is there the next time, and no entry moves under the pointer. Directions of one
        attribute's values (hair colour: black, …) share a submenu."""
        self.direction_menu.clear()
        submenus: dict[str, QMenu] = {}
        for name in self.session.directions:
            attribute = name.partition(":")[0]
            menu, text = self.direction_menu, describe_direction(name)
            if ":" in name and attribute in ONE_VS_REST:
                if attribute not in submenus:
                    submenus[attribute] = self.direction_menu.addMenu(attribute_title(attribute))
                menu, text = submenus[attribute], text.split(": ", 1)[-1]  # "black" under "hair colour"
            action = menu.addAction(text)
            action.setData(name)
            action.triggered.connect(lambda checked=False, n=name: self.add_direction(n))

    def direction_menu_names(self) -> list[str]:
        """The directions the menu offers, in its order (submenus' entries in place of the submenu)."""
        names = []
        for action in self.direction_menu.actions():
            entries = action.menu().actions() if action.menu() else [action]
            names += [entry.data() for entry in entries]
        return names

    def add_direction(self, name: str, strength: float = 1.0) -> DirectionRow | None:
        if not name or name not in self.session.directions:
            return None
        row = DirectionRow(name, strength)
        row.changed.connect(self.update_result)
        row.remove.connect(self._remove_direction)
        self.direction_rows.append(row)
        self.directions_box.addWidget(row)
        self._grey_out_applied_directions()
        self.update_result()
        return row

    def _remove_direction(self, row: DirectionRow, update: bool = True) -> None:
        self._remove_row(self.direction_rows, row, update)
        self._grey_out_applied_directions()

    def _grey_out_applied_directions(self) -> None:
        """An applied direction cannot also stay fixed: its Keep fixed entry is disabled while it is applied."""
        applied = {row.name for row in self.direction_rows}
        self.keep_fixed.blockSignals(True)
        for i in range(self.keep_fixed.count()):
            item = self.keep_fixed.item(i)
            name = item.data(Qt.ItemDataRole.UserRole)
            enabled = name not in applied
            flags = item.flags()
            item.setFlags(flags | Qt.ItemFlag.ItemIsEnabled if enabled else flags & ~Qt.ItemFlag.ItemIsEnabled)
            title = describe_direction(name)
            item.setToolTip(
                plain_tooltip(
                    f"Keep “{title}” as it is"
                    if enabled
                    else f"“{title}” is applied above, so it cannot also stay fixed"
                )
            )
        self.keep_fixed.blockSignals(False)

    def set_keep_fixed(self, names: list[str]) -> None:
        for i in range(self.keep_fixed.count()):
            item = self.keep_fixed.item(i)
            item.setCheckState(
                Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in names else Qt.CheckState.Unchecked
            )

    def _checked_items(self) -> list[QListWidgetItem]:
        items = map(self.keep_fixed.item, range(self.keep_fixed.count()))
        return [item for item in items if item.checkState() == Qt.CheckState.Checked]

    def kept_names(self) -> list[str]:
        """The directions to keep fixed: checked, and not applied themselves."""
        return [
            item.data(Qt.ItemDataRole.UserRole)
            for item in self._checked_items()
            if item.flags() & Qt.ItemFlag.ItemIsEnabled
        ]

    def _ask_compute(self) -> None:
        folder = ask_folder(self, "dataset", "Labelled dataset folder", self.settings)
        if folder:
            self.compute_directions_from(folder)

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
        self._refresh_direction_lists()
        self.error.emit(describe_error(exc))

    # ------------------------------------------------------------ result
    def update_result(self) -> None:
        terms = [(row.weight.value(), row.picker.latent) for row in self.terms if row.picker.latent is not None]
        if not terms:
            return
        directions = self.session.directions
        applied = [(row.strength, directions[row.name]) for row in self.direction_rows]
        kept = [directions[name] for name in self.kept_names()]
        snapped = self.snap.isChecked() and self.snap.isEnabled()
        try:
            faces = weighted_sum(terms)
            if snapped:  # the faces' sum only: the directions then apply in full, with Keep fixed honoured
                faces = self.session.snap_to_faces(faces)
            self.result = compose([(1.0, faces)], applied, kept)
        except ValueError as exc:
            self.error.emit(str(exc))
            return
        self.face.set_image(self.session.render(self.result))
        parts = [f"{w:+.1f}·{chr(ord('A') + i)}" for i, (w, _) in enumerate(terms)]
        parts += [f"{row.strength:+.2f}·[{describe_direction(row.name)}]" for row in self.direction_rows]
        self.formula.setText(
            "result = " + " ".join(parts).lstrip("+") + (", snapped to the nearest faces" if snapped else "")
        )

    def send_result(self) -> None:
        """The result to the explorer; faces that follow the explorer keep theirs, so the result stays put."""
        if self.result is not None:
            with holding([row.picker for row in self.terms]):
                self.send_to_explorer.emit(self.result)

    def export_path(self, path: str, size: int = 512) -> bool:
        if self.result is None:
            return False
        return export_face(self, path, self.session.render(self.result), size, self.result)

    def _ask_export(self) -> None:
        path = ask_save_path(self, "Export PNG", "arithmetic.png", "PNG image (*.png)", ".png", "export", self.settings)
        if path:
            self.export_path(path)
