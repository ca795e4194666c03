"""Explore panel: the decoded face and one slider per latent dimension."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vae.explore import export
from vae.explore.axis_names import name_axes
from vae.explore.session import ExplorerSession
from vae.model.latent import APP_TEMPERATURE

from .controls import TextLine, double_spin_box
from .dialogs import IMAGE_FILTER, LATENT_FILTER, STILL_FILTER, ask_open_path, ask_save_path, refuse
from .export_size import enlargement, export_size_box, remember_size, show_native_size, wrote_message
from .follow import follow
from .latent_slider import LatentSlider
from .traversal_dialog import TraversalDialog
from .widgets import FaceView, JobSlot
from .workers import ModelJob, describe_error

READOUT_HINT = "Point at a slider, or Tab to one, to see its value"


class ExplorePanel(QWidget):
    """The face and its latent sliders, with Random/Reset/Zero/Encode/Load/Save/Export."""

    error = Signal(str)

    def __init__(self, session: ExplorerSession, settings=None):
        super().__init__()
        self.session = session
        self.settings = settings
        self.sliders: dict[int, LatentSlider] = {}
        self.face = FaceView()
        self._hover: int | None = None
        self._dragging: int | None = None
        self._focus: int | None = None  # the slider the arrow keys move

        self.random_button = QPushButton("Random")
        self.random_button.setToolTip(
            "A new face from the prior (R); locked sliders stay, and the others are drawn to suit them"
        )
        self.temperature = double_spin_box(0.0, 2.0, APP_TEMPERATURE, 0.1, prefix="temperature ")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip(
            "The model's typical face: the most likely mean of its fitted prior (Home); locked sliders stay"
        )
        self.zero_button = QPushButton("Zero all")
        self.zero_button.setToolTip(
            "Every unlocked slider to 0 (Shift+Home). For a model with a fitted prior 0 is not a face it knows: "
            "it decodes as a faint ghost of a face; Reset goes to its typical face"
        )
        self.encode_button = QPushButton("Encode image…")
        self.encode_button.setToolTip(
            "Set the sliders to an image's encoding, refined against the decoder to match it (or drop an image "
            "on the window)"
        )
        self.load_button = QPushButton("Load latent…")
        self.save_button = QPushButton("Save latent…")
        self.export_button = QPushButton("Export PNG…")
        self.traversals_button = QPushButton("Traversals…")
        self.traversals_button.setToolTip(
            "What each dimension does: this face with each used slider swept from −3σ to +3σ, a row each"
        )
        self.traversals: TraversalDialog | None = None
        self.export_size = export_size_box(512, "exported PNG")
        remember_size(self.export_size, settings, "export/explore")
        self.temperature.setToolTip(
            "How far Random strays from typical faces: lower gives safer, more average faces, "
            "higher more unusual ones (0.8: the app's default)"
        )
        self.encoder = ModelJob(session, "encode image", self, abandonable=True, latent_only=True)

        buttons = QHBoxLayout()
        for widget in (
            self.random_button,
            self.temperature,
            self.reset_button,
            self.zero_button,
            self.encode_button,
            self.load_button,
            self.save_button,
            self.export_button,
            self.export_size,
            self.traversals_button,
        ):
            buttons.addWidget(widget)
        buttons.addStretch(1)

        self.slider_box = QGroupBox("Latent dimensions (±3σ), most used first")
        box_layout = QVBoxLayout(self.slider_box)
        self.readout = TextLine(READOUT_HINT)
        self.readout_slot = JobSlot(self.readout, self.encoder)  # encoding's progress shows in the readout's place
        self.encode_progress = self.readout_slot.progress
        box_layout.addWidget(self.readout_slot)
        self.slider_grid = QGridLayout()
        self.slider_grid.setSpacing(2)
        box_layout.addLayout(self.slider_grid, 1)

        top = QHBoxLayout()
        top.addWidget(self.face, 5)
        top.addWidget(self.slider_box, 7)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addLayout(buttons)

        self.random_button.clicked.connect(self.randomize)
        self.reset_button.clicked.connect(lambda: self.session.state.reset())
        self.zero_button.clicked.connect(lambda: self.session.state.zero())
        self.encode_button.clicked.connect(self._ask_encode)
        self.load_button.clicked.connect(self._ask_load_latent)
        self.save_button.clicked.connect(self._ask_save_latent)
        self.export_button.clicked.connect(self.ask_export)
        self.traversals_button.clicked.connect(self.show_traversals)
        self.encoder.finished.connect(self._encoded)
        self.encoder.errored.connect(lambda exc: self.error.emit(describe_error(exc)))
        self.encoder.cancelled.connect(lambda: self.session.report("encoding cancelled; the face is as it was"))

        follow(
            self,
            (session.model_changed, self.rebuild),
            (session.values_changed, self._values_changed),
            (session.locks_changed, self._locks_changed),
            (session.directions_changed, lambda names: self._name_sliders()),
        )
        self.rebuild()

    # ------------------------------------------------------------ model
    def rebuild(self) -> None:
        """Show the session's (new) model: one slider per dimension, most used first."""
        session = self.session
        for slider in self.sliders.values():
            slider.setParent(None)
            slider.deleteLater()
        self.sliders.clear()
        kl = session.latent_kl
        columns = 16 if session.model.latent_dim > 16 else session.model.latent_dim
        show_native_size(self.export_size, session.model.image_size)
        names = name_axes(session.directions, session.model.latent_dim)
        for position, dim in enumerate(session.dimension_order):
            slider = LatentSlider(dim, session.is_active(dim), None if kl is None else float(kl[dim]), names.get(dim))
            slider.moved.connect(self._slider_moved)
            slider.pressed.connect(lambda d=dim: self._drag(d, True))
            slider.released.connect(lambda d=dim: self._drag(d, False))
            slider.lock_toggled.connect(lambda d, locked: self.session.state.set_lock(d, locked))
            slider.hovered.connect(self._hovered)
            slider.focused.connect(self._focused)
            self.slider_grid.addWidget(slider, position // columns, position % columns)
            self.sliders[dim] = slider
        self._hover = self._dragging = self._focus = None
        self.refresh()

    def _name_sliders(self) -> None:
        """Name each slider after the stored direction its axis moves along, if any (the directions changed)."""
        names = name_axes(self.session.directions, self.session.model.latent_dim)
        for dim, slider in self.sliders.items():
            slider.set_name(names.get(dim))
        self._show_readout()

    def _drag(self, dim: int, down: bool) -> None:
        if down:
            self._dragging = dim
            self.session.state.begin_drag()
        else:
            self._dragging = None
            self.session.state.end_drag()
        self._show_readout()

    def _hovered(self, dim: int, inside: bool) -> None:
        self._hover = dim if inside else (None if self._hover == dim else self._hover)
        self._show_readout()

    def _focused(self, dim: int, has: bool) -> None:
        self._focus = dim if has else (None if self._focus == dim else self._focus)
        self._show_readout()

    def _show_readout(self) -> None:
        """The value of the slider being dragged, else the one under the pointer, else the one with the focus."""
        dim = next((d for d in (self._dragging, self._hover, self._focus) if d is not None), None)
        if dim is not None and dim in self.sliders:
            self.readout.setText(self.sliders[dim].describe())
        else:  # no value shown that the sliders may since have left
            self.readout.setText(READOUT_HINT)

    def _slider_moved(self, dim: int, value: float) -> None:
        if dim == self._focus and self._dragging is None:
            self._hover = None  # moved by the keyboard: its value, not the one under a resting pointer
        self.session.state.set_dim(dim, value)

    def _values_changed(self, dims) -> None:
        values = self.session.state.values
        for dim in dims:
            if dim in self.sliders:
                self.sliders[dim].show_value(float(values[dim]))
        self._show_readout()
        self.face.set_image(self.session.current_image())

    def _locks_changed(self, locks) -> None:
        for dim, slider in self.sliders.items():
            slider.show_lock(dim in locks)

    def refresh(self) -> None:
        """Pull the whole state into the widgets: every slider and lock, then one decode."""
        state = self.session.state
        values = state.values
        for dim, slider in self.sliders.items():
            slider.show_value(float(values[dim]))
            slider.show_lock(dim in state.locks)
        self.face.set_image(self.session.current_image())

    # ------------------------------------------------------------ actions
    def show_traversals(self) -> TraversalDialog:
        """Open (or raise) the traversals of the current face."""
        if self.traversals is None:
            self.traversals = TraversalDialog(self.session, self, self.settings)
            self.traversals.error.connect(self.error)
        self.traversals.show()
        self.traversals.raise_()
        self.traversals.activateWindow()
        return self.traversals

    def randomize(self) -> None:
        self.session.state.randomize(self.temperature.value())

    def encode_path(self, path: str) -> bool:
        """Start encoding an image file off the GUI thread; the sliders move when it is done."""
        session = self.session
        started = self.encoder.start(lambda control: (path, session.encode_file(path, control)))
        if started:
            self.session.report(f"encoding {path}…")
        return started

    def _encoded(self, result) -> None:
        path, mu = result  # for the model open, or one of its latent space (see ModelJob)
        self.session.state.set_values(mu)
        self.session.report(f"encoded {path}")

    def _ask_encode(self) -> None:
        path = ask_open_path(self, "image", "Encode image", IMAGE_FILTER, self.settings)
        if path:
            self.encode_path(path)

    def load_latent_path(self, path: str) -> bool:
        try:
            latents = export.load_latents(path, self.session.model.latent_dim)  # a wrong length names the file
            self.session.state.set_values(latents[0])
        except (ValueError, OSError) as exc:
            refuse(self, "load latent", exc)
            return False
        what = "the latent" if len(latents) == 1 else f"the first of the {len(latents)} latents"
        self.session.report(f"loaded {what} in {path}")
        return True

    def _ask_load_latent(self) -> None:
        path = ask_open_path(self, "latent", "Load latent", LATENT_FILTER, self.settings)
        if path:
            self.load_latent_path(path)

    def save_latent_path(self, path: str) -> bool:
        try:
            written = export.save_latents(path, self.session.state.values, self.session.name)
        except (export.ExportError, ValueError) as exc:
            refuse(self, "save latent", exc)
            return False
        self.session.report(f"saved the latent to {written}")
        return True

    def _ask_save_latent(self) -> None:
        path = ask_save_path(self, "Save latent", "face.json", LATENT_FILTER, ".json", "latent", self.settings)
        if path:
            self.save_latent_path(path)

    def export_path(self, path: str, size: int | None = None) -> bool:
        """Write the current face as a PNG (with its latent beside it)."""
        size = size or self.export_size.value()
        return export_face(self, path, self.session.current_image(), size, self.session.state.values)

    def ask_export(self, from_elsewhere: bool = False) -> None:
        """Ask where to write the explorer's face; ``from_elsewhere``: asked from another tab, so the title names it."""
        what = "the Explore tab's face" if from_elsewhere else "PNG"
        title = f"Export {what} ({enlargement(self.session.model.image_size, self.export_size.value())})"
        path = ask_save_path(self, title, "face.png", STILL_FILTER, ".png", "export", self.settings)
        if path:
            self.export_path(path)


def export_face(panel, path: str, image, size: int, latent, **extra) -> bool:
    """Write one face PNG (+ latent JSON, with ``extra`` fields) and say so in the status bar; on failure emit
    ``panel.error``."""
    session = panel.session
    try:
        written = export.save_face(path, image, size, latent, session.name, **extra)
    except (export.ExportError, ValueError) as exc:
        refuse(panel, "export", exc)
        return False
    native = session.model.image_size
    session.report(wrote_message(written, f"{size}×{size} px from {native} px"))
    return True
