"""Reading face images: one image to a tensor, and a folder to a list of labelled files.

``load_image`` serves the real Cartoon Set, the generated set and a user's own photo alike:
alpha is composited onto white, the empty margin around the content is cropped to a square,
and the result is resized with antialiasing.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from .cartoonset import CsvFormatError, labels_vector, read_csv

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
MIN_IMAGE_SIDE = 8
CROP_PADDING = 0.04  # fraction of the content's size kept as margin around it
BACKGROUND_TOLERANCE = 24  # per-channel difference from the corner colour that counts as content
PREPROCESS_VERSION = 1  # bump when load_image changes what it returns


class ImageLoadError(ValueError):
    """An image could not be used; the message names the file and the reason."""


class DataError(ValueError):
    """A dataset folder cannot be used at all; the message names the path."""


def _open_rgba(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                im.load()
                im = ImageOps.exif_transpose(im)
    except FileNotFoundError as exc:
        raise ImageLoadError(f"{path}: no such file") from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"{path}: image is too large") from exc
    except (OSError, SyntaxError, ValueError, Image.UnidentifiedImageError, EOFError) as exc:
        reason = "empty file" if path.exists() and path.stat().st_size == 0 else "not a readable image (corrupt or truncated)"
        raise ImageLoadError(f"{path}: {reason}") from exc
    if min(im.size) < MIN_IMAGE_SIDE:
        raise ImageLoadError(f"{path}: image is too small ({im.width}×{im.height}; at least {MIN_IMAGE_SIDE} px a side)")
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(im, dtype=np.float64)
        top = 65535.0 if values.max(initial=0) > 255 else 255.0
        im = Image.fromarray(np.clip(values / top * 255.0, 0, 255).astype(np.uint8), "L")
    return im.convert("RGBA")


def content_box(rgba: Image.Image) -> tuple[int, int, int, int] | None:
    """Bounding box of what is not background: opaque pixels, or pixels unlike the corners."""
    alpha = rgba.getchannel("A")
    if alpha.getextrema()[0] < 250:
        return alpha.point(lambda a: 255 if a > 16 else 0).getbbox()
    rgb = np.asarray(rgba.convert("RGB"), dtype=np.int16)
    corners = np.stack([rgb[0, 0], rgb[0, -1], rgb[-1, 0], rgb[-1, -1]])
    background = np.median(corners, axis=0)
    mask = (np.abs(rgb - background).max(axis=2) > BACKGROUND_TOLERANCE).astype(np.uint8) * 255
    return Image.fromarray(mask, "L").getbbox()


def preprocess(rgba: Image.Image, image_size: int) -> Image.Image:
    """RGBA image → square RGB ``image_size``² on white, cropped to its content."""
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    box = content_box(rgba)
    if box is not None:
        x0, y0, x1, y1 = box
        side = max(x1 - x0, y1 - y0)
        side = max(int(round(side * (1 + 2 * CROP_PADDING))), MIN_IMAGE_SIDE)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
        square = Image.new("RGB", (side, side), (255, 255, 255))
        square.paste(rgb.crop((max(left, 0), max(top, 0), min(left + side, rgb.width), min(top + side, rgb.height))),
                     (max(-left, 0), max(-top, 0)))
        rgb = square
    elif rgb.width != rgb.height:
        rgb = ImageOps.pad(rgb, (max(rgb.size),) * 2, color=(255, 255, 255))
    return rgb.resize((image_size, image_size), Image.LANCZOS, reducing_gap=3.0)


def load_image_uint8(path: str | os.PathLike, image_size: int) -> np.ndarray:
    """Like :func:`load_image`, as a (H, W, 3) uint8 array (what the cache stores)."""
    return np.asarray(preprocess(_open_rgba(Path(path)), image_size), dtype=np.uint8)


def load_image(path: str | os.PathLike, image_size: int = 64) -> torch.Tensor:
    """An image file as a (3, image_size, image_size) float tensor in [0, 1].

    Raises :class:`ImageLoadError` (naming the file) for anything that is not a usable image.
    """
    array = load_image_uint8(path, image_size)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


@dataclass(frozen=True)
class FaceFile:
    """One image in a dataset folder, with its Cartoon Set CSV if it has one."""

    image: Path
    csv: Path | None


def scan_folder(root: str | os.PathLike) -> list[FaceFile]:
    """Every image under ``root`` (subfolders included), sorted, each paired with its CSV."""
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(f"dataset folder {root} does not exist")
    if not root.is_dir():
        raise DataError(f"{root} is a file, not a dataset folder")
    if not os.access(root, os.R_OK | os.X_OK):
        raise DataError(f"dataset folder {root} cannot be read (permission denied)")
    found = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        stems = {n for n in names if n.lower().endswith(".csv")}
        for name in sorted(names):
            path = Path(folder) / name
            if path.suffix.lower() in IMAGE_SUFFIXES:
                csv_name = path.stem + ".csv"
                found.append(FaceFile(path, Path(folder) / csv_name if csv_name in stems else None))
    if not found:
        raise DataError(f"dataset folder {root} holds no PNG, JPEG or WebP images")
    return found


def read_labels(face: FaceFile) -> tuple[list[int], str | None]:
    """The 18 attribute values (−1 where unknown) and an error message if the CSV was malformed."""
    if face.csv is None:
        return labels_vector(None), None
    try:
        return labels_vector(read_csv(face.csv)), None
    except CsvFormatError as exc:
        return labels_vector(None), str(exc)


def is_validation(name: str, fraction: float = 0.05) -> bool:
    """Deterministic split by a hash of the file name: adding files never moves others."""
    digest = hashlib.sha1(Path(name).name.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def holdout_split(names, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept indices, held-out indices): the ``count`` names with the smallest SHA-1 of the file name are held out.

    Depends on the names alone (not their order or folder), so every script holds out the same faces.
    """
    names = [Path(name).name for name in names]
    if not 0 <= count < len(names):
        raise ValueError(f"cannot hold out {count} of {len(names)} images")
    ranks = np.argsort([hashlib.sha1(name.encode()).hexdigest() for name in names], kind="stable")
    held = np.zeros(len(names), dtype=bool)
    held[ranks[:count]] = True
    return np.flatnonzero(~held), np.flatnonzero(held)
