"""File dialogs shared by the panels."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from vae import export


def ask_save_path(parent: QWidget, title: str, default_name: str, file_filter: str, suffix: str) -> str | None:
    """A save path ending in ``suffix``; an existing file is only replaced if the user agrees."""
    path, _ = QFileDialog.getSaveFileName(parent, title, default_name, file_filter,
                                          options=QFileDialog.Option.DontConfirmOverwrite)
    if not path:
        return None
    if not path.lower().endswith(suffix):
        path += suffix
    if Path(path).exists():
        answer = QMessageBox.question(parent, "Replace file?", f"{path} already exists. Replace it?")
        if answer != QMessageBox.StandardButton.Yes:
            return None
    return path


def export_face(panel, path: str, image, size: int, latent, checkpoint_name: str) -> bool:
    """Write one face PNG (+ latent JSON); on failure emit ``panel.error`` and return False."""
    try:
        export.save_face(path, image, size, latent, checkpoint_name)
    except (export.ExportError, ValueError) as exc:
        panel.error.emit(str(exc))
        return False
    return True
