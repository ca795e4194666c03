"""Render docs/directions_grid.png: held-out real faces moved along a checkpoint's attribute directions.

    python docs/make_direction_grid.py CHECKPOINT [--data ../shared/cartoonset10k_128] [--out docs/directions_grid.png]
                                      [--directions glasses facial_hair ...] [--strength 2] [--faces 8] [--hold]

Rows are the first ``--faces`` faces of the held-out split (vae.data.folder.holdout_split, 500 faces),
which the model never trained on. The first column is each face's reconstruction decode(μ); each
further column is decode(μ + strength·d) for one direction d, and with ``--hold`` it is followed by the same edit
with the rest of the face held as the Arithmetic tab holds it (vae.explore.attribute_hold). Only model outputs are
drawn, never the input images.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from gui.attributes import describe_direction  # noqa: E402
from vae.data.cache import open_folder  # noqa: E402
from vae.data.folder import DataError, holdout_split  # noqa: E402
from vae.explore.attribute_hold import hold_edit, load_hold_classifier  # noqa: E402
from vae.explore.export import save_pil, to_pil  # noqa: E402
from vae.model import checkpoint  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "cartoonset10k_128"
HELD_OUT = 500
# Shown when --directions is not given: the checkpoint's directions taken in turns from these lists.
PREFERRED = [
    ["glasses"],
    ["facial_hair"],
    [f"hair_color:{v}" for v in (5, 0, 8, 4, 3, 1, 6, 7, 2, 9)],
    [f"face_color:{v}" for v in (9, 1, 10, 0, 8, 2, 7, 3, 6, 4, 5)],
    [f"eye_color:{v}" for v in (1, 2, 0, 3, 4)],
]
TILE = 128
HEADER = 34


def choose_directions(available: dict, wanted: list[str] | None, count: int = 6) -> list[str]:
    """The directions to draw: ``wanted`` (each must exist), else ``count`` of the checkpoint's, in turns from
    PREFERRED."""
    if wanted:
        missing = [name for name in wanted if name not in available]
        if missing:
            raise ValueError(
                f"the checkpoint has no direction {missing[0]!r} (it has: {', '.join(available) or 'none'})"
            )
        return wanted
    queues = [[name for name in group if name in available] for group in PREFERRED]
    chosen: list[str] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    chosen += [name for name in available if name not in chosen][: count - len(chosen)]
    if not chosen:
        raise ValueError("the checkpoint has no attribute directions (package it with --directions-from)")
    return chosen


def render(
    model, faces: torch.Tensor, directions: list[tuple[str, torch.Tensor]], strength: float, hold=None
) -> Image.Image:
    """The grid as a PIL image: a header of direction names, then one row per face; with a ``hold`` classifier, each
    direction's column is followed by its edit with the rest of the face held."""
    model.eval()
    with torch.no_grad():
        mu, _ = model.encode(faces)
    latents, titles = [mu], ["reconstruction"]
    for name, d in directions:
        edited = mu + strength * d / d.norm()
        latents.append(edited)
        titles.append(f"{describe_direction(name)} {strength:+g}")
        if hold is not None:
            latents.append(torch.stack([hold_edit(model, hold, a, b, [name]) for a, b in zip(mu, edited)]))
            titles.append(f"{describe_direction(name)} {strength:+g}, held")
    with torch.no_grad():
        columns = [model.decode(z) for z in latents]
    sheet = Image.new("RGB", (TILE * len(columns), HEADER + TILE * len(faces)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=12)
    for c, (title, images) in enumerate(zip(titles, columns)):
        for line, text in enumerate(title.split(": ")):  # "hair colour: golden blonde +2, held" on two lines
            draw.text((c * TILE + TILE // 2, 4 + 14 * line), text, fill=(30, 30, 30), font=font, anchor="ma")
        for r, image in enumerate(images):
            sheet.paste(to_pil(image, TILE), (c * TILE, HEADER + r * TILE))
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"the real faces (default {DEFAULT_DATA})")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "directions_grid.png")
    parser.add_argument("--directions", nargs="+", default=None, help="direction names (default: six the model has)")
    parser.add_argument("--strength", type=float, default=2.0)
    parser.add_argument("--faces", type=int, default=8)
    parser.add_argument("--hold", action="store_true", help="draw each edit also with the rest of the face held")
    parser.add_argument(
        "--held-out", type=int, default=HELD_OUT, help=f"size of the held-out split (default {HELD_OUT})"
    )
    args = parser.parse_args(argv)
    try:
        ckpt = checkpoint.load(args.checkpoint)
        names = choose_directions(ckpt.directions, args.directions)
        cache = open_folder(args.data, ckpt.model.image_size)
        _, held = holdout_split(cache.files, min(args.held_out, len(cache) - 1))
        hold = load_hold_classifier() if args.hold else None
        if args.hold and hold is None:
            raise ValueError("the hold classifier (resources/hold_classifier.pt) is missing or unreadable")
    except (checkpoint.CheckpointError, DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    faces = cache.batch(held[: args.faces])
    directions = [(name, ckpt.directions[name]) for name in names]
    sheet = render(ckpt.model.float(), faces, directions, args.strength, hold)
    save_pil(args.out, sheet)
    print(f"wrote {args.out}: {len(faces)} held-out faces × {', '.join(names)} at strength {args.strength:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
