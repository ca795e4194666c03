"""Exports: faces, grids and morphs as PNG/GIF, each with a sidecar JSON of the latents.

A still image is written in the format its name asks for (``.png``, ``.jpg``/``.jpeg``, ``.webp``; PNG otherwise).

Every write is atomic; an unwritable path raises :class:`ExportError` and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..common.atomic import WriteError, atomic_write
from .latent_io import validate_latent
from .upscale import DEFAULT_UPSCALE, upscale

MIN_EXPORT_SIZE, MAX_EXPORT_SIZE = 16, 4096
SIDECAR_FORMAT = "face-explorer-latents"
MAX_LATENT_FILE_BYTES = 50_000_000


STILL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
STILL_SAVE_OPTIONS = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"lossless": True}}


class ExportError(OSError):
    """An export could not be written; the message names the path and the reason."""


def to_pil(image: torch.Tensor, size: int | None = None, method: str = DEFAULT_UPSCALE) -> Image.Image:
    """A (3, H, W) image in [0, 1] (or uint8) as a PIL image, resized to ``size``×``size`` by ``method``
    (vae.explore.upscale)."""
    image = image.detach().cpu()
    if image.dtype != torch.uint8:
        image = (image.float().clamp(0, 1) * 255).round().to(torch.uint8)
    array = image.permute(1, 2, 0).numpy()
    pil = Image.fromarray(np.ascontiguousarray(array), "RGB")
    if size is not None and size != pil.width:
        if not MIN_EXPORT_SIZE <= size <= MAX_EXPORT_SIZE:
            raise ValueError(f"export size must be between {MIN_EXPORT_SIZE} and {MAX_EXPORT_SIZE}, got {size}")
        pil = upscale(pil, size, method)
    return pil


def grid(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> torch.Tensor:
    """Images (N, 3, H, W) in [0, 1] (or uint8) tiled into one (3, H', W') image on white, by
    ``torchvision.utils.make_grid``."""
    from torchvision.utils import make_grid  # imported on use: torchvision takes seconds to import

    if images.dtype == torch.uint8:
        return make_grid(images.cpu(), nrow=nrow, padding=padding, pad_value=255)
    return make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=padding, pad_value=1.0)


def enlarged(images: torch.Tensor, size: int) -> torch.Tensor:
    """Faces (N, 3, H, W) in [0, 1] as (N, 3, size, size) uint8, each resized as an exported face is."""
    return torch.stack([torch.from_numpy(np.array(to_pil(image, size))).permute(2, 0, 1) for image in images])


def grid_row(images: torch.Tensor, width: int) -> torch.Tensor:
    """The first ``width`` images, white ones filling the row when there are fewer: one kind of face per grid row."""
    row = images[:width]
    return torch.cat([row, row.new_ones(width - len(row), *row.shape[1:])]) if len(row) < width else row


def sidecar_path(path: str | os.PathLike) -> Path:
    """The JSON file that accompanies an exported image: ``face.png`` → ``face.png.json``. Named after the whole
    file name, it is never a file of the user's such as ``face.json``, nor another export's (``face.gif``)."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def _is_sidecar_of(sidecar: Path, image_name: str) -> bool:
    """Whether ``sidecar`` is the latent file an earlier export of ``image_name`` wrote (so it may be replaced)."""
    try:
        if sidecar.stat().st_size > MAX_LATENT_FILE_BYTES:
            return False
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("format") == SIDECAR_FORMAT and data.get("image") == image_name


def _sidecar_bytes(latents: torch.Tensor, checkpoint: str | None, kind: str, **extra) -> bytes:
    data = {
        "format": SIDECAR_FORMAT,
        "kind": kind,
        "checkpoint": checkpoint,
        "latent_dim": int(latents.shape[-1]),
        "latents": latents.detach().double().cpu().reshape(-1, latents.shape[-1]).tolist(),
        **extra,
    }
    return json.dumps(data, indent=1).encode()


def _write(path: Path, write_fn) -> None:
    try:
        with atomic_write(path) as handle:
            write_fn(handle)
    except WriteError as exc:
        raise ExportError(str(exc)) from exc


def still_format(path: str | os.PathLike) -> str:
    """The Pillow format a still export named ``path`` is written in: from its suffix, PNG where it names none."""
    return STILL_FORMATS.get(Path(path).suffix.lower(), "PNG")


def _save_still(path: str | os.PathLike, image: Image.Image, latents, checkpoint, kind, **extra) -> Path:
    """Write ``image`` in :func:`still_format` of ``path`` (JPEG at quality 95, WebP lossless), with its sidecar."""
    fmt = still_format(path)

    def write(handle):
        image.save(handle, format=fmt, **STILL_SAVE_OPTIONS.get(fmt, {}))

    return _write_with_sidecar(Path(path), write, latents, checkpoint, kind, **extra)


def _write_with_sidecar(path: Path, write_fn, latents, checkpoint, kind, **extra) -> Path:
    path = Path(path)
    sidecar = sidecar_path(path)
    if latents is not None and sidecar.exists() and not _is_sidecar_of(sidecar, path.name):
        raise ExportError(
            f"{sidecar} exists and is not the latent file of {path.name}; it is left as it is: "
            "export under another name"
        )
    _write(path, write_fn)
    if latents is not None:
        try:
            payload = _sidecar_bytes(torch.as_tensor(latents), checkpoint, kind, image=path.name, **extra)
            _write(sidecar, lambda h: h.write(payload))
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
    return path


