"""Arithmetic panel: weighted face terms plus attribute directions, with a live result.

A view of a :class:`~vae.explore.arithmetic_model.ArithmeticModel`: edits go into the model, and each change to it is
mirrored here and decoded once.
"""

from __future__ import annotations

import torch
from PySide6.QtCore import QSignalBlocker, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from vae.explore import slots
from vae.explore.arithmetic_model import ArithmeticModel
from vae.explore.directions import ONE_VS_REST
from vae.explore.session import ExplorerSession

from .arithmetic_rows import DirectionRow, TermRow
from .attributes import describe_direction
from .attributes import title as attribute_title
from .controls import (
    CheckGrid,
    plain_label,
    plain_tooltip,
    refresh_snap_box,
    show_value,
    snap_box,
)
from .dialogs import STILL_FILTER, ask_save_path
from .directions_box import ExamplesBox, FolderDirections
from .explore_panel import export_face
from .export_size import enlargement, export_size_box, remember_size, show_native_size
from .follow import follow
from .widgets import FaceView, holding
from .workers import ModelJob, describe_error

GIVEN = "given"  # a term's face set in the model rather than picked from a source
# the formula's note while the hold is computed, and after it failed
HOLDING = "holding the rest…"
NOT_HELD = "the rest not held (see the message)"


