"""Reading face images: one image to a tensor, and a folder to a list of labelled files.

``load_image`` serves the real Cartoon Set, the generated set and a user's own photo alike:
alpha is composited onto white, the empty margin around the content is cropped to a square,
and the result is resized with antialiasing.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import warnings
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageChops, ImageFilter, ImageOps

from .cartoonset import CsvFormatError, labels_vector, parse_csv

if TYPE_CHECKING:
    import torch

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
MIN_IMAGE_SIDE = 8
CROP_PADDING = 0.04  # fraction of the content's size kept as margin around it
BACKGROUND_TOLERANCE = 24  # per-channel difference from the corner colour that counts as content
EDGE_BLUR = 0.01  # blur (Gaussian σ, a fraction of the content's size) under which the content box is measured
WORKING_SIDE_FACTOR = 8  # images are reduced early to no less than 8× the output side
DEFAULT_MAX_MPX = 100  # pixel budget in megapixels (an 8000×8000 photo is 64)
MAX_ASPECT_RATIO = 10  # a longer side over 10× the shorter is a strip, not a picture of a face
# what Pillow may decode: never EPS/PS/PDF (Ghostscript) or other formats chosen by a file's content alone
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
PREPROCESS_VERSION = 2  # bump when load_image changes what it returns


class ImageLoadError(ValueError):
    """An image could not be used; the message names the file and the reason."""


class DataError(ValueError):
    """A dataset folder cannot be used at all; the message names the path."""


def max_image_pixels() -> int:
    """The pixel budget: images declaring more pixels are refused before decoding ($FACE_EXPLORER_MAX_MPX,
    default 100)."""
    try:
        return max(1, int(float(os.environ.get("FACE_EXPLORER_MAX_MPX", DEFAULT_MAX_MPX)) * 1_000_000))
    except (ValueError, OverflowError):  # not a number, inf or nan: the default
        return DEFAULT_MAX_MPX * 1_000_000


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit or 32-bit greyscale → 8-bit "L", in integer arithmetic."""
    values = np.asarray(im)
    if values.dtype.kind == "f":  # 32-bit float pixels: rounded to integers first
        values = np.nan_to_num(values, nan=0.0, posinf=65535.0, neginf=0.0).round()
    values = np.clip(values, 0, 65535).astype(np.int64)
    top = 65535 if values.max(initial=0) > 255 else 255
    return Image.fromarray((values * 255 // top).astype(np.uint8), "L")


def _open_rgba(path: Path, working_side: int | None = None) -> Image.Image:
    """Decode ``path`` to RGBA, refusing it (:class:`ImageLoadError`) before decoding if it is over the pixel budget.

    With ``working_side``, a larger image is decoded at a reduced scale (JPEG draft) and reduced by
    an integer factor right away, so its side stays at least ``working_side``: the working memory
    of one image is then bounded by the budget once, not several float copies of it.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise ImageLoadError(f"{path}: no such file") from exc
    except OSError as exc:
        raise ImageLoadError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ImageLoadError(f"{path}: not a regular file")
    if info.st_size == 0:
        raise ImageLoadError(f"{path}: empty file")
    budget = max_image_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the budget below decides instead
            with Image.open(path, formats=IMAGE_FORMATS) as im:
                width, height = im.size
                if width * height > budget:
                    raise ImageLoadError(
                        f"{path}: image is too large ({width}×{height} = {width * height / 1e6:.0f} Mpx; "
                        f"the limit is {budget / 1e6:.0f} Mpx, set FACE_EXPLORER_MAX_MPX to change it)"
                    )
                if max(width, height) > MAX_ASPECT_RATIO * max(1, min(width, height)):
                    raise ImageLoadError(
                        f"{path}: image is too elongated ({width}×{height}; at most {MAX_ASPECT_RATIO}:1)"
                    )
                if working_side and im.format == "JPEG" and min(width, height) > 2 * working_side:
                    im.draft("RGB", (working_side, working_side))
                im.load()
                factor = min(im.size) // working_side if working_side else 1
                if factor >= 2:
                    with contextlib.suppress(ValueError):  # modes Pillow cannot reduce are used as they are
                        im = im.reduce(factor)
                im = _exif_transposed(im)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(f"{path}: image is too large") from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageLoadError(
            f"{path}: not a readable image (corrupt, truncated, or not {'/'.join(IMAGE_FORMATS)})"
        ) from exc
    except MemoryError as exc:
        raise ImageLoadError(f"{path}: image is too large to decode in the memory available") from exc
    except Exception as exc:  # Pillow raises many kinds on damaged files (OSError, SyntaxError, struct.error, …)
        raise ImageLoadError(f"{path}: not a readable image (corrupt or truncated)") from exc
    if min(im.size) < MIN_IMAGE_SIDE:
        raise ImageLoadError(
            f"{path}: image is too small ({im.width}×{im.height}; at least {MIN_IMAGE_SIDE} px a side)"
        )
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        im = _to_8bit(im)
    return im.convert("RGBA")


def _exif_transposed(im: Image.Image) -> Image.Image:
    """``im`` turned upright by its EXIF orientation; as it is when the EXIF data is malformed."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # malformed EXIF raises TypeError, struct.error, KeyError, …: the pixels are still good
        return im


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
    return i - 0.5 + min(max((half - low) / (high - low), 0.0), 1.0)


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
    return _content_box(_on_white(rgba), _is_transparent(rgba))


def _content_box(rgb: Image.Image, transparent: bool) -> tuple[float, float, float, float] | None:
    if transparent:
        background = (255, 255, 255)
    else:
        corners = [
            rgb.getpixel(xy)
            for xy in ((0, 0), (rgb.width - 1, 0), (0, rgb.height - 1), (rgb.width - 1, rgb.height - 1))
        ]
        background = tuple(int(v) for v in np.median(np.array(corners), axis=0))
    diff = ImageChops.difference(rgb, Image.new("RGB", rgb.size, background))
    strength = reduce(ImageChops.lighter, diff.split())  # largest channel difference, "L"
    rough = _box(np.asarray(strength), 4)
    if rough is None:
        return None
    radius = EDGE_BLUR * max(rough[2] - rough[0], rough[3] - rough[1])
    blurred = np.asarray(strength.filter(ImageFilter.GaussianBlur(radius)))
    return _box(blurred, 2 + int(3 * (radius**2 + 0.5) ** 0.5)) or rough


def _is_transparent(rgba: Image.Image) -> bool:
    return rgba.getchannel("A").getextrema()[0] < 250


def _on_white(rgba: Image.Image) -> Image.Image:
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def preprocess(rgba: Image.Image, image_size: int) -> Image.Image:
    """RGBA image → square RGB ``image_size``² on white, its content centred with a margin of CROP_PADDING."""
    rgb = _on_white(rgba)
    box = _content_box(rgb, _is_transparent(rgba))
    if box is None:
        side = float(max(rgb.size))
        cx, cy = rgb.width / 2, rgb.height / 2
    else:
        x0, y0, x1, y1 = box
        side = max(x1 - x0, y1 - y0) * (1 + 2 * CROP_PADDING)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    crop = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    factor = int(side // (WORKING_SIDE_FACTOR * image_size))
    if factor >= 2:  # a large crop is reduced first, so the padded canvas below stays small
        rgb = rgb.reduce(factor)
        crop = tuple(v / factor for v in crop)
    pad = int(np.ceil(max(0.0, -crop[0], -crop[1], crop[2] - rgb.width, crop[3] - rgb.height))) + 2
    canvas = ImageOps.expand(rgb, pad, fill=(255, 255, 255))
    shifted = tuple(v + pad for v in crop)
    return canvas.resize((image_size, image_size), Image.LANCZOS, box=shifted, reducing_gap=3.0)


def load_image_uint8(path: str | os.PathLike, image_size: int) -> np.ndarray:
    """Like :func:`load_image`, as a (H, W, 3) uint8 array (what the cache stores)."""
    return np.asarray(
        preprocess(_open_rgba(Path(path), working_side=WORKING_SIDE_FACTOR * image_size), image_size), dtype=np.uint8
    )


def load_image(path: str | os.PathLike, image_size: int = 64) -> torch.Tensor:
    """An image file as a (3, image_size, image_size) float tensor in [0, 1].

    Raises :class:`ImageLoadError` (naming the file) for anything that is not a usable image.
    """
    import torch  # here: the dataset-preparation workers import this module and never need torch

    array = load_image_uint8(path, image_size)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


@dataclass(frozen=True)
class FaceFile:
    """One image in a dataset folder, with its Cartoon Set CSV if it has one."""

    image: Path
    csv: Path | None


def _entry_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a dataset image (None if it is a readable regular file)."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not valid UTF-8"
    try:
        info = path.stat()
    except FileNotFoundError:
        return "dangling symbolic link" if path.is_symlink() else "vanished while the folder was read"
    except OSError as exc:
        return "symbolic link loop" if exc.errno == errno.ELOOP else f"cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a folder, FIFO, socket or device)"
    if not os.access(path, os.R_OK):
        return "cannot be read (permission denied)"
    return None


def scan_folder(root: str | os.PathLike, skipped: list[list[str]] | None = None) -> list[FaceFile]:
    """Every image under ``root`` (subfolders included), sorted, each paired with its CSV.

    Symbolic links to folders are followed once (a folder reached twice is not walked again).
    Entries that cannot be images (dangling or looping links, FIFOs, sockets, devices, unreadable
    files, names that are not UTF-8) are left out; each is appended to ``skipped`` as
    ``[relative name, reason]``. A CSV matches its image case-insensitively (``.csv`` or ``.CSV``).
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError(f"dataset folder {root} does not exist")
    if not root.is_dir():
        raise DataError(f"{root} is a file, not a dataset folder")
    if not os.access(root, os.R_OK | os.X_OK):
        raise DataError(f"dataset folder {root} cannot be read (permission denied)")
    skipped = skipped if skipped is not None else []
    found = []
    seen_folders = set()

    def unreadable(exc: OSError) -> None:
        skipped.append([_relative(Path(exc.filename or root), root), f"folder cannot be read ({exc.strerror or exc})"])

    for folder, dirs, names in os.walk(root, onerror=unreadable, followlinks=True):
        try:
            info = os.stat(folder)
        except OSError:
            dirs[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen_folders:  # a link back to a folder already walked
            dirs[:] = []
            skipped.append([_relative(Path(folder), root), "folder already walked (symbolic link loop or duplicate)"])
            continue
        seen_folders.add((info.st_dev, info.st_ino))
        dirs.sort()
        csvs = {n[:-4]: n for n in names if n.lower().endswith(".csv")}
        for name in sorted(names):
            path = Path(folder) / name
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            problem = _entry_problem(path)
            if problem:
                skipped.append([_relative(path, root), problem])
                continue
            csv = csvs.get(path.stem)
            if csv is not None and _entry_problem(Path(folder) / csv):
                csv = None
            found.append(FaceFile(path, Path(folder) / csv if csv else None))
    if not found:
        raise DataError(
            f"dataset folder {root} holds no PNG, JPEG or WebP images"
            + (
                f" it can read ({len(skipped)} entries skipped, e.g. {skipped[0][0]}: {skipped[0][1]})"
                if skipped
                else ""
            )
        )
    return found


def _relative(path: Path, root: Path) -> str:
    try:
        text = str(path.relative_to(root))
    except ValueError:
        text = str(path)
    return os.fsencode(text).decode("utf-8", "backslashreplace")  # undecodable bytes shown as \xNN


def read_labels(face: FaceFile) -> tuple[list[int], str | None]:
    """The 18 attribute values (−1 where unknown) and an error message if the CSV was malformed.

    A UTF-8 byte-order mark at the start of the file is accepted.
    """
    if face.csv is None:
        return labels_vector(None), None
    try:
        text = face.csv.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return labels_vector(None), f"{face.csv}: cannot read ({exc.__class__.__name__})"
    try:
        return labels_vector(parse_csv(text, face.csv)), None
    except CsvFormatError as exc:
        return labels_vector(None), str(exc)


def load_face(job: tuple[FaceFile, int]) -> tuple[np.ndarray | None, list[int], str | None, str | None]:
    """One face for the cache: its (H, W, 3) uint8 image (None if unusable), labels, image error, CSV error."""
    face, image_size = job
    labels, csv_error = read_labels(face)
    try:
        return load_image_uint8(face.image, image_size), labels, None, csv_error
    except ImageLoadError as exc:
        return None, labels, str(exc), csv_error


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
