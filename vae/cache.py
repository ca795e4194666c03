"""Preprocessing cache: decode every image of a folder once, then memory-map the pixels.

The first use of a folder decodes and preprocesses all images in parallel into a uint8 array
file (N, S, S, 3) plus labels and a file list. Later uses memory-map it, so training never
decodes a PNG again and a dataset larger than free RAM still works. The cache is keyed on the
folder's contents (names, sizes, modification times) and the preprocessing settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import synth
from .atomic import atomic_write
from .cartoonset import ATTRIBUTE_NAMES
from .data import CROP_PADDING, PREPROCESS_VERSION, DataError, FaceFile, ImageLoadError, is_validation, load_image_uint8, read_labels, scan_folder

BUILTIN = "builtin"
BUILTIN_COUNT = 20_000
BUILTIN_SEED = 2024
BUILTIN_IMAGE_SIDE = 256
VALIDATION_FRACTION = 0.05


def cache_root() -> Path:
    """Where caches and the built-in dataset live: $FACE_EXPLORER_CACHE, else the user cache folder."""
    env = os.environ.get("FACE_EXPLORER_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "face-explorer"


@dataclass
class FaceCache:
    """A preprocessed dataset: memory-mapped uint8 images, labels and file names."""

    path: Path
    images: np.ndarray
    labels: np.ndarray
    files: list[str]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])

    @property
    def has_labels(self) -> bool:
        return bool((self.labels >= 0).any())

    def split(self, fraction: float = VALIDATION_FRACTION) -> tuple[np.ndarray, np.ndarray]:
        """(train indices, validation indices), decided by a hash of each file name."""
        val = np.array([is_validation(name, fraction) for name in self.files], dtype=bool)
        if val.all() or not val.any():  # tiny folders: keep at least one image on each side
            val = np.zeros(len(self.files), dtype=bool)
            val[-1] = len(self.files) > 1
        return np.flatnonzero(~val), np.flatnonzero(val)

    def batch(self, indices) -> torch.Tensor:
        """Images at ``indices`` as a float tensor (B, 3, S, S) in [0, 1]."""
        indices = np.asarray(indices).reshape(-1)
        order = np.argsort(indices)
        array = self.images[indices[order]][np.argsort(order)]  # read the memory map in file order
        return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).float().div_(255.0)

    def label_tensor(self, indices=None) -> torch.Tensor:
        """Labels (N, 18) as int64, −1 where unknown."""
        labels = self.labels if indices is None else self.labels[np.asarray(indices)]
        return torch.from_numpy(np.asarray(labels, dtype=np.int64))

    def describe(self) -> dict:
        """What a checkpoint records about its training data."""
        return {
            "source": self.meta.get("source"),
            "count": len(self),
            "image_size": self.image_size,
            "labelled": self.has_labels,
            "preprocessing": (f"alpha on white, crop to content (+{CROP_PADDING:.0%} margin), square, Lanczos, "
                              f"v{PREPROCESS_VERSION}"),
        }

    @property
    def skipped(self) -> list[list[str]]:
        return self.meta.get("skipped", [])


def _fingerprint(root: Path, files: list[FaceFile], image_size: int) -> str:
    digest = hashlib.sha1(f"v{PREPROCESS_VERSION}|{image_size}|".encode())
    for face in files:
        for path in (face.image, face.csv):
            if path is None:
                digest.update(b"-|")
                continue
            st = path.stat()
            digest.update(f"{path.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}|".encode())
    return digest.hexdigest()


def _preprocess(job: tuple[FaceFile, int]):
    face, image_size = job
    labels, csv_error = read_labels(face)
    try:
        return load_image_uint8(face.image, image_size), labels, None, csv_error
    except ImageLoadError as exc:
        return None, labels, str(exc), csv_error


def _summary(names: list[str], what: str) -> str:
    head = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{what} {len(names)} file(s): {head}"


def open_folder(
    root: str | os.PathLike,
    image_size: int = 64,
    workers: int | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    limit: int | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> FaceCache:
    """The cache of ``root`` at ``image_size``, built on first use (or when the folder changed).

    It lives under ``cache_dir`` when given, else under :func:`cache_root`.
    """
    log = log or (lambda message: print(message, file=sys.stderr))
    root = Path(root).expanduser().resolve()
    files = scan_folder(root)
    if limit:
        files = files[:limit]
    key = _fingerprint(root, files, image_size)
    prefix = f"{root.name}-{hashlib.sha1(str(root).encode()).hexdigest()[:8]}-{image_size}-"
    base = Path(cache_dir or cache_root()) / "datasets"
    entry = base / (prefix + key[:16])
    if not (entry / "meta.json").exists():
        _build(entry, root, files, image_size, workers, progress, log)
        for stale in base.glob(prefix + "*"):
            if stale != entry and not stale.name.endswith(".tmp"):
                shutil.rmtree(stale, ignore_errors=True)
    cache = _open(entry)
    if not len(cache):
        raise DataError(f"dataset folder {root} holds no usable images ({_summary([s[0] for s in cache.skipped], 'skipped')})")
    return cache


def _open(entry: Path) -> FaceCache:
    meta = json.loads((entry / "meta.json").read_text())
    n, s = meta["count"], meta["image_size"]
    images = np.memmap(entry / "images.u8", dtype=np.uint8, mode="r", shape=(n, s, s, 3)) if n else np.zeros((0, s, s, 3), np.uint8)
    labels = np.load(entry / "labels.npy")
    files = (entry / "files.txt").read_text().splitlines()
    return FaceCache(entry, images, labels, files, meta)


def _build(entry: Path, root: Path, files: list[FaceFile], image_size: int, workers, progress: bool, log) -> None:
    tmp = entry.with_name(entry.name + f".{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n = len(files)
    pixels = np.memmap(tmp / "images.u8", dtype=np.uint8, mode="w+", shape=(n, image_size, image_size, 3))
    labels = np.full((n, len(ATTRIBUTE_NAMES)), -1, dtype=np.int16)
    kept, skipped, csv_errors = [], [], []
    jobs = ((face, image_size) for face in files)
    workers = workers or os.cpu_count() or 1
    pool = ProcessPoolExecutor(workers) if workers > 1 and n > 16 else None
    results = pool.map(_preprocess, jobs, chunksize=32) if pool else map(_preprocess, jobs)
    if progress:
        from tqdm import tqdm

        results = tqdm(results, total=n, unit="img", desc=f"preprocessing {root.name} at {image_size}px")
    try:
        for face, (array, label, error, csv_error) in zip(files, results):
            rel = str(face.image.relative_to(root))
            if csv_error:
                csv_errors.append([rel, csv_error])
            if array is None:
                skipped.append([rel, error])
                continue
            pixels[len(kept)] = array
            labels[len(kept)] = label
            kept.append(rel)
    finally:
        if pool:
            pool.shutdown()
    pixels.flush()
    del pixels
    os.truncate(tmp / "images.u8", len(kept) * image_size * image_size * 3)
    np.save(tmp / "labels.npy", labels[: len(kept)])
    (tmp / "files.txt").write_text("".join(f"{name}\n" for name in kept))
    meta = {
        "source": str(root),
        "count": len(kept),
        "image_size": image_size,
        "preprocess_version": PREPROCESS_VERSION,
        "skipped": skipped,
        "csv_errors": csv_errors,
    }
    with atomic_write(tmp / "meta.json", "w") as handle:
        json.dump(meta, handle, indent=1)
    if skipped:
        log(_summary([name for name, _ in skipped], "skipped unreadable") + f" (first: {skipped[0][1]})")
    if csv_errors:
        log(_summary([name for name, _ in csv_errors], "loaded without labels (malformed CSV)"))
    if entry.exists():
        shutil.rmtree(entry)
    os.replace(tmp, entry)


def builtin_folder(count: int = BUILTIN_COUNT, progress: bool = False, log: Callable[[str], None] | None = None) -> Path:
    """The built-in generated dataset, written once into the cache folder and reused."""
    folder = cache_root() / f"builtin-s{BUILTIN_SEED}-n{count}-v{synth.SYNTH_VERSION}"
    if (folder / ".complete").exists():
        return folder
    (log or (lambda m: print(m, file=sys.stderr)))(f"generating the built-in dataset ({count} faces) into {folder}")
    tmp = folder.with_name(folder.name + f".{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    synth.generate(tmp, count, seed=BUILTIN_SEED, size=BUILTIN_IMAGE_SIDE, progress=progress)
    (tmp / ".complete").write_text("")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    return folder


def open_dataset(spec: str | os.PathLike, image_size: int = 64, *, builtin_count: int = BUILTIN_COUNT,
                 progress: bool = False, log: Callable[[str], None] | None = None, limit: int | None = None,
                 workers: int | None = None) -> FaceCache:
    """``"builtin"`` or a folder path → its :class:`FaceCache`."""
    if str(spec) == BUILTIN:
        folder = builtin_folder(builtin_count, progress=progress, log=log)
        cache = open_folder(folder, image_size, workers=workers, progress=progress, log=log, limit=limit)
        cache.meta["source"] = f"built-in generated faces ({builtin_count})"
        return cache
    return open_folder(spec, image_size, workers=workers, progress=progress, log=log, limit=limit)
