"""Reading face images: one image to a tensor, and a folder to a list of labelled files.

``load_image`` serves the real Cartoon Set, the generated set and a user's own photo alike:
alpha is composited onto white, the empty margin around the content is cropped to a square,
and the result is resized with antialiasing.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from functools import reduce
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageChops, ImageFilter, ImageOps

from .cartoonset import CsvFormatError, labels_vector, read_csv

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
MIN_IMAGE_SIDE = 8
CROP_PADDING = 0.04  # fraction of the content's size kept as margin around it
BACKGROUND_TOLERANCE = 24  # per-channel difference from the corner colour that counts as content
EDGE_BLUR = 0.01  # blur (Gaussian σ, a fraction of the content's size) under which the content box is measured
PREPROCESS_VERSION = 2  # bump when load_image changes what it returns


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


def _edge(profile: np.ndarray, window: int) -> float | None:
    """Sub-pixel position of the first rising edge of a 0–255 ``profile`` (pixel i spans [i, i+1]).

    The edge is where the profile crosses half the height of the first step it climbs (its first
    peak within ``window`` pixels): the half-maximum of a blurred edge, which lands on the same
    place of the drawing whether the image is a sharp original or a downscaled copy of it.
    """
    above = np.flatnonzero(profile > BACKGROUND_TOLERANCE)
    if not len(above):
        return None
    first = int(above[0])
    rise = profile[first : first + window].astype(np.int16)
    falls = np.flatnonzero(np.diff(rise) < 0)
    peak = int(falls[0]) if len(falls) else len(rise) - 1
    half = float(rise[peak]) / 2
    i = first + int(np.argmax(rise >= half))
    if i == 0:
        return 0.0
    low, high = float(profile[i - 1]), float(profile[i])
    return i - 0.5 + (half - low) / (high - low)


def _box(strength: np.ndarray, window: int) -> tuple[float, float, float, float] | None:
    columns, rows = strength.max(axis=0), strength.max(axis=1)
    left, top = _edge(columns, window), _edge(rows, window)
    if left is None:
        return None
    return left, top, len(columns) - _edge(columns[::-1], window), len(rows) - _edge(rows[::-1], window)


def content_box(rgba: Image.Image) -> tuple[float, float, float, float] | None:
    """Sub-pixel bounding box (left, top, right, bottom) of what differs from the background.

    The image is composited onto white; the background is white for images with transparency,
    else the median of the four corners. The difference from the background is blurred in
    proportion to the content's size (EDGE_BLUR of its larger side), and each side of the box
    sits at the half-maximum of the content's edge (see :func:`_edge`). Blurred that way, a sharp
    original and any downscaled copy of it look alike, so they get the same box relative to their
    size, and cropping a crop again finds the same content.
    """
    return _content_box(_on_white(rgba), transparent=rgba.getchannel("A").getextrema()[0] < 250)


def _content_box(rgb: Image.Image, transparent: bool) -> tuple[float, float, float, float] | None:
    if transparent:
        background = (255, 255, 255)
    else:
        corners = [rgb.getpixel(xy) for xy in ((0, 0), (rgb.width - 1, 0), (0, rgb.height - 1), (rgb.width - 1, rgb.height - 1))]
        background = tuple(int(v) for v in np.median(np.array(corners), axis=0))
    diff = ImageChops.difference(rgb, Image.new("RGB", rgb.size, background))
    strength = reduce(ImageChops.lighter, diff.split())  # largest channel difference, "L"
    rough = _box(np.asarray(strength), 4)
    if rough is None:
        return None
    radius = EDGE_BLUR * max(rough[2] - rough[0], rough[3] - rough[1])
    blurred = np.asarray(strength.filter(ImageFilter.GaussianBlur(radius)))
    return _box(blurred, 2 + int(3 * (radius**2 + 0.5) ** 0.5)) or rough


def _on_white(rgba: Image.Image) -> Image.Image:
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def preprocess(rgba: Image.Image, image_size: int) -> Image.Image:
    """RGBA image → square RGB ``image_size``² on white, its content centred with a margin of CROP_PADDING."""
    rgb = _on_white(rgba)
    box = _content_box(rgb, transparent=rgba.getchannel("A").getextrema()[0] < 250)
    if box is None:
        side = float(max(rgb.size))
        cx, cy = rgb.width / 2, rgb.height / 2
    else:
        x0, y0, x1, y1 = box
        side = max(x1 - x0, y1 - y0) * (1 + 2 * CROP_PADDING)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    crop = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    pad = int(np.ceil(max(0.0, -crop[0], -crop[1], crop[2] - rgb.width, crop[3] - rgb.height))) + 2
    canvas = ImageOps.expand(rgb, pad, fill=(255, 255, 255))
    shifted = tuple(v + pad for v in crop)
    return canvas.resize((image_size, image_size), Image.LANCZOS, box=shifted, reducing_gap=3.0)


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
