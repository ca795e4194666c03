"""File dialogs shared by the panels (they start in the last folder used for that kind of file), and message
boxes that show their text as it is."""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff)"
LATENT_FILTER = "Latent JSON (*.json)"
CHECKPOINT_FILTER = "Checkpoints (*.pt);;All files (*)"

_settings: QSettings | None = None  # the app's settings; set by the main window


def use_settings(settings: QSettings) -> None:
    """Remember last folders in ``settings`` (the main window's)."""
    global _settings
    _settings = settings


def _store(settings: QSettings | None) -> QSettings:
    return settings or _settings or QSettings("FaceExplorer", "FaceExplorer")


def default_folder(kind: str) -> str:
    """Where a dialog for ``kind`` opens the first time: Pictures for images, else the home folder."""
    if kind in ("image", "export"):
        pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
        if pictures and Path(pictures).is_dir():
            return pictures
    return str(Path.home())


def last_folder(kind: str, settings: QSettings | None = None) -> str:
    folder = _store(settings).value(f"folders/{kind}")
    return str(folder) if folder and Path(str(folder)).is_dir() else default_folder(kind)


def remember_folder(kind: str, path: str, settings: QSettings | None = None) -> None:
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    _store(settings).setValue(f"folders/{kind}", str(folder))


def ask_open_path(
    parent: QWidget, kind: str, title: str, file_filter: str, settings: QSettings | None = None
) -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, title, last_folder(kind, settings), file_filter)
    if path:
        remember_folder(kind, path, settings)
    return path or None


def ask_folder(parent: QWidget, kind: str, title: str, settings: QSettings | None = None) -> str | None:
    folder = QFileDialog.getExistingDirectory(parent, title, last_folder(kind, settings))
    if folder:
        remember_folder(kind, folder, settings)
    return folder or None


def ask_save_path(
    parent: QWidget,
    title: str,
    default_name: str,
    file_filter: str,
    suffix: str,
    kind: str = "export",
    settings: QSettings | None = None,
) -> str | None:
    """A save path ending in ``suffix``; an existing file is only replaced if the user agrees."""
    start = str(Path(last_folder(kind, settings)) / default_name)
    path, _ = QFileDialog.getSaveFileName(
        parent, title, start, file_filter, options=QFileDialog.Option.DontConfirmOverwrite
    )
    if not path:
        return None
    if not path.lower().endswith(suffix):
        path += suffix
    if Path(path).exists():
        if not ask(parent, "Replace file?", f"{path} already exists. Replace it?"):
            return None
    if can_create_files_in(Path(path).parent):  # a folder the export cannot write to is not offered again
        remember_folder(kind, path, settings)
    return path


def can_create_files_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder``: tried, since permission bits do not bind root."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def message_box(
    parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str, buttons=QMessageBox.StandardButton.Ok
) -> QMessageBox:
    """A message box showing ``text`` as plain text: a path or a checkpoint's name is never read as HTML."""
    box = QMessageBox(icon, title, text, buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    return box


def warn(parent: QWidget | None, title: str, text: str) -> None:
    """Show a warning (plain text) and wait for OK."""
    message_box(parent, QMessageBox.Icon.Warning, title, text).exec()


def ask(parent: QWidget | None, title: str, text: str) -> bool:
    """Ask a yes/no question (plain text); True for Yes."""
    box = message_box(
        parent, QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    )
    return QMessageBox.StandardButton(box.exec()) == QMessageBox.StandardButton.Yes
