"""Preprocessing cache: decode every image of a folder once, then memory-map the pixels.

The first use of a folder decodes and preprocesses all images in parallel into a uint8 array
file (N, S, S, 3) plus labels and a file list. Later uses memory-map it, so training never
decodes a PNG again and a dataset larger than free RAM still works. The cache is keyed on the
folder's contents (names, sizes, modification times) and the preprocessing settings.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..common.atomic import WriteError, atomic_write, ensure_space, make_folder, write_error
from ..common.control import QUIET, Control
from ..common.lockfile import LockFile, process_alive
from ..common.parallel import Throttle, ordered_map
from . import synth
from .cartoonset import ATTRIBUTE_NAMES
from .folder import (
    CROP_PADDING,
    PREPROCESS_VERSION,
    DataError,
    FaceFile,
    holdout_split,
    is_validation,
    load_face,
    scan_folder,
)

BUILTIN = "builtin"
BUILTIN_COUNT = 20_000
BUILTIN_SEED = 2024
BUILTIN_IMAGE_SIDE = 256
VALIDATION_FRACTION = 0.05
BUILTIN_SOURCE = "built-in generated faces"  # how a dataset of built-in faces names its source


def is_builtin_source(source: object) -> bool:
    """Whether a dataset's recorded ``source`` is the built-in generated faces."""
    return str(source).startswith(BUILTIN_SOURCE)


def builtin_source(count: int) -> str:
    """How a dataset of ``count`` built-in faces records its source: "built-in generated faces (20000)"."""
    return f"{BUILTIN_SOURCE} ({count})"


