"""Per-dimension traversals: one face with each used latent dimension swept from −3σ to +3σ, a row of faces each.

    python -m vae.explore.export traversal [CKPT] --out grid.png [--latent FILE] [--steps N] [--face-size PX]
        [--no-labels]

Rows are the active dimensions, most used (highest KL) first; the PNG has a label column (``z12 · hair colour``)
and a header of the swept values, and a sidecar JSON of every cell's latent, row by row.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
from PIL import Image, ImageDraw, ImageFont

from ..common.cli_args import int_range
from ..common.control import QUIET, Control
from ..model import checkpoint as checkpoint_mod
from ..model.latent import active_units, rank_dimensions, traversal_grid, typical_latent
from . import export
from .axis_names import AxisName, name_axes
from .default_choice import DEFAULT_64
from .session import SLIDER_RANGE

DEFAULT_STEPS = 7
MIN_STEPS, MAX_STEPS = 2, 21
DECODE_BATCH = 64
LABEL_WIDTH, HEADER_HEIGHT, FONT_SIZE = 112, 18, 11
MIN_FACE_SIZE, MAX_FACE_SIZE = 32, 512  # a 512 px grid of 32 rows × 21 steps is about 0.5 GB of pixels
PADDING = 2


def traversal_values(steps: int = DEFAULT_STEPS, span: float = SLIDER_RANGE) -> torch.Tensor:
    """``steps`` values evenly from −``span`` to +``span`` (the sliders' range)."""
    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise ValueError(f"a traversal needs {MIN_STEPS}…{MAX_STEPS} steps, got {steps}")
    return torch.linspace(-span, span, steps)


def traversal_dims(kl: torch.Tensor | None, latent_dim: int) -> list[int]:
    """The dimensions to sweep: the active ones by KL, most used first; all in index order when the KL is unknown
    (and all by KL when none is active, so that an untrained model still shows rows)."""
    if kl is None:
        return list(range(latent_dim))
    order = rank_dimensions(kl).tolist()
    active = active_units(kl)
    return [d for d in order if active[d]] or order


def home_latent(ckpt: checkpoint_mod.Checkpoint) -> torch.Tensor:
    """The model's typical face, as the explorer's Reset shows it: the prior's most likely mean, else zero."""
    prior = ckpt.latent_prior
    return typical_latent(prior) if prior is not None else torch.zeros(ckpt.model.latent_dim)


@torch.inference_mode()
def decode(
    model,
    latents: torch.Tensor,
    batch: int = DECODE_BATCH,
    control: Control = QUIET,
) -> torch.Tensor:
    """Images (N, 3, S, S) in [0, 1] for (N, D) latents, ``batch`` at a time; between batches ``control`` may stop
    the work (:class:`~vae.common.control.Cancelled`) and hears the progress."""
    parts = []
    for start in range(0, len(latents), batch):
        control.check()
        parts.append(model.decode(latents[start : start + batch].float()).clamp(0, 1))
        control.progress(min(start + batch, len(latents)), len(latents), "decoding traversals")
    if not parts:
        return torch.zeros(0, 3, model.image_size, model.image_size)
    return torch.cat(parts)


def row_labels(dims: list[int], names: dict[int, AxisName] | None = None) -> list[str]:
    """``z12 · hair colour`` for a named dimension, ``z7`` otherwise."""
    names = names or {}
    return [f"z{d} · {names[d].short}" if d in names else f"z{d}" for d in dims]


def signed(value: float) -> str:
    """A swept value as the header shows it: "+1.5", "-0.4", and "+0.0", never "-0.0"."""
    return f"{round(value, 1) + 0.0:+.1f}"


def _font(size: int = FONT_SIZE):
    try:
        return ImageFont.load_default(size)
    except (TypeError, OSError):  # Pillow without FreeType: its fixed bitmap font
        return ImageFont.load_default()


def traversal_image(
    images: torch.Tensor,
    steps: int,
    labels: list[str] | None = None,
    values: torch.Tensor | None = None,
    padding: int = PADDING,
    face_size: int | None = None,
) -> Image.Image:
    """Rows of ``steps`` faces as one image (``torchvision.utils.make_grid`` on white), with a column of row
    ``labels`` on the left and a header of the swept ``values`` when given; each face ``face_size`` px square when
    given (enlarged or reduced as an exported face is), else the model's size."""
    if face_size is not None and face_size != images.shape[-1]:
        images = export.enlarged(images, face_size)
    tiles = export.to_pil(export.grid(images, nrow=steps, padding=padding))
    scale = max(1.0, images.shape[-1] / 128)  # labels grow with faces larger than 128 px
    left = round(LABEL_WIDTH * scale) if labels is not None else 0
    top = round(HEADER_HEIGHT * scale) if values is not None else 0
    if not left and not top:
        return tiles
    canvas = Image.new("RGB", (tiles.width + left, tiles.height + top), "white")
    canvas.paste(tiles, (left, top))
    draw, font = ImageDraw.Draw(canvas), _font(round(FONT_SIZE * scale))
    cell = images.shape[-1] + padding
    for row, text in enumerate(labels or []):
        y = top + padding + row * cell + images.shape[-2] // 2
        draw.text((round(6 * scale), y), text, fill=(40, 40, 40), font=font, anchor="lm")
    if left and top:
        draw.text((round(6 * scale), top // 2), "value (sd)", fill=(110, 110, 110), font=font, anchor="lm")
    for col, value in enumerate(values if values is not None else []):
        x = left + padding + col * cell + images.shape[-1] // 2
        draw.text((x, top // 2), signed(float(value)), fill=(40, 40, 40), font=font, anchor="mm")
    return canvas


def render(
    ckpt: checkpoint_mod.Checkpoint,
    z: torch.Tensor,
    steps: int = DEFAULT_STEPS,
    labels: bool = True,
    face_size: int | None = None,
) -> tuple[Image.Image, torch.Tensor, list[int], torch.Tensor]:
    """The traversal of ``z`` under ``ckpt``'s model: (image, latents (rows·steps, D), dims, values), each face
    ``face_size`` px square (default: the model's size)."""
    model = ckpt.model.eval()
    dims = traversal_dims(ckpt.latent_kl, model.latent_dim)
    values = traversal_values(steps)
    latents = traversal_grid(z.reshape(-1).float(), dims, values)
    images = decode(model, latents)
    names = name_axes(ckpt.directions, model.latent_dim)
    image = traversal_image(
        images,
        steps,
        row_labels(dims, names) if labels else None,
        values if labels else None,
        face_size=face_size,
    )
    return image, latents, dims, values


def add_cli(commands) -> None:
    """The ``traversal`` subcommand of ``python -m vae.explore.export``."""
    parser = commands.add_parser(
        "traversal",
        help="each used latent dimension of one face swept from −3σ to +3σ, as one PNG",
        description="Write a PNG of traversals: one row per used latent dimension (most used first), "
        "the face with that dimension swept from -3σ to +3σ.",
    )
    parser.add_argument("checkpoint", nargs="?", default=str(DEFAULT_64), help=f"model (default: {DEFAULT_64.name})")
    parser.add_argument("--out", required=True, help="PNG to write (a .png.json of the latents goes beside it)")
    parser.add_argument(
        "--latent",
        default=None,
        help="latent JSON (Save latent or an export's sidecar; its first latent is used); "
        "default: the model's typical face, as Reset shows it",
    )
    parser.add_argument(
        "--steps", type=int_range(MIN_STEPS, MAX_STEPS), default=DEFAULT_STEPS, help="faces per row (default 7)"
    )
    parser.add_argument("--no-labels", action="store_true", help="faces only: no label column or value header")
    parser.add_argument(
        "--face-size",
        type=int_range(MIN_FACE_SIZE, MAX_FACE_SIZE),
        default=None,
        help=f"side of each face in px, {MIN_FACE_SIZE}-{MAX_FACE_SIZE} (default: the model's size; larger faces "
        "are enlarged with crisp edges, as exported faces are)",
    )
    parser.set_defaults(run=run_cli)


def run_cli(args: argparse.Namespace) -> int:
    try:
        ckpt = checkpoint_mod.load(args.checkpoint)
        dim = ckpt.model.latent_dim
        z = export.load_latents(args.latent, dim)[0] if args.latent else home_latent(ckpt)
        image, latents, dims, values = render(ckpt, z, args.steps, labels=not args.no_labels, face_size=args.face_size)
        written = export.save_traversal(
            args.out, image, latents, os.path.basename(args.checkpoint), dims, values.tolist()
        )
    except (checkpoint_mod.CheckpointError, export.ExportError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {written} ({image.width}×{image.height} px: {len(dims)} dimensions × {args.steps} steps)")
    return 0
