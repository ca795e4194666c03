"""A folder's ``labels.tsv``: the real labels two public copies of the Cartoon Set publish beside their faces.

Class ids per column (``file eye_color face_shape``) or one-hot groups (``hair_blonde … hair_white``, ``eye_*``,
``face_*`` for skin, ``with_glasses without_glasses``); :data:`CARTOONSET_KEYS` names the Cartoon Set direction
that each class it can be matched with aims at.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from .folder import DataError

LABELS_FILE = "labels.tsv"
ONE_HOT = {"hair": "hair_color", "eye": "eye_color", "face": "skin"}  # one-hot column prefix → attribute
PRESENCE_COLUMNS = {("without_glasses", "with_glasses"): "glasses"}  # (absent, present) columns → attribute (0, 1)


def read_labels(folder: str | Path) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """A folder's ``labels.tsv`` → (classes per attribute, file name → {attribute: class id}).

    Raises :class:`DataError` naming the file when it is missing or malformed.
    """
    _, classes, labels = _read_table(folder)
    return classes, labels


def _read_table(folder: str | Path) -> tuple[list[str], dict[str, int], dict[str, dict[str, int]]]:
    """The table's header (its columns after ``file``), classes per attribute and each file's class ids."""
    path = Path(folder) / LABELS_FILE
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle, delimiter="\t"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from exc
    if not rows or not rows[0] or rows[0][0] != "file":
        raise DataError(f"{path}: the first line must be a header starting with 'file'")
    header = rows[0][1:]
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        prefix = name.split("_", 1)[0]
        if prefix in ONE_HOT:
            groups.setdefault(ONE_HOT[prefix], []).append(i)
    groups = {attribute: columns for attribute, columns in groups.items() if len(columns) > 1}  # one-hot: 2 or more
    for (absent, present), attribute in PRESENCE_COLUMNS.items():
        if absent in header and present in header:
            groups[attribute] = [header.index(absent), header.index(present)]
    grouped = {i for columns in groups.values() for i in columns}
    plain = [i for i in range(len(header)) if i not in grouped]
    labels: dict[str, dict[str, int]] = {}
    for number, row in enumerate(rows[1:], 2):
        if len(row) != len(header) + 1:
            raise DataError(f"{path}, line {number}: {len(row)} columns, the header has {len(header) + 1}")
        try:
            values = [int(v) for v in row[1:]]
        except ValueError:
            raise DataError(f"{path}, line {number}: the labels must be whole numbers") from None
        face = {header[i]: values[i] for i in plain}
        for attribute, columns in groups.items():
            hot = [k for k, i in enumerate(columns) if values[i] == 1]
            face[attribute] = hot[0] if len(hot) == 1 else -1
        labels[row[0]] = face
    if not labels:
        raise DataError(f"{path}: no labelled faces")
    classes = {attribute: len(columns) for attribute, columns in groups.items()}
    classes.update({header[i]: max(face[header[i]] for face in labels.values()) + 1 for i in plain})
    return header, classes, labels


def class_names(folder: str | Path) -> dict[str, list[str]]:
    """Each labelled attribute's class names, from the header of the folder's ``labels.tsv`` (``hair_blonde`` →
    ``blonde``; glasses ``without``/``with``; class-id columns by number)."""
    header, classes, _ = _read_table(folder)
    return _class_names(header, classes)


def _class_names(header: list[str], classes: dict[str, int]) -> dict[str, list[str]]:
    names = {attribute: [str(k) for k in range(n)] for attribute, n in classes.items()}
    one_hot: dict[str, list[str]] = {}
    for column in header:
        prefix, _, value = column.partition("_")
        if prefix in ONE_HOT:
            one_hot.setdefault(ONE_HOT[prefix], []).append(value)
    names.update({a: values for a, values in one_hot.items() if len(values) > 1 and len(values) == classes.get(a)})
    for (absent, present), attribute in PRESENCE_COLUMNS.items():
        if attribute in names:
            names[attribute] = [absent.split("_", 1)[0], present.split("_", 1)[0]]
    return names


# the Cartoon Set direction key of a real label's class, (attribute of labels.tsv, class name) → key; matched
# by reading the labelled faces with the classifier trained on generated faces (hair, skin; docs/model.md has the
# figures) and by eye (eye colours).
CARTOONSET_KEYS = {
    ("glasses", "with"): "glasses",
    ("hair_color", "black"): "hair_color:0",
    ("hair_color", "brown"): "hair_color:3",
    ("hair_color", "orange"): "hair_color:4",
    ("hair_color", "blonde"): "hair_color:6",
    ("hair_color", "blue"): "hair_color:7",
    ("hair_color", "white"): "hair_color:8",
    ("skin", "Caucasian"): "face_color:0",
    ("skin", "Asian"): "face_color:4",
    ("skin", "African"): "face_color:10",
    ("eye_color", "brown"): "eye_color:0",
    ("eye_color", "blue"): "eye_color:1",
    ("eye_color", "green"): "eye_color:2",
    ("eye_color", "black"): "eye_color:4",
}


def has_label_table(folder: str | Path) -> bool:
    return (Path(folder) / LABELS_FILE).is_file()


def label_columns(folder: str | Path, files: list[str]) -> dict[str, tuple[list[str], torch.Tensor]]:
    """Each attribute of ``folder``'s ``labels.tsv``: (its class names, the class id of each of ``files``, −1
    where the table does not label it). Raises :class:`DataError` for a missing or malformed table."""
    header, classes, labels = _read_table(folder)  # read once, for the names and the ids alike
    return {
        attribute: (names, torch.tensor([labels.get(Path(f).name, {}).get(attribute, -1) for f in files]))
        for attribute, names in _class_names(header, classes).items()
    }
