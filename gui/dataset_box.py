"""The Train tab's dataset choice: the built-in generated faces (how many) or a folder of images."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from vae.data.cache import BUILTIN, BUILTIN_COUNT
from vae.data.folder import DataError, scan_folder

from .controls import plain_label
from .dialogs import ask_folder

QUICK_TRY_COUNT = 2_000
BUILTIN_PRESETS = (
    (BUILTIN_COUNT, f"{BUILTIN_COUNT:,} faces (default: a good model)"),
    (QUICK_TRY_COUNT, f"{QUICK_TRY_COUNT:,} faces (quick try: ten times faster, a rougher model)"),
)


class DatasetBox(QGroupBox):
    """Built-in faces (with a face count, as ``train_cli.py --builtin-count``) or a folder, with what it holds."""

    def __init__(self, settings=None):
        super().__init__("Dataset")
        self.settings = settings
        self.builtin_radio = QRadioButton("Built-in generated faces")
        self.folder_radio = QRadioButton("Folder:")
        self.builtin_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.builtin_radio)
        group.addButton(self.folder_radio)
        self.count_box = QComboBox()
        for count, text in BUILTIN_PRESETS:
            self.count_box.addItem(text, count)
        self.count_box.setToolTip("How many faces to generate (made once per count, then cached)")
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("a Cartoon Set folder or any folder of face images")
        self.browse_button = QPushButton("Browse…")
        self.data_info = plain_label(self.builtin_info())
        self.data_info.setWordWrap(True)

        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.builtin_radio)
        row.addWidget(self.count_box, 1)
        layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.folder_radio)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.browse_button)
        layout.addLayout(row)
        layout.addWidget(self.data_info)

        self.browse_button.clicked.connect(self._browse)
        self.folder_edit.textEdited.connect(self.check_folder_radio)  # typing a folder chooses it
        self.folder_edit.editingFinished.connect(self.describe_folder)
        self.builtin_radio.toggled.connect(self._builtin_toggled)
        self.count_box.currentIndexChanged.connect(lambda: self._builtin_toggled(self.builtin_radio.isChecked()))
        self.folder_radio.toggled.connect(lambda on: on and self.folder_edit.text().strip() and self.describe_folder())

    @property
    def builtin_count(self) -> int:
        return int(self.count_box.currentData())

    @builtin_count.setter
    def builtin_count(self, count: int) -> None:
        index = self.count_box.findData(int(count))
        if index < 0:
            self.count_box.addItem(f"{int(count):,} faces", int(count))
            index = self.count_box.count() - 1
        self.count_box.setCurrentIndex(index)

    def builtin_info(self) -> str:
        return f"{self.builtin_count:,} generated faces with all 18 labels (made once, then cached)"

    def _builtin_toggled(self, on: bool) -> None:
        self.count_box.setEnabled(on)
        if on:
            self.data_info.setText(self.builtin_info())

    def set_folder(self, folder: str) -> None:
        self.folder_edit.setText(folder)
        self.check_folder_radio()
        self.describe_folder()

    def check_folder_radio(self) -> None:
        """Select "Folder" without walking the folder (its toggled handler would)."""
        self.folder_radio.blockSignals(True)
        self.folder_radio.setChecked(True)
        self.folder_radio.blockSignals(False)
        self.count_box.setEnabled(False)

    def _browse(self) -> None:
        folder = ask_folder(self, "dataset", "Dataset folder", self.settings)
        if folder:
            self.set_folder(folder)

    def describe_folder(self) -> bool:
        """Show how many images the chosen folder holds and whether labels were found."""
        folder = self.folder_edit.text().strip()
        if not folder:
            return False
        try:
            files = scan_folder(folder)
        except DataError as exc:
            self.data_info.setText(f"⚠ {exc}")
            return False
        labelled = sum(f.csv is not None for f in files)
        self.data_info.setText(
            f"{len(files):,} images; "
            + (
                f"{labelled:,} with a label file (.csv), read when training starts"
                if labelled
                else "no labels (unlabelled folder)"
            )
        )
        return True

    def save(self) -> None:
        """Remember the dataset choice for the next launch."""
        self.settings.setValue("train/folder", self.folder_edit.text().strip() if self.folder_radio.isChecked() else "")
        self.settings.setValue("train/builtin_count", self.builtin_count)

    def restore(self) -> None:
        folder = self.settings.value("train/folder")
        if isinstance(folder, str) and folder:  # not walked now (a big or unmounted folder would hold up start-up)
            self.folder_edit.setText(folder)
            self.check_folder_radio()
            self.data_info.setText("the folder of your last run; it is checked when you start")
        count = self.settings.value("train/builtin_count")
        if isinstance(count, (int, str)) and str(count).isdigit() and int(count) > 0:
            self.builtin_count = int(count)

    def spec(self) -> str | None:
        """``"builtin"`` or the chosen folder; None (and the reason shown) for a folder that cannot be used."""
        if self.folder_radio.isChecked() and not self.describe_folder():
            return None
        return BUILTIN if self.builtin_radio.isChecked() else self.folder_edit.text().strip()