class ArithmeticPanel(QWidget):
    """Builds z = Σ wᵢ·faceᵢ + Σ sⱼ·directionⱼ and shows the decoded result live."""

    send_to_explorer = Signal(object)
    error = Signal(str)

    def __init__(self, session: ExplorerSession, settings=None):
        super().__init__()
        self.session = session
        self.settings = settings
        self.model = ArithmeticModel(session)
        self.terms: list[TermRow] = []
        self.history = slots.FaceHistory()  # each term's faces before each choice, by place, for Edit → Undo
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
        self.add_direction_button.setText("Add direction ▾")
        self.add_direction_button.setStyleSheet("QToolButton::menu-indicator { image: none; }")  # the ▾ says it
        self.add_direction_button.setToolTip("Apply an attribute direction to the result")
        self.add_direction_button.setMenu(self.direction_menu)
        self.add_direction_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.directions_box = QVBoxLayout()
        self.keep_fixed = CheckGrid(QSize(190, 24))
        self.keep_fixed.setToolTip("Checked attributes stay as they are while the directions are applied")
        self.from_folder = FolderDirections(session, settings, beside=self.add_direction_button)
        self.examples = ExamplesBox(session)
        directions_group = QGroupBox("Attribute directions")
        d_layout = QVBoxLayout(directions_group)
        d_layout.addWidget(self.from_folder)
        d_layout.addLayout(self.directions_box)
        d_layout.addWidget(plain_label("Keep fixed while applying directions:"))
        d_layout.addWidget(self.keep_fixed)
        self.hold_box = QCheckBox("Hold the rest of the face: eye colour, face shape, … stay as they are")
        self.hold_box.setChecked(session.can_hold)
        self.hold_box.setEnabled(session.can_hold)
        self.hold_box.setToolTip(
            plain_tooltip(
                "A step along a direction also changes what it does not aim at, most often the eye colour. "
                "Held, the result is moved as little as it can so that classifiers trained on real Cartoon Set "
                "labels read eye colour, face shape, hair colour, skin and glasses as before, but for what the "
                "applied directions change. It takes a moment; the result shows unheld meanwhile."
                if session.can_hold
                else "The hold classifier (resources/hold_classifier.pt) is missing"
            )
        )
        d_layout.addWidget(self.hold_box)
        self.model.set_hold(self.hold_box.isChecked())
        self.hold_job = ModelJob(session, "hold the rest of the face", self, abandonable=True)
        self._hold_request = 0
        self._hold_pending = False
        self._shows_held = False  # whether the result shown is the held one (not still holding, not failed)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(terms_group)
        left_layout.addWidget(directions_group)
        left_layout.addWidget(self.examples)
        left_layout.addStretch(1)
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
        self.export_size = export_size_box(512, "exported PNG")
        remember_size(self.export_size, settings, "export/arithmetic")
        right = QVBoxLayout()
        right.addWidget(self.face, 1)
        right.addWidget(self.formula)
        right.addWidget(self.snap)
        actions = QHBoxLayout()
        actions.addWidget(self.send_button)
        actions.addWidget(self.export_button)
        actions.addWidget(self.export_size)
        right.addLayout(actions)

        layout = QHBoxLayout(self)
        layout.addWidget(scroll, 3)
        layout.addLayout(right, 2)

        self.add_term_button.clicked.connect(self._add_face_clicked)
        self.preset_button.clicked.connect(self._preset_clicked)
        self.keep_fixed.itemChanged.connect(self._keep_toggled)
        self.snap.toggled.connect(self.model.set_snap)
        self.hold_box.toggled.connect(self.model.set_hold)
        self.hold_job.finished.connect(self._held)
        self.hold_job.errored.connect(self._hold_failed)
        self.hold_job.cancelled.connect(self._hold_ended)
        self.send_button.clicked.connect(self.send_result)
        self.export_button.clicked.connect(self.ask_export)
        self.from_folder.error.connect(self.error)
        self.examples.error.connect(self.error)
        self.examples.created.connect(lambda name: self.add_direction(name, 1.0))
        follow(
            self,
            (session.model_changed, self.reset_for_session),
            (session.directions_changed, self._directions_changed),
            (self.model.terms_changed, self._terms_changed),
            (self.model.applied_changed, self._applied_changed),
            (self.model.kept_changed, self._kept_changed),
            (self.model.snap_changed, self._snap_changed),
            (self.model.hold_changed, self._hold_changed),
        )
        self.reset_for_session()

    # ------------------------------------------------------------ model
    def reset_for_session(self) -> None:
        """A (new) model: the analogy preset, or, where the new model reads latents as the old one did, the terms
        and the directions it also has, kept and drawn by it."""
        self._hold_pending = False
        self.hold_job.abandon()  # a hold for the model that was open: its result would not fit
        keep = self.session.same_latent_space and bool(self.terms)
        if not self.session.same_latent_space:
            self.history.clear()
        if not keep:
            self.model.clear()  # before the snap changes: nothing of the old latent space is summed again
        refresh_snap_box(self.snap, self.session.can_snap)  # silently: the model takes it with the new terms
        self.model.set_snap(self.snap.isChecked())
        show_native_size(self.export_size, self.session.model.image_size)
        if keep:
            self.model.forget_missing_directions()
        self._refresh_direction_lists()
        if keep:
            self.update_result()
        else:
            self.preset_analogy()

    # ------------------------------------------------------------ undo and redo of the faces
    def _faces_now(self) -> tuple:
        """Every term as it is: (weight, slot, kind) each, what a change of the sum's rows can go back to."""
        return ("terms", tuple((row.weight.value(), row.picker.slot, row.picker.kind) for row in self.terms))

    def _present(self, step: tuple) -> tuple:
        if step[0] == "face":
            picker = self.terms[step[1]].picker
            return ("face", step[1], picker.slot, picker.kind)
        return self._faces_now()

    def undo_face(self) -> str | None:
        """Give the sum back its faces before the last change of them (a face replaced, one removed, the preset);
        what happened, or None."""
        return self._go_back(self.history.undo(self._present))

    def redo_face(self) -> str | None:
        """Take back the last Undo of the sum's faces; what happened, or None."""
        return self._go_back(self.history.redo(self._present))

    def _go_back(self, step: tuple | None) -> str | None:
        if step is None:
            return None
        if step[0] == "face":  # one face: the terms are as they were when it was replaced
            _, index, slot, kind = step
            return self.terms[index].picker.restore(slot, kind)
        rows = step[1]
        for row in list(self.terms):
            self._drop_row(self.terms, row)
        new_rows = [self._new_term_row(weight) for weight, _, _ in rows]  # before the model shows the rows
        for row, (_, slot, kind) in zip(new_rows, rows):
            with QSignalBlocker(row.picker):
                row.picker.restore(slot, kind)
        self.model.set_terms([(row.weight.value(), row.picker.latent) for row in new_rows])
        return f"the sum's {len(new_rows)} faces as they were"

    def pickers(self) -> list:
        """The faces' pickers, in the order of the sum."""
        return [row.picker for row in self.terms]

    def take_up(self, saved: dict) -> None:
        """Take up a sum saved when the app last closed (:func:`vae.explore.saved_work.read_work`): its faces and
        weights, and the directions, kept attributes, snap and hold this model has; the result is drawn once."""
        self.model.clear()  # no sum to redraw while the settings arrive
        self.model.set_snap(saved["snap"] and self.session.can_snap)
        self.model.set_hold(saved["hold"] and self.session.can_hold)
        for name, strength in saved["applied"]:
            if name in self.session.directions:
                self.model.apply(name, strength)
        self.model.set_kept([name for name in saved["kept"] if name in self.session.directions])
        rows = [self._new_term_row(weight) for weight, _ in saved["terms"]]  # before the model shows the rows
        faces = zip(rows, saved["terms"], saved["follows"], saved["captions"])
        for i, (row, (_, z), follows, caption) in enumerate(faces):
            row.picker.take_up(z, follows, chr(ord("A") + i), caption)
        self.model.set_terms([(row.weight.value(), row.picker.latent) for row in rows])

    def _directions_changed(self, names) -> None:
        self.model.forget_missing_directions()
        self._refresh_direction_lists()
        self.update_result()

    def _refresh_direction_lists(self) -> None:
        names = list(self.session.directions)
        self.keep_fixed.blockSignals(True)
        self.keep_fixed.clear()
        for name in names:
            item = QListWidgetItem(describe_direction(name))
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            self.keep_fixed.addItem(item)
        self.keep_fixed.blockSignals(False)
        self._show_kept()
        if not self.direction_menu.isVisible():  # an open menu keeps its entries until it closes
            self._fill_direction_menu()
        for widget in (self.add_direction_button, self.keep_fixed):
            widget.setEnabled(bool(names))

    # ------------------------------------------------------------ terms
    def _add_face_clicked(self) -> None:
        self.history.record(self._faces_now())  # Undo takes the new face away again
        self.add_term()

    def _preset_clicked(self) -> None:
        self.history.record(self._faces_now())  # Undo gives back the faces the preset replaced
        self.preset_analogy()

    def add_term(self, weight: float = 1.0, source: str = "random") -> TermRow:
        row = self._filled_row(weight, source)
        self.model.add_term(weight, row.picker.latent)
        return row

    def _filled_row(self, weight: float, source: str) -> TermRow:
        """A new row whose face comes from ``source`` (silently: the caller tells the model)."""
        row = self._new_term_row(weight)
        row.picker.blockSignals(True)
        row.picker.fill_from_source(source)
        row.picker.blockSignals(False)
        return row

    def _new_term_row(self, weight: float) -> TermRow:
        row = TermRow(f"Face {chr(ord('A') + len(self.terms))}", self.session, self.settings, weight)
        row.changed.connect(lambda: self._term_edited(row))
        row.remove.connect(self._remove_term)
        row.picker.error.connect(self.error)
        row.picker.replaced.connect(
            lambda slot, kind: row in self.terms and self.history.record(("face", self.terms.index(row), slot, kind))
        )
        self.terms.append(row)
        self.terms_box.addWidget(row)
        return row

    def _terms_changed(self) -> None:
        """Mirror the model's terms in the rows, by position: count, weights and faces."""
        terms = self.model.terms
        while len(self.terms) > len(terms):
            self._drop_row(self.terms, self.terms[-1])
        while len(self.terms) < len(terms):
            self._new_term_row(terms[len(self.terms)][0])
        for row, (weight, latent) in zip(self.terms, terms):
            show_value(row.weight, weight)
            held = row.picker.slot.latent if row.picker.slot is not None else None
            if latent is not None and (held is None or held.shape != latent.shape or not torch.equal(held, latent)):
                row.picker.blockSignals(True)
                row.picker.set_slot(slots.FaceSlot(latent, "a face given to the sum"), GIVEN)
                row.picker.blockSignals(False)
        self.update_result()

    def _term_edited(self, row: TermRow) -> None:
        if row in self.terms:  # not a removed row whose face arrives late
            index = self.terms.index(row)
            self.model.set_weight(index, row.weight.value())
            self.model.set_latent(index, row.picker.latent)

    def _remove_term(self, row: TermRow) -> None:
        """The user removed ``row``: it goes first, so the rows after it keep their faces and sources."""
        self.history.record(self._faces_now())
        index = self.terms.index(row)
        self._drop_row(self.terms, row)
        self.model.remove_term(index)

    def _drop_row(self, rows: list, row: QWidget) -> None:
        rows.remove(row)
        row.setParent(None)
        row.deleteLater()

    def preset_analogy(self) -> None:
        """A + 1·(B − C): A follows the explorer's face, B and C are random faces."""
        for row in list(self.terms):
            self._drop_row(self.terms, row)
        for weight, source in ((1.0, "current"), (1.0, "random"), (-1.0, "random")):
            self._filled_row(weight, source)
        self.model.set_terms([(row.weight.value(), row.picker.latent) for row in self.terms])

    # ------------------------------------------------------------ directions
    def _fill_direction_menu(self) -> None:
        """The menu is filled as it opens and not touched while open: a direction that arrives meanwhile (a
        computation ending) is there the next time, and no entry moves under the pointer. Directions of one
        attribute's values (hair colour: black, …) share a submenu."""
        self.direction_menu.clear()
        submenus: dict[str, QMenu] = {}
        applied = {name for name, _ in self.model.applied}
        for name in self.session.directions:
            attribute = name.partition(":")[0]
            menu, text = self.direction_menu, describe_direction(name)
            if ":" in name and attribute in ONE_VS_REST:
                if attribute not in submenus:
                    submenus[attribute] = self.direction_menu.addMenu(attribute_title(attribute))
                menu, text = submenus[attribute], text.split(": ", 1)[-1]  # "black" under "hair colour"
            action = menu.addAction(text)
            action.setData(name)
            if name in applied:  # applied already: its row's slider sets how far
                action.setEnabled(False)
                action.setToolTip("applied above: its slider sets its strength")
            action.triggered.connect(lambda checked=False, n=name: self.add_direction(n))

    def direction_menu_names(self) -> list[str]:
        """The directions the menu offers, in its order (submenus' entries in place of the submenu)."""
        names = []
        for action in self.direction_menu.actions():
            entries = action.menu().actions() if action.menu() else [action]
            names += [entry.data() for entry in entries]
        return names

    def add_direction(self, name: str, strength: float = 1.0) -> DirectionRow | None:
        """Apply the direction ``name``; its row, or None for a direction the model lacks."""
        return self.direction_rows[-1] if self.model.apply(name, strength) else None

    def _applied_changed(self) -> None:
        """Mirror the applied directions in the rows, by position; grey out what they make unkeepable."""
        applied = self.model.applied
        while len(self.direction_rows) > len(applied):
            self._drop_row(self.direction_rows, self.direction_rows[-1])
        for name, strength in applied[len(self.direction_rows) :]:
            row = DirectionRow(name, strength)
            row.changed.connect(lambda r=row: r in self.direction_rows and self._strength_edited(r))
            row.remove.connect(self._remove_direction)
            self.direction_rows.append(row)
            self.directions_box.addWidget(row)
        for row, (name, strength) in zip(self.direction_rows, applied):
            row.show_direction(name, strength)
        self._show_kept()
        self.update_result()

    def _strength_edited(self, row: DirectionRow) -> None:
        self.model.set_strength(self.direction_rows.index(row), row.strength)

    def _remove_direction(self, row: DirectionRow) -> None:
        index = self.direction_rows.index(row)
        self._drop_row(self.direction_rows, row)
        self.model.unapply(index)

    # ------------------------------------------------------------ kept fixed
    def _keep_toggled(self, item: QListWidgetItem) -> None:
        self.model.set_keep(item.data(Qt.ItemDataRole.UserRole), item.checkState() == Qt.CheckState.Checked)

    def _kept_changed(self) -> None:
        self._show_kept()
        self.update_result()

    def _show_kept(self) -> None:
        """Check the kept attributes; an applied one is greyed out, as the model does not keep it fixed."""
        kept = set(self.model.kept)
        self.keep_fixed.blockSignals(True)
        for i in range(self.keep_fixed.count()):
            item = self.keep_fixed.item(i)
            name = item.data(Qt.ItemDataRole.UserRole)
            item.setCheckState(Qt.CheckState.Checked if name in kept else Qt.CheckState.Unchecked)
            keepable = self.model.can_keep(name)
            flags = item.flags()
            item.setFlags(flags | Qt.ItemFlag.ItemIsEnabled if keepable else flags & ~Qt.ItemFlag.ItemIsEnabled)
            title = describe_direction(name)
            item.setToolTip(
                plain_tooltip(
                    f"Keep “{title}” as it is"
                    if keepable
                    else f"“{title}” is applied above, so it cannot also stay fixed"
                )
            )
        self.keep_fixed.blockSignals(False)

    def set_keep_fixed(self, names: list[str]) -> None:
        self.model.set_kept(names)

    def kept_names(self) -> list[str]:
        """The directions kept fixed: checked, and not applied themselves."""
        return self.model.kept_fixed

    # ------------------------------------------------------------ result
    def _snap_changed(self, on: bool) -> None:
        self.snap.blockSignals(True)
        self.snap.setChecked(on)
        self.snap.blockSignals(False)
        self.update_result()

    def _hold_changed(self, on: bool) -> None:
        self.hold_box.blockSignals(True)
        self.hold_box.setChecked(on)
        self.hold_box.blockSignals(False)
        self.update_result()

    def update_result(self) -> None:
        """Decode the model's result and show it with its formula; when it is to be held, hold it off the GUI
        thread and show the held face once it is there."""
        self._hold_request += 1  # a hold still running is for what the model was before this change
        try:
            result = self.model.result()
        except ValueError as exc:
            self.error.emit(str(exc))
            return
        if result is None:
            return
        self.result, self._shows_held = result, False
        self.face.set_image(self.session.render(self.result))
        self.formula.setText(self.model.formula(HOLDING))
        if self.model.holding:
            self._start_hold()

    @property
    def hold_pending(self) -> bool:
        """Whether a hold is running or waiting to start: the face shown may still change."""
        return self.hold_job.busy or self._hold_pending

    def _start_hold(self) -> None:
        """Hold the current result; a hold still running finishes first, and its result is then dropped."""
        if self.hold_job.busy:
            self._hold_pending = True
            return
        inputs = self.model.hold_inputs()
        if inputs is not None:
            request, hold = self._hold_request, self.session.hold_edit
            self.hold_job.start(lambda control: (request, hold(*inputs)))

    def _held(self, outcome) -> None:
        request, z = outcome
        if request == self._hold_request and self.model.holding:
            self.result, self._shows_held = z, True
            self.face.set_image(self.session.render(z))
            self.formula.setText(self.model.formula())
        self._hold_ended()

    def _hold_failed(self, exc) -> None:
        self.error.emit(f"could not hold the rest of the face: {describe_error(exc)}")
        self.formula.setText(self.model.formula(NOT_HELD))
        self._hold_ended()

    def _hold_ended(self) -> None:
        if self._hold_pending:
            self._hold_pending = False
            if self.model.holding:
                self._start_hold()

    def send_result(self) -> None:
        """The result to the explorer; faces that follow the explorer keep theirs, so the result stays put."""
        if self.result is not None:
            with holding([row.picker for row in self.terms]):
                self.send_to_explorer.emit(self.result)

    def export_path(self, path: str, size: int | None = None) -> bool:
        """Write the result as a PNG (with its latent beside it), at ``size`` or the panel's export size."""
        if self.result is None:
            return False
        size = size or self.export_size.value()
        recipe = self.model.recipe(held=self._shows_held)
        return export_face(self, path, self.session.render(self.result), size, self.result, recipe=recipe)

    def ask_export(self) -> None:
        title = f"Export PNG ({enlargement(self.session.model.image_size, self.export_size.value())})"
        path = ask_save_path(self, title, "arithmetic.png", STILL_FILTER, ".png", "export", self.settings)
        if path:
            self.export_path(path)
