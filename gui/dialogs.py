"""File dialogs shared by the panels (they start in the last folder used for that kind of file), and message
boxes that show their text as it is.

Where Qt draws the file dialog itself (no platform dialog), its icons come from :class:`PlainIconProvider`,
which never opens a file: Qt's own provider reads a file to guess its type, and reading ``/proc/kmsg`` as
root waits for the next kernel message, which froze the app when the user typed /proc in the dialog.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path

from PySide6.QtCore import QFileInfo, QSettings, QSize, QStandardPaths, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QFileDialog, QFileIconProvider, QMessageBox, QWidget

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff)"
LATENT_FILTER = "Latent JSON (*.json)"
STILL_FILTER = "PNG image (*.png);;JPEG image (*.jpg *.jpeg);;WebP image (*.webp)"
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


def last_folder(kind: str, settings: QSettings | None = None, first: str | None = None) -> str:
    """The folder a ``kind`` dialog was last left in, else ``first`` (when a folder), else :func:`default_folder`."""
    folder = _store(settings).value(f"folders/{kind}")
    if folder and Path(str(folder)).is_dir():
        return str(folder)
    return first if first and Path(first).is_dir() else default_folder(kind)


def remember_folder(kind: str, path: str, settings: QSettings | None = None) -> None:
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    _store(settings).setValue(f"folders/{kind}", str(folder))


class PlainIconProvider(QFileIconProvider):
    """Icons and type names from what a file is (folder, drive, file) and its name's suffix, never its content."""

    def icon(self, what):
        if not isinstance(what, QFileInfo):
            return super().icon(what)  # an icon type: the style's icon, nothing is read
        if what.isRoot():
            return super().icon(QFileIconProvider.IconType.Drive)
        kind = QFileIconProvider.IconType.Folder if what.isDir() else QFileIconProvider.IconType.File
        return super().icon(kind)

    def type(self, info: QFileInfo) -> str:
        if info.isDir():
            return "Folder"
        suffix = info.suffix()
        return f"{suffix.upper()} file" if suffix else "File"


_ICONS = PlainIconProvider()
FILE_DIALOG_SIZE = QSize(880, 540)


def file_dialog(
    parent: QWidget | None,
    title: str,
    start: str,
    mode: QFileDialog.FileMode,
    file_filter: str = "",
    save: bool = False,
) -> QFileDialog:
    """A file dialog with :class:`PlainIconProvider`; a save dialog leaves asking about replacing to the caller."""
    dialog = QFileDialog(parent, title, start, file_filter)
    dialog.setIconProvider(_ICONS)
    screen = (parent.screen() if parent is not None else QGuiApplication.primaryScreen()).availableSize()
    dialog.resize(dialog.size().expandedTo(FILE_DIALOG_SIZE).boundedTo(screen))  # Qt's own is too narrow
    dialog.setFileMode(mode)
    if mode == QFileDialog.FileMode.Directory:
        dialog.setOption(QFileDialog.Option.ShowDirsOnly)
    if save:
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setOption(QFileDialog.Option.DontConfirmOverwrite)
    return dialog


def choose(dialog: QFileDialog) -> str | None:
    """Show ``dialog`` and wait: the chosen path, or None when cancelled."""
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        chosen = dialog.selectedFiles()
        return chosen[0] if chosen else None
    finally:
        dialog.deleteLater()


def ask_open_path(
    parent: QWidget,
    kind: str,
    title: str,
    file_filter: str,
    settings: QSettings | None = None,
    first: str | None = None,
) -> str | None:
    """An existing file chosen by the user (None if cancelled); the dialog opens where the last ``kind`` dialog
    was left, the first time in ``first`` when given."""
    mode = QFileDialog.FileMode.ExistingFile
    path = choose(file_dialog(parent, title, last_folder(kind, settings, first), mode, file_filter))
    if path:
        remember_folder(kind, path, settings)
    return path


def ask_folder(parent: QWidget, kind: str, title: str, settings: QSettings | None = None) -> str | None:
    folder = choose(file_dialog(parent, title, last_folder(kind, settings), QFileDialog.FileMode.Directory))
    if folder:
        remember_folder(kind, folder, settings)
    return folder


def ask_save_path(
    parent: QWidget,
    title: str,
    default_name: str,
    file_filter: str,
    suffix: str,
    kind: str = "export",
    settings: QSettings | None = None,
) -> str | None:
    """A save path ending in one of ``file_filter``'s suffixes: a name with none of them gets the chosen filter's
    first (``suffix`` where it names none), so "face.jpg" stays a JPEG and "face" becomes "face.png". An existing
    file is only replaced if the user agrees."""
    start = str(Path(last_folder(kind, settings)) / default_name)
    dialog = file_dialog(parent, title, start, QFileDialog.FileMode.AnyFile, file_filter, save=True)
    path = choose(dialog)
    if not path:
        return None
    if not path.lower().endswith(tuple(filter_suffixes(file_filter)) or suffix):
        path += (filter_suffixes(dialog.selectedNameFilter()) or [suffix])[0]
    if Path(path).exists():
        if not ask(parent, "Replace file?", f"{path} already exists. Replace it?"):
            return None
    if can_create_files_in(Path(path).parent):  # a folder the export cannot write to is not offered again
        remember_folder(kind, path, settings)
    return path


def filter_suffixes(file_filter: str) -> list[str]:
    """The suffixes a file dialog's filter names, in order: "JPEG image (*.jpg *.jpeg)" → [".jpg", ".jpeg"]."""
    return re.findall(r"\*(\.[\w.]+)", file_filter)


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


def refuse(widget, what: str, exc: Exception) -> None:
    """A file the user chose cannot be read or written: one warning line in the log (as a background job's bad
    input gets, named after ``what``), and ``widget.error`` shows it."""
    logging.getLogger("face_explorer").warning("%s: %s", what, exc)
    widget.error.emit(str(exc))
