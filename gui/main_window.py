"""The main window: menus, shortcuts, status bar, and the Explore/Train/Morph/Arithmetic panels."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget

from vae.checkpoint import CheckpointError
from vae.data import IMAGE_SUFFIXES
from vae.session import ExplorerSession

from .arithmetic_panel import ArithmeticPanel
from .explore_panel import ExplorePanel
from .map_panel import MapPanel
from .morph_panel import MorphPanel
from .train_panel import TrainPanel

APP_NAME = "Face Explorer"
PANELS = ("explore", "train", "morph", "arithmetic", "map")
MAX_RECENT = 8


class MainWindow(QMainWindow):
    """Face Explorer's window over one :class:`ExplorerSession` at a time."""

    def __init__(self, session: ExplorerSession, settings: QSettings | None = None):
        super().__init__()
        self.settings = settings or QSettings("FaceExplorer", "FaceExplorer")
        self.session = session
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)

        self.explore = ExplorePanel()
        self.train = TrainPanel()
        self.morph = MorphPanel(self)
        self.arithmetic = ArithmeticPanel(self)
        self.map_panel = MapPanel(self)
        self.tabs = QTabWidget()
        for panel, title in ((self.explore, "Explore"), (self.train, "Train"), (self.morph, "Morph"),
                             (self.arithmetic, "Arithmetic"), (self.map_panel, "Map")):
            self.tabs.addTab(panel, title)
        self.setCentralWidget(self.tabs)
        self.facts_label = QLabel()
        self.statusBar().addPermanentWidget(self.facts_label)

        for panel in (self.explore, self.morph, self.arithmetic, self.map_panel):
            panel.error.connect(self.show_error)
        self.train.model_ready.connect(self.load_checkpoint)
        self.morph.send_to_explorer.connect(self.send_to_explorer)
        self.arithmetic.send_to_explorer.connect(self.send_to_explorer)
        self.map_panel.picked.connect(self._map_picked)
        self._build_menus()
        self._set_session(session)
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)

    # ------------------------------------------------------------ menus
    def _action(self, text: str, slot, shortcut=None, menu=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action("&Open checkpoint…", self._ask_checkpoint, QKeySequence.StandardKey.Open, file_menu)
        self._action("Open &dataset folder…", self._ask_dataset, None, file_menu)
        self.recent_menu = file_menu.addMenu("Recent folders")
        self._action("&Export PNG…", lambda: self.explore.ask_export(), "Ctrl+E", file_menu)
        file_menu.addSeparator()
        self._action("&Quit", self.close, QKeySequence.StandardKey.Quit, file_menu)

        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action("&Undo", lambda: self.session.state.undo(), "Ctrl+Z", edit_menu)
        self.redo_action = self._action("&Redo", lambda: self.session.state.redo(), "Ctrl+Shift+Z", edit_menu)
        edit_menu.addSeparator()
        self._action("&Random face", self.explore.randomize, "R", edit_menu)
        self._action("Re&set", lambda: self.session.state.reset(), "Home", edit_menu)

        help_menu = self.menuBar().addMenu("&Help")
        self._action("&About Face Explorer", self.show_about, None, help_menu)
        self._refresh_recent()

    def _refresh_history_actions(self) -> None:
        self.undo_action.setEnabled(self.session.state.can_undo)
        self.redo_action.setEnabled(self.session.state.can_redo)

    # ------------------------------------------------------------ model
    def _set_session(self, session: ExplorerSession) -> None:
        self.session = session
        self.explore.set_session(session)
        for panel in (self.morph, self.arithmetic, self.map_panel):
            panel.reset_for_session()
        session.state.subscribe(self._refresh_history_actions)
        self._refresh_history_actions()
        facts = session.facts()
        ssim = f"{facts['val_ssim']:.3f}" if facts["val_ssim"] is not None else "–"
        self.facts_label.setText(
            f"{facts['checkpoint']} · data: {facts['dataset']} · {facts['image_size']}×{facts['image_size']} · "
            f"latent {facts['latent_dim']} · {facts['epochs']} epochs · val SSIM {ssim}")
        self.setWindowTitle(f"{APP_NAME} — {facts['checkpoint']}")

    def load_checkpoint(self, path: str) -> bool:
        """Open a checkpoint; on failure show why and keep the current model."""
        try:
            session = ExplorerSession.open(path)
        except CheckpointError as exc:
            self.show_error(str(exc))
            return False
        self._set_session(session)
        self.statusBar().showMessage(f"loaded {path}", 5000)
        return True

    def _ask_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", "", "Checkpoints (*.pt);;All files (*)")
        if path:
            self.load_checkpoint(path)

    def _ask_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open dataset folder")
        if folder:
            self.open_dataset_folder(folder)

    def open_dataset_folder(self, folder: str) -> None:
        """Choose a folder for training (Train panel) and remember it."""
        recent = [f for f in self.recent_folders() if f != folder]
        self.settings.setValue("recent_folders", [folder] + recent[: MAX_RECENT - 1])
        self._refresh_recent()
        self.train.set_folder(folder)
        self.show_panel("train")

    def recent_folders(self) -> list[str]:
        value = self.settings.value("recent_folders") or []
        return [value] if isinstance(value, str) else list(value)

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.recent_folders():
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda checked=False, f=folder: self.open_dataset_folder(f))
        self.recent_menu.setEnabled(bool(self.recent_folders()))

    def send_to_explorer(self, latent) -> None:
        self.session.state.set_values(latent)
        self.show_panel("explore")

    def _map_picked(self, target: str, slot) -> None:
        if target == "explorer":
            self.send_to_explorer(slot.latent)
        else:
            (self.morph.slot_a if target == "a" else self.morph.slot_b).set_slot(slot)
            self.show_panel("morph")

    def map_faces(self):
        """The faces encoded in the Map panel, if any (a source for face slots)."""
        return self.map_panel.map

    # ------------------------------------------------------------ misc
    def show_panel(self, name: str) -> None:
        self.tabs.setCurrentIndex(PANELS.index(name))

    def show_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        QMessageBox.warning(self, APP_NAME, message)

    def show_about(self) -> None:
        facts = self.session.facts()
        lines = "".join(f"<tr><td>{k.replace('_', ' ')}</td><td>{v}</td></tr>" for k, v in facts.items())
        QMessageBox.about(self, f"About {APP_NAME}",
                          f"<h3>{APP_NAME}</h3><p>Train a VAE on cartoon faces and explore its latent space.</p>"
                          f"<table>{lines}</table>")

    def dragEnterEvent(self, event):
        urls = event.mimeData().urls()
        if urls and Path(urls[0].toLocalFile()).suffix.lower() in IMAGE_SUFFIXES:
            event.acceptProposedAction()

    def dropEvent(self, event):
        path = event.mimeData().urls()[0].toLocalFile()
        if self.explore.encode_path(path):
            self.show_panel("explore")

    def closeEvent(self, event):
        self.train.shutdown()
        for background in (self.morph.background, self.arithmetic.background, self.map_panel.background):
            background.wait()
        self.settings.setValue("geometry", self.saveGeometry())
        super().closeEvent(event)
