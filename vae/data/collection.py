"""Several prepared folders read as one training set (``train_cli.py --data A --data B``).

Each folder keeps its own cache (:mod:`vae.data.cache`) and its own hash-based hold-out, so adding a
folder never moves the faces held out of another: the 500 held-out faces of ``cartoonset10k_128``
are the same whether it is trained alone or beside other folders.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .cache import BUILTIN, FaceCache, open_dataset
from .folder import DataError, holdout_split


class FaceCollection:
    """:class:`FaceCache` parts (one per folder, same image size) indexed as one dataset."""

    def __init__(self, parts: list[FaceCache], names: list[str]):
        if not parts:
            raise DataError("no dataset folders given")
        sizes = {part.image_size for part in parts}
        if len(sizes) > 1:
            raise DataError(f"the folders are cached at different sizes: {sorted(sizes)}")
        self.parts, self.names = parts, names
        self.offsets = np.cumsum([0] + [len(part) for part in parts])
        self.files = [f"{name}/{file}" for name, part in zip(names, parts) for file in part.files]
        self.labels = np.concatenate([part.labels for part in parts])
        self.meta = {
            "source": " + ".join(str(part.meta.get("source")) for part in parts),
            "skipped": [s for part in parts for s in part.skipped],
        }

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def image_size(self) -> int:
        return self.parts[0].image_size

    @property
    def has_labels(self) -> bool:
        return any(part.has_labels for part in self.parts)

    @property
    def skipped(self) -> list[list[str]]:
        return self.meta["skipped"]

    def _per_part(self, split: Callable[[FaceCache], tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        kept, held = zip(*(split(part) for part in self.parts))
        shift = lambda chunks: np.concatenate([c + o for c, o in zip(chunks, self.offsets)]).astype(np.int64)  # noqa: E731
        return shift(kept), shift(held)

    def split(self) -> tuple[np.ndarray, np.ndarray]:
        """(train indices, validation indices): each folder's own 5 % hash split."""
        return self._per_part(lambda part: part.split())

    def holdout(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(kept, held out): the ``count`` faces of :func:`vae.data.folder.holdout_split` held out of *each* folder."""
        return self._per_part(lambda part: holdout_split(part.files, count))

    def batch(self, indices) -> torch.Tensor:
        """Images at ``indices`` (into the whole collection) as a float tensor (B, 3, S, S) in [0, 1]."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        which = np.searchsorted(self.offsets, indices, side="right") - 1
        out = torch.empty(len(indices), 3, self.image_size, self.image_size)
        for p in np.unique(which):
            chosen = np.flatnonzero(which == p)
            out[chosen] = self.parts[p].batch(indices[chosen] - self.offsets[p])
        return out

    label_tensor = FaceCache.label_tensor  # the same (N, 18) labels, from this collection's own

    def describe(self) -> dict:
        """What a checkpoint records about its training data: the whole, and each folder."""
        parts = [part.describe() for part in self.parts]
        return {
            "source": self.meta["source"],
            "count": len(self),
            "image_size": self.image_size,
            "labelled": self.has_labels,
            "preprocessing": parts[0]["preprocessing"],
            "folders": parts,
        }


def folder_name(spec: str | os.PathLike) -> str:
    """The name a ``--data`` value goes by in a :class:`FaceCollection`: its folder's name, or ``builtin``."""
    return BUILTIN if str(spec) == BUILTIN else Path(spec).expanduser().resolve().name


def open_datasets(specs: list[str | os.PathLike], image_size: int = 64, **steps) -> FaceCache | FaceCollection:
    """One ``--data`` value → its :class:`FaceCache`; several → a :class:`FaceCollection` of them.

    ``steps`` are :func:`vae.data.cache.open_dataset`'s keyword arguments, applied to each folder in turn.
    """
    if not specs:
        raise DataError("no dataset folders given")
    if len(specs) == 1:
        return open_dataset(specs[0], image_size, **steps)
    names = [folder_name(spec) for spec in specs]
    if len(set(names)) < len(names):
        raise DataError(
            f"the same folder name is given twice: {', '.join(sorted(n for n in set(names) if names.count(n) > 1))}"
        )
    return FaceCollection([open_dataset(spec, image_size, **steps) for spec in specs], names)
