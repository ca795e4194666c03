"""Arithmetic panel: weighted face terms plus attribute directions, with a live result."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
    QScrollArea, QSlider, QVBoxLayout, QWidget,
)

from vae.cache import open_folder
from vae.directions import compute_directions
from vae.latent import compose
from vae.metrics import encode_all

from .controls import double_spin_box
from .dialogs import ask_save_path, export_face
from .explore_panel import FaceView
from .slot_picker import SlotPicker
from .workers import Background

STRENGTH_STEPS = 100  # slider steps per unit of strength


def describe_direction(name: str) -> str:
    """Readable name of a direction key: 'hair_color:3' → 'hair color 3'."""
    attr, _, value = name.partition(":")
    text = attr.replace("_", " ")
    return f"+{text}" if not value else f"{text} {value}"


class TermRow(QWidget):
    """One term of the sum: a face slot with a weight (negative to subtract)."""

    changed = Signal()
    remove = Signal(object)

    def __init__(self, title: str, context, weight: float = 1.0):
        super().__init__()
        self.picker = SlotPicker(title, context, thumb=64)
        self.weight = double_spin_box(-3.0, 3.0, weight, 0.1, prefix="× ")
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
        self.label = QLabel(describe_direction(name))
        self.label.setMinimumWidth(120)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-3 * STRENGTH_STEPS, 3 * STRENGTH_STEPS)
        self.slider.setValue(round(strength * STRENGTH_STEPS))
        self.value_label = QLabel()
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


class ArithmeticPanel(QWidget):
    """Builds z = Σ wᵢ·faceᵢ + Σ sⱼ·directionⱼ and shows the decoded result live."""

    send_to_explorer = Signal(object)
    error = Signal(str)

    def __init__(self, context):
        super().__init__()
        self.context = context
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

        self.direction_choice = QComboBox()
        self.add_direction_button = QPushButton("Add direction")
        self.directions_box = QVBoxLayout()
        self.keep_fixed = QListWidget()
        self.keep_fixed.setMaximumHeight(110)
        self.keep_fixed.setToolTip("Checked attributes stay as they are while the directions are applied")
        self.no_directions = QLabel()
        self.no_directions.setWordWrap(True)
        self.compute_button = QPushButton("Compute directions from a labelled folder…")
        self.background = Background(self)
        directions_group = QGroupBox("Attribute directions")
        d_layout = QVBoxLayout(directions_group)
        d_layout.addWidget(self.no_directions)
        d_layout.addWidget(self.compute_button)
        row = QHBoxLayout()
        row.addWidget(self.direction_choice, 1)
        row.addWidget(self.add_direction_button)
        d_layout.addLayout(row)
        d_layout.addLayout(self.directions_box)
        d_layout.addWidget(QLabel("Keep fixed:"))
        d_layout.addWidget(self.keep_fixed)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(terms_group)
        left_layout.addWidget(directions_group)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)

        self.face = FaceView(minimum=256)
        self.formula = QLabel()
        self.formula.setWordWrap(True)
        self.send_button = QPushButton("Send to explorer")
        self.export_button = QPushButton("Export PNG…")
        right = QVBoxLayout()
        right.addWidget(self.face, 1)
        right.addWidget(self.formula)
        actions = QHBoxLayout()
        actions.addWidget(self.send_button)
        actions.addWidget(self.export_button)
        right.addLayout(actions)

        layout = QHBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addLayout(right, 1)

        self.add_term_button.clicked.connect(lambda: self.add_term())
        self.preset_button.clicked.connect(self.preset_analogy)
        self.add_direction_button.clicked.connect(lambda: self.add_direction(self.direction_choice.currentData()))
        self.keep_fixed.itemChanged.connect(lambda _: self.update_result())
        self.send_button.clicked.connect(lambda: self.result is not None and self.send_to_explorer.emit(self.result))
        self.export_button.clicked.connect(self._ask_export)
        self.compute_button.clicked.connect(self._ask_compute)
        self.background.finished.connect(self._directions_computed)
        self.background.error.connect(self.error)

    # ------------------------------------------------------------ model
    def reset_for_session(self) -> None:
        for row in list(self.terms):
            self._remove_term(row, update=False)
        for row in list(self.direction_rows):
            self._remove_direction(row, update=False)
        self._refresh_direction_lists()
        self.preset_analogy()

    def _refresh_direction_lists(self) -> None:
        names = list(self.context.session.checkpoint.directions)
        self.direction_choice.clear()
        self.keep_fixed.blockSignals(True)
        self.keep_fixed.clear()
        for name in names:
            self.direction_choice.addItem(describe_direction(name), name)
            item = QListWidgetItem(describe_direction(name))
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.keep_fixed.addItem(item)
        self.keep_fixed.blockSignals(False)
        has = bool(names)
        self.no_directions.setVisible(not has)
        self.no_directions.setText("This model has no attribute directions (it was trained on an unlabelled folder). "
                                   "Compute them from a folder of Cartoon Set images with their CSV labels.")
        for widget in (self.direction_choice, self.add_direction_button, self.keep_fixed):
            widget.setEnabled(has)

    # ------------------------------------------------------------ terms
    def add_term(self, weight: float = 1.0, source: str = "random") -> TermRow:
        row = TermRow(f"Face {chr(ord('A') + len(self.terms))}", self.context, weight)
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
        """A + 1·(B − C): A is the explorer's face, B and C random faces."""
        for row in list(self.terms):
            self._remove_term(row, update=False)
        self.add_term(1.0, "current")
        self.add_term(1.0, "random")
        self.add_term(-1.0, "random")

    # ------------------------------------------------------------ directions
    def add_direction(self, name: str, strength: float = 1.0) -> DirectionRow | None:
        if not name:
            return None
        row = DirectionRow(name, strength)
        row.changed.connect(self.update_result)
        row.remove.connect(self._remove_direction)
        self.direction_rows.append(row)
        self.directions_box.addWidget(row)
        self.update_result()
        return row

    def _remove_direction(self, row: DirectionRow, update: bool = True) -> None:
        self._remove_row(self.direction_rows, row, update)

    def set_keep_fixed(self, names: list[str]) -> None:
        for i in range(self.keep_fixed.count()):
            item = self.keep_fixed.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in names
                               else Qt.CheckState.Unchecked)

    def kept_names(self) -> list[str]:
        return [self.keep_fixed.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.keep_fixed.count())
                if self.keep_fixed.item(i).checkState() == Qt.CheckState.Checked]

    def _ask_compute(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Labelled dataset folder")
        if folder:
            self.compute_directions_from(folder)

    def compute_directions_from(self, folder: str) -> bool:
        """Encode a labelled folder off the GUI thread and attach its directions to the model."""
        model = self.context.session.model

        def work():
            cache = open_folder(folder, model.image_size, log=lambda m: None)
            if not cache.has_labels:
                raise ValueError(f"{folder} has no Cartoon Set CSV labels")
            mu, _ = encode_all(model, cache, list(range(len(cache))))
            return compute_directions(mu, cache.label_tensor())

        self.no_directions.setText("computing directions…")
        return self.background.start(work)

    def _directions_computed(self, directions: dict) -> None:
        self.context.session.checkpoint.directions = directions
        self._refresh_direction_lists()

    # ------------------------------------------------------------ result
    def update_result(self) -> None:
        terms = [(row.weight.value(), row.picker.latent) for row in self.terms if row.picker.latent is not None]
        if not terms:
            return
        directions = self.context.session.checkpoint.directions
        applied = [(row.strength, directions[row.name]) for row in self.direction_rows]
        kept = [directions[name] for name in self.kept_names() if name not in {row.name for row in self.direction_rows}]
        try:
            self.result = compose(terms, applied, kept)
        except ValueError as exc:
            self.error.emit(str(exc))
            return
        self.face.set_image(self.context.session.renderer.render_batch(self.result.reshape(1, -1))[0])
        parts = [f"{w:+.1f}·{chr(ord('A') + i)}" for i, (w, _) in enumerate(terms)]
        parts += [f"{row.strength:+.2f}·[{describe_direction(row.name)}]" for row in self.direction_rows]
        self.formula.setText("result = " + " ".join(parts).lstrip("+"))

    def export_path(self, path: str, size: int = 512) -> bool:
        if self.result is None:
            return False
        image = self.context.session.renderer.render_batch(self.result.reshape(1, -1))[0]
        return export_face(self, path, image, size, self.result, self.context.session.name)

    def _ask_export(self) -> None:
        path = ask_save_path(self, "Export PNG", "arithmetic.png", "PNG image (*.png)", ".png")
        if path:
            self.export_path(path)
