"""Latent map: dataset faces' μ in 2-D (PCA or t-SNE), coloured by an attribute with a legend; hover, click to use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from vae.data.cache import BUILTIN, BUILTIN_COUNT, builtin_ready, is_builtin_source
from vae.explore.latent_map import DRAWN, MAX_POINTS, build_map, drawn_map
from vae.explore.projection import PROJECTIONS, MapLayouts, tsne_2d
from vae.explore.session import ExplorerSession

from . import attributes
from .controls import plain_label
from .dialogs import ask_folder
from .follow import follow
from .widgets import FaceView, JobProgress, legend_beside
from .workers import ModelJob, describe_error

LAST_FOLDER_KEY, PROJECTION_KEY = "map/last_folder", "map/projection"  # remembered from one launch to the next
QUICK_COUNT = 1000  # faces generated for the Map when nothing else is at hand (seconds, not minutes)
MIN_POINTS = 500
SNAP_PX = 10  # a pointer this near a dot (screen pixels) points at its face: dots are 7 px across
TARGETS = {
    "explorer": "sends to the Explorer",
    "a": "sets Morph face A",
    "b": "sets Morph face B",
    "with": "adds an example WITH a trait",
    "without": "adds an example WITHOUT it",
}
PLAIN = (31, 119, 180)
AXES = {"pca": "principal component", "tsne": "t-SNE axis"}


def map_sources(session: ExplorerSession) -> list[tuple[str, tuple[str, int]]]:
    """(label, (spec, count)) choices, the most faithful at hand first: the model's own training folder when it is
    on this computer, faces the model draws at random (at once), the built-in faces when they are already made,
    a quick generated sample; the drawn faces come after the generated ones for a model that learnt from these."""
    sources = []
    trained_on = session.checkpoint.dataset.get("source")
    if trained_on and Path(str(trained_on)).is_dir():
        sources.append(
            (f"The model's training faces (first {MAX_POINTS:,} of {Path(trained_on).name})", (str(trained_on), 0))
        )
    drawn = (f"{QUICK_COUNT:,} faces this model draws at random", (DRAWN, QUICK_COUNT))
    learnt_generated = bool(trained_on) and is_builtin_source(trained_on)
    if not learnt_generated:
        sources.append(drawn)
    if builtin_ready():
        sources.append((f"Built-in faces (validation split of {BUILTIN_COUNT:,})", (BUILTIN, BUILTIN_COUNT)))
    sources.append((f"Quick sample: {QUICK_COUNT:,} generated faces", (BUILTIN, QUICK_COUNT)))
    if learnt_generated:
        sources.append(drawn)
    sources.append(("Folder…", ("folder", 0)))
    return sources


class MapPanel(QWidget):
    """Scatter of encoded dataset faces, or of faces the model draws, a view of
    :class:`~vae.explore.projection.MapLayouts`; preparation, encoding and t-SNE run as one cancellable job at a
    time."""

    picked = Signal(str, object)  # target ("explorer" | "a" | "b" | "with" | "without"), FaceSlot
    error = Signal(str)
    settled = Signal()  # the chosen layout is drawn (or cannot be) and no job runs

    def __init__(self, session: ExplorerSession, settings=None):
        super().__init__()
        self.session = session
        self.settings = settings
        self.layouts = MapLayouts()
        self._computing: str | None = None  # what the job runs: "encode" or "tsne"
        self._mapped: tuple[str, int] = (BUILTIN, QUICK_COUNT)  # the faces the map shows: (spec, count)
        self._pending = self._mapped  # the faces being encoded
        self._folders: list[str] = []  # folders mapped this session, offered as choices of their own
        self._last_folder = str(settings.value(LAST_FOLDER_KEY, "") or "") if settings is not None else ""
        self._hovered_point: int | None = None
        self._drawn: str | None = None  # the projection the points are laid out by
        self.source = QComboBox()
        self.projection = QComboBox()
        for key, label in PROJECTIONS.items():
            self.projection.addItem(label, key)
        self.projection.setToolTip(
            "PCA: the two main axes of the latents, at once.\n"
            "t-SNE: neighbours kept together, so similar faces cluster (seconds; computed once per set of faces)."
        )
        self.load_button = QPushButton("Map faces")
        self.status = plain_label()
        self.status.setWordWrap(True)
        self.colour = QComboBox()
        self.colour.setMinimumContentsLength(24)
        self.colour.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.target = QComboBox()
        for key, label in TARGETS.items():
            self.target.addItem(f"click {label}", key)
        self.plot = pg.PlotWidget(background="w")
        self.plot.getPlotItem().layout.setContentsMargins(2, 10, 10, 2)  # room for the end ticks' labels
        self.scatter = pg.ScatterPlotItem(size=7, pen=pg.mkPen(None), tip=None)
        self.plot.addItem(self.scatter)
        self.ring = pg.ScatterPlotItem(size=13, pen=pg.mkPen("k", width=1.5), brush=pg.mkBrush(None))
        self.plot.addItem(self.ring)  # around the face pointed at
        self.legend = legend_beside(self.plot.getPlotItem())
        self.preview = FaceView(minimum=200)
        self.drawn = FaceView(minimum=120)  # the point's latent decoded: what a click sends
        self.drawn_label = plain_label("")
        self.drawn_label.setStyleSheet("color: #505050;")
        self.preview_label = plain_label("Point at a face")
        self.preview_label.setWordWrap(True)
        self.preview_label.setMinimumWidth(200)
        self.job = ModelJob(session, "latent map", self, latent_only=True)  # encodings, their t-SNE
        self.job_progress = JobProgress(self.job)

        top = QHBoxLayout()
        for w in (self.source, self.load_button, self.projection, self.colour, self.target):
            top.addWidget(w)
        top.addStretch(1)
        side = QVBoxLayout()
        side.addWidget(self.preview, 3)
        side.addWidget(self.preview_label)
        side.addWidget(self.drawn, 2)
        side.addWidget(self.drawn_label)
        body = QHBoxLayout()
        body.addWidget(self.plot, 3)
        body.addLayout(side, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.job_progress)
        layout.addLayout(body, 1)

        self.load_button.clicked.connect(self._ask_load)
        self.source.currentIndexChanged.connect(lambda _: self._clear_preview())
        self.source.activated.connect(self._source_chosen)
        self.projection.currentIndexChanged.connect(lambda _: self.set_projection(self.projection.currentData()))
        self.colour.currentIndexChanged.connect(self._colour_chosen)
        self.plot.scene().sigMouseMoved.connect(self._pointer_moved)
        self.plot.viewport().installEventFilter(self)  # the pointer leaving the plot takes the ring away
        self.plot.scene().sigMouseClicked.connect(self._plot_clicked)
        self.job_progress.cancel_button.clicked.connect(self._cancel_clicked)
        self.job.finished.connect(self._finished)
        self.job.errored.connect(self._failed)
        self.job.cancelled.connect(self._cancelled)
        self.job.running_changed.connect(lambda running: self.load_button.setEnabled(not running))
        follow(self, (session.model_changed, self._model_changed))
        self.clear()
        chosen = str(settings.value(PROJECTION_KEY, "")) if settings is not None else ""
        if chosen in PROJECTIONS:  # the last launch's choice (anything else in the settings file: PCA)
            self.set_projection(chosen)

    @property
    def map(self):
        """The encoded faces shown, if any (the session's, a source for every face picker)."""
        return self.session.map_faces

    def _model_changed(self) -> None:
        """Another model: where it encodes as the old one did, the map stays (the same points) and a job mapping
        faces goes on; else a clean state, where faces the old model drew give way to those the new one draws."""
        drawn = self._mapped if self._shows_drawn_faces else None  # (the session dropped them for another space)
        if not self.session.same_latent_space or (self.map is None and not self.job.busy):
            self.clear()
            if drawn:
                self.load(*drawn)
            return
        self.layouts.carry_to(self.session.model)
        self._clear_preview()
        self._fill_sources()  # this model's own training folder, say
        if not self.job.busy:
            self._describe()

    def showEvent(self, event) -> None:
        """The first time the tab shows: the folder mapped last time the app ran, where it still is, else faces the
        model draws (no waiting) where they are the first choice."""
        super().showEvent(event)
        if self.map is not None or self.job.busy:
            return
        last, self._last_folder = self._last_folder, None  # once: a folder that fails is not tried again
        if last and Path(last).is_dir():
            self.load(last, 0)
        elif self._mapped[0] == DRAWN:
            self.load(*self._mapped)

    def clear(self) -> None:
        """A clean state: no points, no stale face, no colouring, sources for the current model."""
        self.job.cancel()
        self._computing = None  # what the job still running computed is no longer wanted: it ends cancelled
        self._shows_drawn_faces = False
        self.session.set_map_faces(None)
        self._drawn = None
        self._mapped = self._pending = map_sources(self.session)[0][1]  # the first choice, until faces are mapped
        self.layouts.for_model(self.session.model)
        self.scatter.clear()
        self.legend.clear()
        self.legend.hide()
        self._set_axes(self.layouts.projection)
        self._clear_preview()
        self._fill_sources()
        self._fill_colours([])
        self.status.setText("Map a set of faces to see where they lie in the model's latent space.")

    def _fill_sources(self) -> None:
        """The sources for the current model, the folder mapped among them and chosen."""
        self.source.blockSignals(True)
        self.source.clear()
        for label, data in map_sources(self.session):
            self.source.addItem(label, data)
        for folder in self._folders:  # every folder mapped this session stays a choice
            self._add_folder((folder, 0))
        self.source.blockSignals(False)
        if self._computing == "encode":
            self._offer(self._pending)
        elif self.map is not None:
            self._offer(self._mapped)

    def _clear_preview(self) -> None:
        self._hovered_point = None
        self.ring.clear()
        self.preview.set_image(None)
        self.drawn.set_image(None)
        self.drawn_label.setText("")
        self.preview_label.setText("Point at a face")
        drawn_map = self.map is not None and self.map.drawn  # its faces are the model's drawings: one view is enough
        self.drawn.setVisible(not drawn_map)
        self.drawn_label.setVisible(not drawn_map)

    def _set_axes(self, projection: str) -> None:
        self.plot.setLabel("bottom", f"{AXES[projection]} 1")
        self.plot.setLabel("left", f"{AXES[projection]} 2")

    def _fill_colours(self, names: list[str]) -> None:
        labelled = bool(names)
        self.colour.blockSignals(True)
        self.colour.clear()
        self.colour.addItem("no colouring" if labelled else "no labels to colour by", None)  # greyed: says why
        if labelled:
            for name in sorted(names, key=attributes.title):
                self.colour.addItem(f"colour by {attributes.title(name)}", name)
            self.colour.setCurrentIndex(max(0, self.colour.findData(self.layouts.colour)))
        self.colour.setEnabled(labelled)
        self.colour.setToolTip(
            "" if labelled else "These faces have no labels to colour by (CSV files or a labels.tsv)"
        )
        self.colour.blockSignals(False)

    def _colour_chosen(self) -> None:
        self.layouts.colour = self.colour.currentData()
        self.redraw()

    def set_colour(self, name: str | None) -> None:
        """Colour by attribute ``name`` (None: plain) whenever the faces are labelled."""
        self.layouts.colour = name
        if self.colour.findData(name) >= 0:
            self.colour.setCurrentIndex(self.colour.findData(name))

    def set_projection(self, projection: str) -> None:
        """Lay the faces out by ``projection`` ('pca' or 'tsne'): from the cache at once, else t-SNE as a job. The
        choice is the next launch's too."""
        self.layouts.choose(projection)
        if self.settings is not None:
            self.settings.setValue(PROJECTION_KEY, projection)
        self.projection.blockSignals(True)
        self.projection.setCurrentIndex(self.projection.findData(projection))
        self.projection.blockSignals(False)
        self._sync()

    def load_default(self) -> bool:
        """Encode the first (quickest) source offered; False when a job is still running."""
        spec, count = self.source.itemData(0)
        return self.load(spec, count)

    def _ask_load(self) -> None:
        spec, count = self.source.currentData()
        if spec == "folder":
            spec = ask_folder(self, "dataset", "Faces to map", self.settings)
            if not spec:
                return
        self.load(spec, count)

    def _source_chosen(self, index: int) -> None:
        """A source picked is mapped at once ("Folder…" asks for the folder first; cancelled, the choice goes
        back), so that the dropdown names the faces shown or being mapped."""
        spec, count = self.source.itemData(index)
        if self.job.busy:
            self._offer(self._pending if self._computing == "encode" else self._mapped)
            self.session.report("the Map is still working: wait for it, or Cancel, before choosing other faces")
            return
        if spec == "folder":
            spec = ask_folder(self, "dataset", "Faces to map", self.settings)
            if not spec:
                self._offer(self._mapped)
                return
        self.load(spec, count)

    def _offer(self, source: tuple[str, int]) -> None:
        """Choose ``source`` in the dropdown: a folder becomes a choice of its own (above "Folder…"); built-in or
        drawn faces of a count not offered choose the entry of their kind."""
        index = self._source_index(source)
        if index < 0 and source[0] in (BUILTIN, DRAWN):
            index = next((i for i in range(self.source.count()) if self.source.itemData(i)[0] == source[0]), 0)
        elif index < 0:
            index = self._add_folder(source)
        self.source.blockSignals(True)
        self.source.setCurrentIndex(max(0, index))
        self.source.blockSignals(False)

    def _add_folder(self, source: tuple[str, int]) -> int:
        """Make a folder a choice of its own, above "Folder…", for the rest of the session; returns its index."""
        index = self._source_index(source)
        if index < 0:
            index = self.source.count() - 1
            self.source.insertItem(index, Path(source[0]).name or source[0], source)
            self.source.setItemData(index, source[0], Qt.ItemDataRole.ToolTipRole)
        if source[0] not in self._folders:
            self._folders.append(source[0])
        return index

    def _source_index(self, data: tuple[str, int]) -> int:
        return next((i for i in range(self.source.count()) if tuple(self.source.itemData(i)) == data), -1)

    def _faces_text(self) -> str:
        """What the map shows: "1,000 generated faces", "500 faces of FOLDER"."""
        spec, count = self._mapped
        shown = len(self.map)
        if spec == BUILTIN:
            return f"{shown:,} generated faces" + ("" if shown == count else f" (of a set of {count:,})")
        if spec == DRAWN:
            return f"{shown:,} faces the model draws at random"
        folder, read = Path(spec).name or spec, len(self.map.cache)
        if shown < read:
            return f"{shown:,} faces of {folder} (the validation faces of the {read:,} read)"
        return f"{shown:,} faces of {folder}" + (
            " (its first files: a map shows at most that many)" if read >= MAX_POINTS else ""
        )

    def load(self, spec: str, count: int = BUILTIN_COUNT) -> bool:
        """Map the faces of ``spec``: ``count`` faces the model draws (:data:`DRAWN`, at once), or a folder's or
        ``count`` built-in faces, prepared and encoded in the background (cancellable, with progress). False
        while a job still runs."""
        model = self.session.model
        what = f"{count:,} generated faces" if spec == BUILTIN else spec
        if self.job.busy:
            return False
        self._pending = (str(spec), count if spec in (BUILTIN, DRAWN) else 0)
        self._offer(self._pending)  # the choices name the folder being mapped, however it was chosen
        if spec == DRAWN:  # a thousand draws from the prior and their PCA: milliseconds
            self._loaded(drawn_map(self.session.state.prior, count))
            return True
        self._computing = "encode"
        self.status.setText(f"Encoding {what}…")
        return self.job.start(
            lambda control: build_map(
                model,
                spec,
                min_points=MIN_POINTS,
                builtin_count=count or BUILTIN_COUNT,
                control=control,
                limit=None if spec == BUILTIN else MAX_POINTS,
            )
        )

    def _finished(self, result) -> None:
        what, self._computing = self._computing, None
        if what == "encode":
            self._loaded(result)
        else:
            face_set, projection, xy = result
            self.layouts.put(face_set, projection, xy)
            self._sync()

    def _loaded(self, latent_map) -> None:
        self.session.set_map_faces(latent_map)  # for the model open, or one of its latent space (see ModelJob)
        self._shows_drawn_faces = latent_map.drawn
        self._mapped = self._pending
        if self.settings is not None:  # the next launch maps the same folder first (faces drawn or built: none)
            folder = self._mapped[0] if self._mapped[0] not in (BUILTIN, DRAWN) else ""
            self.settings.setValue(LAST_FOLDER_KEY, folder)
        self._clear_preview()
        self._fill_colours(latent_map.attributes)
        self.session.report(f"map: {'' if latent_map.drawn else 'encoded '}{self._faces_text()}")
        self._sync()

    def _failed(self, exc: BaseException) -> None:
        what, self._computing = self._computing, None
        message = describe_error(exc)
        if what == "tsne":
            self.layouts.choose("pca")
            message = f"t-SNE failed: {message}"
        else:
            self._offer(self._mapped)  # the choices show the faces still mapped
        self.set_projection(self.layouts.projection)
        self.status.setText(f"⚠ {message}")
        self.error.emit(message)

    def _cancel_clicked(self) -> None:
        if self._computing == "tsne":
            self.set_projection("pca")  # a cancelled t-SNE leaves the PCA map

    def _cancelled(self) -> None:
        what, self._computing = self._computing, None
        self._sync()
        if what == "encode":
            self._offer(self._mapped)
            self.status.setText("Cancelled: nothing was encoded.")
        elif what == "tsne" and self.layouts.projection == "pca":
            self.session.report("t-SNE cancelled: the map is laid out by PCA")

    def _sync(self) -> None:
        """Bring the plot to the chosen layout: from the cache, PCA at once, or t-SNE started as a job."""
        projection = self.layouts.projection
        if self._computing == "tsne" and projection != "tsne":
            self.job.cancel()
        if self.map is not None:
            if self.layouts.get(self.map.face_set, "pca") is None:
                self.layouts.put(self.map.face_set, "pca", self.map.xy.numpy())
            self.redraw()  # the chosen layout, or PCA until it is ready
            if self.layouts.get(self.map.face_set) is not None:
                self._describe()
            elif not self.job.busy:
                self._start_tsne()
        if not self.job.busy:
            self.settled.emit()

    def shown_projection(self) -> str:
        """The projection on screen: the chosen one once computed, PCA until then."""
        ready = self.map is not None and self.layouts.get(self.map.face_set) is not None
        return self.layouts.projection if ready else "pca"

    def _start_tsne(self) -> None:
        latents, face_set = self.map.mu.numpy().copy(), self.map.face_set
        self.status.setText(f"Laying out {len(latents):,} faces by t-SNE (once for this model and these faces)…")
        self._computing = "tsne"
        self.job.start(
            lambda control: (
                face_set,
                "tsne",
                tsne_2d(latents, control=control),
            )
        )

    def _describe(self) -> None:
        trained_on = self.session.checkpoint.dataset.get("source")
        foreign = self._mapped[0] == BUILTIN and bool(trained_on) and not is_builtin_source(trained_on)
        self.status.setText(
            f"{self._faces_text()}, laid out by {PROJECTIONS[self.layouts.projection]}. "
            "Point at a face to see it; click to use it (the dropdown says where it goes)."
            + (" This model learnt from other faces and redraws generated ones roughly." if foreign else "")
        )

    def redraw(self) -> None:
        self.legend.clear()
        self.legend.hide()
        if self.map is None:
            return
        on_screen = self.shown_projection()
        if on_screen != self._drawn:  # the points moved: the face last pointed at is no longer under the pointer
            self._clear_preview()
            self._drawn = on_screen
        xy = self.layouts.get(self.map.face_set, on_screen)
        name = self.colour.currentData()
        plain = pg.mkBrush(*PLAIN, 170)
        if name is None or name not in self.map.attributes:
            brushes = [plain] * len(self.map)
        else:
            values = self.map.attribute(name).tolist()
            palette = {}
            table = name in self.map.table
            for v in sorted(set(values)):
                rgb = (
                    attributes.table_colour(name, self.map.class_name(name, v)) if table else attributes.colour(name, v)
                )
                if v < 0:
                    palette[v] = pg.mkBrush(200, 200, 200, 120)
                elif rgb is not None:
                    palette[v] = pg.mkBrush(*rgb, 220)
                else:
                    palette[v] = pg.mkBrush(pg.intColor(v, hues=self.map.class_count(name), alpha=200))
            brushes = [palette[v] for v in values]
            shown = sorted(v for v in palette if v >= 0)
            for v in shown[:16]:
                sample = pg.ScatterPlotItem(size=10, brush=palette[v], pen=pg.mkPen("#707070", width=0.5))
                self.legend.addItem(sample, self.map.class_name(name, v))
            if len(shown) > 16:
                self.legend.addItem(pg.ScatterPlotItem(size=0), f"… {len(shown) - 16} more")
        self.legend.setVisible(bool(self.legend.items))
        self._set_axes(on_screen)
        self.scatter.setData(x=xy[:, 0], y=xy[:, 1], brush=brushes, data=list(range(len(self.map))))

    def describe_point(self, k: int) -> str:
        """The hover label: the file name and, for labelled faces, its attributes in words."""
        name = Path(self.map.cache.files[self.map.indices[k]]).name
        if not self.map.attributes:
            return name
        chosen = self.colour.currentData()
        named = ("hair_color", "face_color", "glasses", "facial_hair", "eye_color") if self.map.cache.has_labels else ()
        keys = ([chosen] if chosen else []) + [a for a in named or self.map.attributes if a != chosen]
        words = [f"{attributes.title(a)}: {self.map.class_name(a, int(self.map.attribute(a)[k]))}" for a in keys]
        return name + "\n" + "\n".join(words)

    def nearest_point(self, scene_pos) -> int | None:
        """The face whose dot lies nearest ``scene_pos`` (scene coordinates), within :data:`SNAP_PX` screen pixels."""
        if self.map is None or not len(self.scatter.data):
            return None
        view = self.plot.getPlotItem().getViewBox()
        if not view.sceneBoundingRect().contains(scene_pos):
            return None
        at = view.mapSceneToView(scene_pos)
        width, height = view.viewPixelSize()
        squared = ((self.scatter.data["x"] - at.x()) / width) ** 2 + ((self.scatter.data["y"] - at.y()) / height) ** 2
        nearest = int(np.argmin(squared))
        return int(self.scatter.data["data"][nearest]) if squared[nearest] <= SNAP_PX**2 else None

    def _pointer_moved(self, scene_pos) -> None:
        k = self.nearest_point(scene_pos)
        if k is None:
            self.ring.clear()  # the last face pointed at stays in the preview
            return
        self.ring.setData([self.scatter.data["x"][k]], [self.scatter.data["y"][k]])
        self.show_point(k)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Leave:
            self.ring.clear()
        return super().eventFilter(watched, event)

    def _plot_clicked(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            k = self.nearest_point(event.scenePos())
            if k is not None:
                self.pick(k)

    def show_point(self, k: int) -> None:
        """Show map face ``k`` beside the map: the face, and the model's drawing of it (what a click sends)."""
        if k == self._hovered_point:  # the pointer moved within the same point: nothing new to draw
            return
        self._hovered_point = k
        drawn = self.session.render(self.map.slot(k).latent)
        self.preview_label.setText(self.describe_point(k))
        if self.map.drawn:  # the face is the model's drawing: nothing else to set beside it
            self.preview.set_image(drawn)
            return
        self.preview.set_image(self.map.image(k))
        self.drawn.set_image(drawn)
        self.drawn_label.setText("As the model draws it (a click sends this face)")

    def pick(self, point: int) -> None:
        """Send map point ``point`` to the chosen target."""
        self.picked.emit(self.target.currentData(), self.map.slot(point))
