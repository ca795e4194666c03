"""The question asked before a new run goes into a run folder that already holds one."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from vae.train.run_folder import free_folder_beside, unfinished, where_stopped

from .train_run import epoch_count


def ask_reuse(parent: QWidget, out_dir: Path, existing: dict | None, holds_loaded_model: bool) -> str:
    """Ask what to do with a run folder that holds a run: "resume", "new" (train in a folder beside it, what Enter
    picks unless the run can be resumed), "replace" or "cancel".

    ``existing`` is its :func:`vae.train.run_folder.run_state`; ``holds_loaded_model``: the explored model is in it.
    """
    beside = free_folder_beside(out_dir)
    can_resume = unfinished(existing)
    done = (
        f"it stopped {where_stopped(existing)}"
        if can_resume
        else f"it finished its {epoch_count(existing['epoch'])}"
        if existing
        else "it holds a finished model"
    )
    loaded = " The model you are exploring is in this folder and would be replaced." if holds_loaded_model else ""
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Run folder in use",
        f"{out_dir} already holds a training run ({done}).{loaded}\n\n"
        + (
            f"Resume it, train the new run in {beside.name} beside it, or start over and replace its checkpoints?"
            if can_resume
            else f"Train the new run in {beside.name} beside it, or start over and replace its checkpoints? "
            "(Resume, with more epochs set beside it, trains this one further.)"
        ),
        parent=parent,
    )
    box.setTextFormat(Qt.TextFormat.PlainText)  # the folder's path is shown as it is, never as HTML
    resume = box.addButton("Resume", QMessageBox.ButtonRole.AcceptRole) if can_resume else None
    new = box.addButton(f"New folder ({beside.name})", QMessageBox.ButtonRole.AcceptRole)
    replace = box.addButton("Start over", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(resume or new)  # Enter never replaces a run
    box.exec()
    clicked = box.clickedButton()
    choices = [(resume, "resume"), (new, "new"), (replace, "replace")]
    return next((choice for button, choice in choices if button is not None and clicked is button), "cancel")