def builtin_source_count(source: object) -> int | None:
    """The face count a :func:`builtin_source` names, or None for any other source."""
    match = re.fullmatch(rf"{re.escape(BUILTIN_SOURCE)} \((\d+)\)", str(source))
    return int(match.group(1)) if match else None


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

    def holdout(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(kept, held out): the ``count`` faces of :func:`vae.data.folder.holdout_split`."""
        return holdout_split(self.files, count)

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
        """What a checkpoint records about its training data (with ``limit`` when only the first files were read)."""
        described = {
            "source": self.meta.get("source"),
            "count": len(self),
            "image_size": self.image_size,
            "labelled": self.has_labels,
            "preprocessing": (
                f"alpha on white, crop to content (+{CROP_PADDING:.0%} margin), square, Lanczos, v{PREPROCESS_VERSION}"
            ),
        }
        if self.meta.get("limit"):
            described["limit"] = self.meta["limit"]
        return described

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
            try:
                st = path.stat()
                digest.update(f"{path.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}|".encode())
            except OSError:  # vanished since the folder was read: the build reports it as unreadable
                digest.update(f"{path.relative_to(root)}|gone|".encode())
    return digest.hexdigest()


def _summary(names: list[str], what: str) -> str:
    head = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{what} {len(names)} file(s): {head}"


def open_folder(
    root: str | os.PathLike,
    image_size: int = 64,
    workers: int | None = None,
    limit: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    control: Control = QUIET,
) -> FaceCache:
    """The cache of ``root`` at ``image_size``, built on first use (or when the folder changed).

    It lives under ``cache_dir`` when given, else under :func:`cache_root`. While it is built, ``control``
    hears the progress and what was skipped; when its ``should_stop()`` turns true, :class:`Cancelled` is
    raised, the workers are stopped and the partial cache removed.
    """
    root = Path(root).expanduser().resolve()
    unusable: list[list[str]] = []
    files = scan_folder(root, unusable)
    if limit:
        files = files[:limit]
    key = _fingerprint(root, files, image_size)
    prefix = f"{root.name}-{hashlib.sha1(str(root).encode()).hexdigest()[:8]}-{image_size}-"
    if limit:  # a family of its own: building the first N faces must not replace the whole folder's cache
        prefix += f"first{len(files)}-"
    base = Path(cache_dir or cache_root()) / "datasets"
    entry = base / (prefix + key[:16])
    cache = _verified(entry)
    if isinstance(cache, str):
        make_folder(base, "the dataset cache")
        lock = LockFile(base / (entry.name + ".lock"), "dataset cache build")
        _wait_for_lock(lock, root, control)
        try:
            cache = _verified(entry)  # a concurrent builder may have finished it meanwhile
            if isinstance(cache, str):
                if cache != "not built yet":
                    control.log(f"the cache of {root} is damaged ({cache}); rebuilding it")
                _build(entry, root, files, image_size, workers, control, unusable)
                _remove_stale(base, prefix, entry)
                cache = _verified(entry)
                if isinstance(cache, str):
                    raise DataError(f"the cache of {root} in {entry} cannot be read back ({cache})")
        finally:
            lock.release()
    if not len(cache):
        raise DataError(
            f"dataset folder {root} holds no usable images ({_summary([s[0] for s in cache.skipped], 'skipped')})"
        )
    _report_skipped(cache.meta, control)  # each time the folder is opened, not only when its cache is built
    if limit:
        cache.meta["limit"] = limit
    return cache


def _report_skipped(meta: dict, control: Control) -> None:
    """Say which files of a folder were left out of its cache, and which were read without their labels."""
    skipped, csv_errors = meta.get("skipped") or [], meta.get("csv_errors") or []
    if skipped:
        control.log(_summary([name for name, _ in skipped], "skipped unreadable") + f" (first: {skipped[0][1]})")
    if csv_errors:
        control.log(_summary([name for name, _ in csv_errors], "loaded without labels (malformed CSV)"))


def _wait_for_lock(lock: LockFile, root: Path, control: Control) -> None:
    """Take ``lock``; while another live process builds the same cache, wait (cancellable) and say so once."""
    told = False
    while not lock.try_acquire():
        control.check()
        if not told:
            holder = lock.holder()
            control.log(f"waiting for another process (PID {holder['pid'] if holder else '?'}) that is caching {root}")
            told = True
        time.sleep(0.2)


def _remove_stale(base: Path, prefix: str, entry: Path) -> None:
    """Older caches of the same folder, and temporaries left by builders that are no longer running."""
    for stale in base.glob(glob.escape(prefix) + "*"):  # escaped: a folder named "faces [v2]" is no pattern
        if stale == entry or stale.suffix == ".lock":
            continue
        if stale.suffix == ".tmp" and not _abandoned(stale):
            continue
        shutil.rmtree(stale, ignore_errors=True)


def _abandoned(tmp: Path) -> bool:
    """Whether ``tmp`` (``<name>.<pid>.tmp``) was left by a process that is no longer running."""
    pid = tmp.name.rsplit(".", 2)[-2]
    return pid.isdigit() and not process_alive(int(pid))


def _verified(entry: Path) -> FaceCache | str:
    """The cache at ``entry`` if it is whole, else why not (a short phrase).

    Sizes and lengths are checked every time; the pixels' checksum when the pixel file changed
    since it was last verified (the result is remembered in ``verified.json``).
    """
    if not (entry / "meta.json").exists():
        return "not built yet"
    try:
        meta = json.loads((entry / "meta.json").read_text())
        n, s = int(meta["count"]), int(meta["image_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return "meta.json is unreadable"
    pixels = entry / "images.u8"
    try:
        info = pixels.stat()
    except OSError:
        return "images.u8 is missing"
    if info.st_size != n * s * s * 3:
        return f"images.u8 holds {info.st_size:,} bytes, not {n * s * s * 3:,}"
    try:
        labels = np.load(entry / "labels.npy")
        files = (entry / "files.txt").read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError, EOFError):
        return "labels.npy or files.txt is missing or unreadable"
    if labels.shape != (n, len(ATTRIBUTE_NAMES)):
        return f"labels.npy has shape {labels.shape}, not {(n, len(ATTRIBUTE_NAMES))}"
    if len(files) != n:
        return f"files.txt lists {len(files)} files, not {n}"
    stamp = {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "ino": info.st_ino}
    if meta.get("images_sha1") and _read_json(entry / "verified.json") != stamp:
        digest = hashlib.sha1()
        with open(pixels, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
        if digest.hexdigest() != meta["images_sha1"]:
            return "the pixels do not match their checksum"
        with contextlib.suppress(OSError):
            with atomic_write(entry / "verified.json", "w") as handle:
                json.dump(stamp, handle)
    images = np.memmap(pixels, dtype=np.uint8, mode="r", shape=(n, s, s, 3)) if n else np.zeros((0, s, s, 3), np.uint8)
    return FaceCache(entry, images, labels, files, meta)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _build(
    entry: Path,
    root: Path,
    files: list[FaceFile],
    image_size: int,
    workers,
    control: Control,
    unusable=(),
) -> None:
    """Preprocess ``files`` into ``entry``, through a temporary folder renamed into place when complete.

    Pixels are written through an ordinary file (not a memory map), so a full disk raises an
    error here instead of killing the process with SIGBUS; any failure removes the temporary folder.
    """
    n = len(files)
    frame = image_size * image_size * 3
    tmp = entry.with_name(entry.name + f".{os.getpid()}.tmp")
    make_folder(entry.parent, "the dataset cache")
    shutil.rmtree(tmp, ignore_errors=True)
    make_folder(tmp, "the dataset cache")
    need = n * (frame + 2 * len(ATTRIBUTE_NAMES)) + sum(len(str(f.image)) for f in files)
    labels = np.full((n, len(ATTRIBUTE_NAMES)), -1, dtype=np.int16)
    kept, skipped, csv_errors = [], [list(entry) for entry in unusable], []
    jobs = [(face, image_size) for face in files]
    workers = workers or os.cpu_count() or 1
    results = ordered_map(load_face, jobs, workers if n > 16 else 1, chunk=16, should_stop=control.should_stop)
    report = Throttle(control, n, f"preparing faces at {image_size}px")
    digest = hashlib.sha1()
    try:
        ensure_space(tmp, need)
        with open(tmp / "images.u8", "wb") as pixels:
            for done, (face, (array, label, error, csv_error)) in enumerate(zip(files, results), 1):
                rel = str(face.image.relative_to(root))
                if csv_error:
                    csv_errors.append([rel, csv_error])
                if array is None:
                    skipped.append([rel, error])
                else:
                    data = np.ascontiguousarray(array, dtype=np.uint8).tobytes()
                    pixels.write(data)
                    digest.update(data)
                    labels[len(kept)] = label
                    kept.append(rel)
                report(done)
            pixels.flush()
            os.fsync(pixels.fileno())
        np.save(tmp / "labels.npy", labels[: len(kept)])
        (tmp / "files.txt").write_text("".join(f"{name}\n" for name in kept))
        meta = {
            "source": str(root),
            "count": len(kept),
            "image_size": image_size,
            "preprocess_version": PREPROCESS_VERSION,
            "images_sha1": digest.hexdigest(),
            "skipped": skipped,
            "csv_errors": csv_errors,
        }
        with atomic_write(tmp / "meta.json", "w") as handle:
            json.dump(meta, handle, indent=1)
        if entry.exists():
            shutil.rmtree(entry)
        os.replace(tmp, entry)
    except BaseException as exc:
        try:
            results.close()
        finally:  # a second Ctrl-C while the workers wind down still removes the partial cache
            shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise write_error(entry.parent, exc, need) from exc
        raise


BUILTIN_BYTES_PER_FACE = 40_000  # a generous estimate of one 256 px face's PNG and CSV


def builtin_path(count: int = BUILTIN_COUNT) -> Path:
    """Where the built-in dataset of ``count`` faces lives in the cache folder (made or not)."""
    return cache_root() / f"builtin-s{BUILTIN_SEED}-n{count}-v{synth.SYNTH_VERSION}"


def builtin_ready(count: int = BUILTIN_COUNT) -> bool:
    """Whether the built-in dataset of ``count`` faces is already made (so it opens at once)."""
    return (builtin_path(count) / ".complete").exists()


def builtin_folder(count: int = BUILTIN_COUNT, control: Control = QUIET) -> Path:
    """The built-in generated dataset, written once into the cache folder and reused."""
    folder = builtin_path(count)
    if (folder / ".complete").exists():
        return folder
    make_folder(folder.parent, "the built-in dataset")
    lock = LockFile(folder.with_name(folder.name + ".lock"), "built-in dataset generation")
    _wait_for_lock(lock, folder, control)
    try:
        if not (folder / ".complete").exists():  # else another process made it while this one waited
            _generate_builtin(folder, count, control)
    finally:
        lock.release()
    return folder


def _generate_builtin(folder: Path, count: int, control: Control) -> None:
    control.log(f"generating the built-in dataset ({count} faces) into {folder}")
    tmp = folder.with_name(folder.name + f".{os.getpid()}.tmp")
    for left in folder.parent.glob(glob.escape(folder.name) + ".*.tmp"):  # by a generator killed mid-way
        if left == tmp or _abandoned(left):
            shutil.rmtree(left, ignore_errors=True)
    need = count * BUILTIN_BYTES_PER_FACE
    try:
        ensure_space(folder.parent, need)
        synth.generate(tmp, count, seed=BUILTIN_SEED, size=BUILTIN_IMAGE_SIDE, control=control)
        (tmp / ".complete").write_text("")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise write_error(folder.parent, exc, need) from exc
        raise


def open_dataset(
    spec: str | os.PathLike,
    image_size: int = 64,
    *,
    builtin_count: int = BUILTIN_COUNT,
    limit: int | None = None,
    workers: int | None = None,
    control: Control = QUIET,
) -> FaceCache:
    """``"builtin"``, a folder path, or a cache folder itself (:func:`open_cache`) → its :class:`FaceCache`.

    ``control`` steers the preparation steps (see :func:`open_folder`): :class:`Cancelled` is raised when its
    ``should_stop()`` turns true while faces are generated or cached.
    """
    steps = {"workers": workers, "limit": limit, "control": control}
    if is_cache_folder(spec):
        return open_cache(spec, image_size, limit)
    if str(spec) == BUILTIN:
        folder = builtin_folder(builtin_count, control)
        cache = open_folder(folder, image_size, **steps)
        cache.meta["source"] = builtin_source(builtin_count)
        return cache
    return open_folder(spec, image_size, **steps)


def is_cache_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a cache folder itself (``images.u8`` and ``meta.json``), not a folder of images."""
    path = Path(path).expanduser()
    return (path / "images.u8").is_file() and (path / "meta.json").is_file()


def open_cache(entry: str | os.PathLike, image_size: int = 64, limit: int | None = None) -> FaceCache:
    """A cache folder opened as it is, e.g. one copied to a GPU machine that lacks the images it was made from.

    Its faces keep their file names, so hold-outs and validation splits are the ones the images would give.
    Raises :class:`DataError` when it is damaged or holds faces of another size.
    """
    entry = Path(entry).expanduser().resolve()
    cache = _verified(entry)
    if isinstance(cache, str):
        raise DataError(f"dataset cache {entry} cannot be used: {cache}")
    if cache.image_size != image_size:
        raise DataError(
            f"dataset cache {entry} holds {cache.image_size}×{cache.image_size} faces, not {image_size}×{image_size}; "
            f"use it with --image-size {cache.image_size}, or give the image folder it was made from"
        )
    if limit:  # the first faces cached (a folder's --limit counts its files, skipped ones too)
        cache.images, cache.labels, cache.files = cache.images[:limit], cache.labels[:limit], cache.files[:limit]
        cache.meta["limit"] = limit
    if not len(cache):
        raise DataError(f"dataset cache {entry} holds no faces")
    return cache
