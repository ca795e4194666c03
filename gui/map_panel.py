"""Latent map: dataset faces' μ in 2-D (PCA), coloured by an attribute with a legend; hover to see, click to use."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from vae.cache import BUILTIN, BUILTIN_COUNT, BUILTIN_SEED, cache_root
from vae.cartoonset import ATTRIBUTE_NAMES, VARIANTS
from vae.latent_map import MAX_POINTS, build_map
from vae.session import ExplorerSession
from vae.synth import SYNTH_VERSION

from . import attributes
from .controls import plain_label
from .dialogs import ask_folder
from .widgets import FaceView, JobProgress, legend_beside
from .workers import ModelJob, describe_error

QUICK_COUNT = 1000  # faces generated for the Map when nothing else is at hand (seconds, not minutes)
MIN_POINTS = 500
TARGETS = {
    "explorer": "sends to the Explorer",
    "a": "sets Morph face A",
    "b": "sets Morph face B",
    "with": "adds an example WITH a trait",
    "without": "adds an example WITHOUT it",
}
PLAIN = (31, 119, 180)


def builtin_ready(count: int = BUILTIN_COUNT) -> bool:
    """Whether the built-in faces of ``count`` are already generated (so the Map can use them at once)."""
    return (cache_root() / f"builtin-s{BUILTIN_SEED}-n{count}-v{SYNTH_VERSION}" / ".complete").exists()


def map_sources(session: ExplorerSession) -> list[tuple[str, tuple[str, int]]]:
    """(label, (spec, builtin count)) choices, quickest first: the model's own training folder when it is on
    this computer, the built-in faces when they are already made, else a quick generated sample."""
    sources = []
    trained_on = session.checkpoint.dataset.get("source")
    if trained_on and Path(str(trained_on)).is_dir():
        sources.append(
            (f"The model's training faces (first {MAX_POINTS:,} of {Path(trained_on).name})", (str(trained_on), 0))
        )
    if builtin_ready():
        sources.append((f"Built-in faces (validation split of {BUILTIN_COUNT:,})", (BUILTIN, BUILTIN_COUNT)))
    sources.append((f"Quick sample: {QUICK_COUNT:,} generated faces", (BUILTIN, QUICK_COUNT)))
    sources.append(("Folder…", ("folder", 0)))
    return sources


class MapPanel(QWidget):
    """Scatter of encoded dataset faces; preparation and encoding run as a cancellable job."""

    picked = Signal(str, object)  # target ("explorer" | "a" | "b" | "with" | "without"), FaceSlot
    error = Signal(str)

    def __init__(self, session: ExplorerSession, settings=None):
        super().__init__()
        self.session = session
        self.settings = settings
        self.map = None
        self.source = QComboBox()
        self.load_button = QPushButton("Encode faces")
        self.status = plain_label()
        self.status.setWordWrap(True)
        self.colour = QComboBox()
        self.colour.setMinimumContentsLength(24)
        self.colour.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.target = QComboBox()
        for key, label in TARGETS.items():
            self.target.addItem(f"click {label}", key)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "principal component 1")
        self.plot.setLabel("left", "principal component 2")
        self.scatter = pg.ScatterPlotItem(
            size=7, hoverable=True, hoverSize=12, hoverPen=pg.mkPen("k", width=1.5), pen=pg.mkPen(None), tip=None
        )
        self.plot.addItem(self.scatter)
        self.legend = legend_beside(self.plot.getPlotItem())
        self.preview = FaceView(minimum=200)
        self.preview_label = plain_label("Point at a face")
        self.preview_label.setWordWrap(True)
        self.preview_label.setMinimumWidth(200)
        self.job = ModelJob(session, "latent map", self)
        self.job_progress = JobProgress(self.job)

        top = QHBoxLayout()
        for w in (self.source, self.load_button, self.colour, self.target):
            top.addWidget(w)
        top.addStretch(1)
        side = QVBoxLayout()
        side.addWidget(self.preview)
        side.addWidget(self.preview_label)
        side.addStretch(1)
        body = QHBoxLayout()
        body.addWidget(self.plot, 3)
        body.addLayout(side, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.job_progress)
        layout.addLayout(body, 1)

        self.load_button.clicked.connect(self._ask_load)
        self.colour.currentIndexChanged.connect(lambda _: self.redraw())
        self.scatter.sigHovered.connect(self._hovered)
        self.scatter.sigClicked.connect(self._clicked)
        self.job.finished.connect(self._loaded)
        self.job.errored.connect(self._failed)
        self.job.cancelled.connect(lambda: self.status.setText("Cancelled: nothing was encoded."))
        self.job.running_changed.connect(lambda running: self.load_button.setEnabled(not running))
        self._unsubscribe = [session.model_changed.connect(self.clear)]
        self.destroyed.connect(lambda: [unsubscribe() for unsubscribe in self._unsubscribe])
        self.clear()

    def faces(self):
        """The encoded faces, if any (a source for face pickers)."""
        return self.map

    def clear(self) -> None:
        """A clean state: no points, no stale face, no colouring, sources for the current model."""
        self.job.cancel()
        self.map = None
        self.scatter.clear()
        self.legend.clear()
        self.legend.hide()
        self.preview.set_image(None)
        self.preview_label.setText("Point at a face")
        self.source.clear()
        for label, data in map_sources(self.session):
            self.source.addItem(label, data)
        self._fill_colours(labelled=False)
        self.status.setText("Encode a set of faces to see where they lie in the model's latent space.")

    def _fill_colours(self, labelled: bool) -> None:
        self.colour.blockSignals(True)
        self.colour.clear()
        self.colour.addItem("no colouring", None)
        if labelled:
            for name in ATTRIBUTE_NAMES:
                self.colour.addItem(f"colour by {attributes.title(name)}", name)
        self.colour.setEnabled(labelled)
        self.colour.setToolTip("" if labelled else "These faces have no Cartoon Set labels to colour by")
        self.colour.blockSignals(False)

    def _ask_load(self) -> None:
        spec, count = self.source.currentData()
        if spec == "folder":
            spec = ask_folder(self, "dataset", "Faces to map", self.settings)
            if not spec:
                return
        self.load(spec, count)

    def load(self, spec: str, builtin_count: int = BUILTIN_COUNT) -> bool:
        """Start preparing and encoding the faces of ``spec`` in the background (cancellable, with progress)."""
        model = self.session.model
        what = f"{builtin_count:,} generated faces" if spec == BUILTIN else spec
        self.status.setText(f"Encoding {what}…")
        return self.job.start(
            lambda control: build_map(
                model,
                spec,
                min_points=MIN_POINTS,
                builtin_count=builtin_count or BUILTIN_COUNT,
                should_stop=control.should_stop,
                progress_cb=control.progress,
                limit=None if spec == BUILTIN else MAX_POINTS,
            )
        )

    def _loaded(self, latent_map) -> None:
        self.map = latent_map  # encoded with the model still open (see ModelJob)
        self._fill_colours(latent_map.cache.has_labels)
        source = latent_map.cache.meta.get("source")
        self.status.setText(
            f"{len(latent_map):,} faces of {source}. Point at a face to see it; "
            "click to use it (the dropdown says where it goes)."
        )
        self.session.report(f"map: encoded {len(latent_map):,} faces of {source}")
        self.redraw()

    def _failed(self, exc: BaseException) -> None:
        message = describe_error(exc)
        self.status.setText(f"⚠ {message}")
        self.error.emit(message)

    def redraw(self) -> None:
        self.legend.clear()
        self.legend.hide()
        if self.map is None:
            return
        name = self.colour.currentData()
        plain = pg.mkBrush(*PLAIN, 170)
        if name is None or not self.map.cache.has_labels:
            brushes = [plain] * len(self.map)
        else:
            values = self.map.attribute(name).tolist()
            palette = {}
            for v in sorted(set(values)):
                rgb = attributes.colour(name, v)
                if v < 0:
                    palette[v] = pg.mkBrush(200, 200, 200, 120)
                elif rgb is not None:
                    palette[v] = pg.mkBrush(*rgb, 220)
                else:
                    palette[v] = pg.mkBrush(pg.intColor(v, hues=VARIANTS[name], alpha=200))
            brushes = [palette[v] for v in values]
            shown = sorted(v for v in palette if v >= 0)
            for v in shown[:16]:
                sample = pg.ScatterPlotItem(size=10, brush=palette[v], pen=pg.mkPen("#707070", width=0.5))
                self.legend.addItem(sample, attributes.value_name(name, v))
            if len(shown) > 16:
                self.legend.addItem(pg.ScatterPlotItem(size=0), f"… {len(shown) - 16} more")
        self.legend.setVisible(bool(self.legend.items))
        xy = self.map.xy.numpy()
        self.scatter.setData(x=xy[:, 0], y=xy[:, 1], brush=brushes, data=list(range(len(self.map))))

    def describe_point(self, k: int) -> str:
        """The hover label: the file name and, for labelled faces, its attributes in words."""
        name = Path(self.map.cache.files[self.map.indices[k]]).name
        if not self.map.cache.has_labels:
            return name
        labels = self.map.labels[k].tolist()
        chosen = self.colour.currentData()
        keys = ([chosen] if chosen else []) + [
            a for a in ("hair_color", "face_color", "glasses", "facial_hair", "eye_color") if a != chosen
        ]
        words = [f"{attributes.title(a)}: {attributes.value_name(a, labels[ATTRIBUTE_NAMES.index(a)])}" for a in keys]
        return name + "\n" + "\n".join(words)

    def _hovered(self, item, points, event) -> None:
        if self.map is None or len(points) == 0:
            return
        k = int(points[0].data())
        self.preview.set_image(self.map.image(k))
        self.preview_label.setText(self.describe_point(k))

    def _clicked(self, item, points, event) -> None:
        if self.map is not None and len(points):
            self.pick(int(points[0].data()))

    def pick(self, point: int) -> None:
        """Send map point ``point`` to the chosen target."""
        self.picked.emit(self.target.currentData(), self.map.slot(point))
