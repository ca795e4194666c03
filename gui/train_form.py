"""The Train tab's hyperparameters and run folder, and how they are remembered between launches."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLineEdit, QPushButton

from vae.train.config import DEFAULT_MODEL_RECIPE, SETTINGS_BY_NAME, TrainConfig, config_with, default
from vae.train.run_folder import can_resume

from .controls import double_spin_box, plain_label, spin_box
from .dialogs import ask_folder

SETTING_FIELDS = ("epochs", "batch_size", "lr", "beta", "latent_dim")


def recipe_mark() -> str:
    """The default recipe's values of the remembered fields, saved beside them.

    Hyperparameters saved under another recipe (an older version's defaults, β 1) are not
    restored: the fields start from the current one instead.
    """
    recipe = DEFAULT_MODEL_RECIPE
    return f"batch {recipe.batch_size}, lr {recipe.lr:g}, beta {recipe.beta:g}, latent {recipe.model.latent_dim}"


class TrainForm(QGroupBox):
    """Epochs, batch size, learning rate, β, latent and image size, and the run folder (a fresh one by default)."""

    def __init__(self, settings, runs_dir: Path):
        super().__init__("Hyperparameters")
        self.settings = settings
        self.epochs = spin_box(1, 10000, default("epochs"))
        self.batch_size = spin_box(1, 4096, default("batch_size"))
        self.lr = double_spin_box(1e-5, 1.0, default("lr"), 1e-4, decimals=5)
        self.beta = double_spin_box(0.0, 100.0, default("beta"), 0.01, decimals=3)
        self.beta.setToolTip(
            "Weight of the KL term: loss = summed squared error per image + β·KL.\n"
            f"{default('beta')} (the default model's) gives sharp faces; the model's fitted prior keeps "
            "Random on faces. Higher β: smoother, blurrier faces."
        )
        self.latent_dim = spin_box(2, 512, default("latent_dim"))
        self.image_size = QComboBox()
        self.image_size.addItems([str(size) for size in SETTINGS_BY_NAME["image_size"].choices])
        self.image_size.setCurrentText(str(default("image_size")))
        self.new_run_folder = str(runs_dir / time.strftime("run-%Y%m%d-%H%M%S"))
        self.out_dir = QLineEdit(self.new_run_folder)
        self.out_browse = QPushButton("…")
        self.out_browse.setFixedWidth(28)
        self.out_browse.setToolTip("Choose the run folder (a folder with a run in it can be resumed)")
        form = QGridLayout(self)
        for i, (label, widget) in enumerate(
            (
                ("Epochs", self.epochs),
                ("Batch size", self.batch_size),
                ("Learning rate", self.lr),
                ("β (KL weight)", self.beta),
                ("Latent size", self.latent_dim),
                ("Image size", self.image_size),
            )
        ):
            form.addWidget(plain_label(label), i // 2, 2 * (i % 2))
            form.addWidget(widget, i // 2, 2 * (i % 2) + 1)
        form.addWidget(plain_label("Run folder"), 3, 0)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_dir, 1)
        out_row.addWidget(self.out_browse)
        form.addLayout(out_row, 3, 1, 1, 3)
        self.out_browse.clicked.connect(self._browse_out)

    def _browse_out(self) -> None:
        folder = ask_folder(self, "runs", "Run folder", self.settings)
        if folder:
            self.out_dir.setText(folder)

    def config(self) -> TrainConfig:
        """The default model's recipe with the fields' values."""
        return config_with(
            {name: getattr(self, name).value() for name in SETTING_FIELDS}
            | {"image_size": int(self.image_size.currentText())}
        )

    def show_config(self, saved: TrainConfig) -> None:
        """Put a saved run's hyperparameters into the fields."""
        self.batch_size.setValue(saved.batch_size)
        self.latent_dim.setValue(saved.model.latent_dim)
        self.lr.setValue(saved.lr)
        self.beta.setValue(saved.beta)
        self.image_size.setCurrentText(str(saved.model.image_size))

    def save(self) -> None:
        """Remember the hyperparameters and the run folder for the next launch."""
        self.settings.setValue("train/recipe", recipe_mark())
        for name in SETTING_FIELDS:
            self.settings.setValue(f"train/{name}", getattr(self, name).value())
        self.settings.setValue("train/image_size", self.image_size.currentText())
        folder, previous = self.out_dir.text().strip(), self.settings.value("train/run_folder")
        if isinstance(previous, str) and previous != folder and can_resume(previous):
            self.settings.setValue("train/run_folder_before", previous)  # offered if this launch leaves no run
        self.settings.setValue("train/run_folder", folder)

    def restore(self) -> list[str]:
        """Restore the remembered fields; returns the last run folder and the run folder before it that held a run
        (checked later, not at start-up)."""
        same_recipe = self.settings.value("train/recipe") == recipe_mark()
        for name in SETTING_FIELDS if same_recipe else ():
            widget = getattr(self, name)
            value = self.settings.value(f"train/{name}")
            try:
                if value is not None:
                    widget.setValue(type(widget.value())(value))
            except (TypeError, ValueError):
                pass  # a hand-edited settings file: keep the default
        if self.settings.value("train/image_size") in ("64", "128"):
            self.image_size.setCurrentText(self.settings.value("train/image_size"))
        folders = (self.settings.value("train/run_folder"), self.settings.value("train/run_folder_before"))
        return [folder for folder in folders if isinstance(folder, str) and folder]