def save_latents(path: str | os.PathLike, latents: torch.Tensor, checkpoint: str | None = None) -> Path:
    """Write latent vector(s) alone as JSON (the explorer's Save latent)."""
    payload = _sidecar_bytes(torch.as_tensor(latents), checkpoint, "latent")
    path = Path(path)
    _write(path, lambda h: h.write(payload))
    return path


def load_latents(path: str | os.PathLike, latent_dim: int | None = None) -> torch.Tensor:
    """Latents (n, D) from a sidecar or latent JSON; ValueError naming the file if it is unusable.

    Every value is checked by :func:`vae.explore.latent_io.validate_latent` (finite, bounded, one length,
    ``latent_dim`` when given).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if size > MAX_LATENT_FILE_BYTES:
        raise ValueError(f"{path}: too large for a latent file ({size / 1e6:.0f} MB)")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except RecursionError:
        raise ValueError(f"{path}: not a latent file (nested too deeply)") from None
    except UnicodeDecodeError:
        raise ValueError(
            f"{path}: not a latent file (not text: pick the .json that Save latent or an export wrote)"
        ) from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a latent file (not JSON: line {exc.lineno}, column {exc.colno})") from exc
    except ValueError as exc:  # very long integers
        raise ValueError(f"{path}: not a latent file ({exc})") from exc
    if not isinstance(data, dict) or "latents" not in data:
        raise ValueError(f'{path}: not a latent file (no "latents" list)')
    return validate_latent(data["latents"], latent_dim, str(path))


def save_face(
    path: str | os.PathLike,
    image: torch.Tensor,
    size: int = 512,
    latent: torch.Tensor | None = None,
    checkpoint: str | None = None,
    **extra,
) -> Path:
    """One face as a ``size``×``size`` image (+ sidecar JSON when ``latent`` is given, with ``extra`` fields in it,
    e.g. the Arithmetic tab's ``recipe``)."""
    return _save_still(path, to_pil(image, size), latent, checkpoint, "face", **extra)


def save_grid(
    path: str | os.PathLike,
    images: torch.Tensor,
    nrow: int = 8,
    latents: torch.Tensor | None = None,
    checkpoint: str | None = None,
    padding: int = 2,
) -> Path:
    """A grid of images (N, 3, H, W) as one image via ``torchvision.utils.make_grid``."""
    return _save_still(path, to_pil(grid(images, nrow, padding)), latents, checkpoint, "grid")


def save_strip(
    path: str | os.PathLike,
    frames: torch.Tensor,
    size: int = 128,
    latents: torch.Tensor | None = None,
    checkpoint: str | None = None,
) -> Path:
    """Morph frames side by side as one image, each frame ``size`` pixels square."""
    resized = [to_pil(f, size) for f in frames]
    strip = Image.new("RGB", (size * len(resized), size), "white")
    for i, frame in enumerate(resized):
        strip.paste(frame, (i * size, 0))
    return _save_still(path, strip, latents, checkpoint, "strip")


def save_gif(
    path: str | os.PathLike,
    frames: torch.Tensor,
    size: int = 256,
    duration_ms: int = 100,
    loop: int = 0,
    latents: torch.Tensor | None = None,
    checkpoint: str | None = None,
) -> Path:
    """Morph frames as an animated GIF; ``loop=0`` repeats forever."""
    if len(frames) < 1:
        raise ValueError("a GIF needs at least one frame")
    pils = [to_pil(f, size) for f in frames]

    def write(handle):
        pils[0].save(
            handle,
            format="GIF",
            save_all=True,
            append_images=pils[1:],
            duration=duration_ms,
            loop=loop,
            disposal=1,
            optimize=False,
        )

    return _write_with_sidecar(Path(path), write, latents, checkpoint, "gif", duration_ms=duration_ms)


def save_pil(path: str | os.PathLike, image: Image.Image, fmt: str = "PNG") -> Path:
    """Write any PIL image atomically."""
    path = Path(path)
    _write(path, lambda h: image.save(h, format=fmt))
    return path


def save_traversal(
    path: str | os.PathLike,
    image: Image.Image,
    latents: torch.Tensor,
    checkpoint: str | None,
    dims: list[int],
    values: list[float],
) -> Path:
    """A traversal grid (:func:`~vae.explore.traversal.traversal_image`) as one image, with every cell's latent, row
    by row (one row per entry of ``dims``, one column per entry of ``values``), in its sidecar JSON."""
    return _save_still(path, image, latents, checkpoint, "traversal", dims=dims, values=values)


def main(argv: list[str] | None = None) -> int:
    """``python -m vae.explore.export traversal [CKPT] --out grid.png …``: see :mod:`vae.explore.traversal`."""
    import argparse

    from . import traversal  # imported on use: it imports this module

    parser = argparse.ArgumentParser(prog="python -m vae.explore.export", description="Export images from a model.")
    traversal.add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    import sys

    sys.exit(main())
