"""Latent map: validation faces' μ in 2-D (PCA), coloured by an attribute; hover to see, click to use."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from vae.cache import BUILTIN
from vae.cartoonset import ATTRIBUTE_NAMES, VARIANTS
from vae.latent_map import build_map

from .explore_panel import FaceView
from .workers import Background

TARGETS = {"explorer": "Explorer", "a": "Morph face A", "b": "Morph face B"}


class MapPanel(QWidget):
    """Scatter of encoded validation faces; encoding runs off the GUI thread."""

    picked = Signal(str, object)  # target ("explorer" | "a" | "b"), FaceSlot
    error = Signal(str)

    def __init__(self, context):
        super().__init__()
        self.context = context
        self.map = None
        self.source = QComboBox()
        self.source.addItem("Built-in faces (validation split)", BUILTIN)
        self.source.addItem("Folder…", "folder")
        self.load_button = QPushButton("Encode faces")
        self.status = QLabel("Encode a dataset's validation faces to see where they lie in latent space.")
        self.colour = QComboBox()
        self.colour.addItem("no colouring", None)
        for name in ATTRIBUTE_NAMES:
            self.colour.addItem(f"colour by {name.replace('_', ' ')}", name)
        self.target = QComboBox()
        for key, label in TARGETS.items():
            self.target.addItem(f"click sends to {label}", key)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "principal component 1")
        self.plot.setLabel("left", "principal component 2")
        self.scatter = pg.ScatterPlotItem(size=7, hoverable=True, hoverSize=12, hoverPen=pg.mkPen("k", width=1.5),
                                          pen=pg.mkPen(None))
        self.plot.addItem(self.scatter)
        self.preview = FaceView(minimum=200)
        self.preview_label = QLabel("hover a point")
        self.background = Background(self)

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
        layout.addLayout(body, 1)

        self.load_button.clicked.connect(self._ask_load)
        self.colour.currentIndexChanged.connect(lambda _: self.redraw())
        self.scatter.sigHovered.connect(self._hovered)
        self.scatter.sigClicked.connect(self._clicked)
        self.background.finished.connect(self._loaded)
        self.background.error.connect(self._failed)

    def reset_for_session(self) -> None:
        self.map = None
        self.scatter.clear()
        self.status.setText("Encode a dataset's validation faces to see where they lie in latent space.")

    def _ask_load(self) -> None:
        spec = self.source.currentData()
        if spec == "folder":
            spec = QFileDialog.getExistingDirectory(self, "Dataset folder")
            if not spec:
                return
        self.load(spec)

    def load(self, spec: str) -> bool:
        """Start encoding the validation faces of ``spec`` in the background."""
        self.status.setText(f"encoding the validation faces of {spec}… (the built-in set is generated on first use)")
        self.load_button.setEnabled(False)
        return self.background.start(build_map, self.context.session.model, spec)

    def _loaded(self, latent_map) -> None:
        self.map = latent_map
        self.load_button.setEnabled(True)
        self.status.setText(f"{len(latent_map)} validation faces of {latent_map.cache.meta.get('source')}")
        self.redraw()

    def _failed(self, message: str) -> None:
        self.load_button.setEnabled(True)
        self.status.setText(f"⚠ {message}")
        self.error.emit(message)

    def redraw(self) -> None:
        if self.map is None:
            return
        name = self.colour.currentData()
        if name is None or not self.map.cache.has_labels:
            brushes = [pg.mkBrush(31, 119, 180, 170)] * len(self.map)
        else:
            values = self.map.attribute(name).tolist()
            brushes = [pg.mkBrush(200, 200, 200, 120) if v < 0 else pg.mkBrush(pg.intColor(v, hues=VARIANTS[name], alpha=190))
                       for v in values]
        xy = self.map.xy.numpy()
        self.scatter.setData(x=xy[:, 0], y=xy[:, 1], brush=brushes, data=list(range(len(self.map))))

    def _hovered(self, item, points, event) -> None:
        if self.map is None or len(points) == 0:
            return
        k = int(points[0].data())
        self.preview.set_image(self.map.image(k))
        self.preview_label.setText(self.map.cache.files[self.map.indices[k]])

    def _clicked(self, item, points, event) -> None:
        if self.map is not None and len(points):
            self.pick(int(points[0].data()))

    def pick(self, point: int) -> None:
        """Send map point ``point`` to the chosen target."""
        self.picked.emit(self.target.currentData(), self.map.slot(point))
