"""A pixel-weight map from labelled real faces: more weight where the pixels tell an attribute's classes apart.

For each chosen attribute of each folder, every pixel's η² (the share of its colour variance across the training
faces that the attribute's class explains; each folder's hash hold-out is left out) is scaled to peak 1; the maps
are summed, smoothed, scaled to peak 1 again, and the weights are ``1 + strength · map``. Eye colour lights up two
iris-sized spots: a reconstruction's wrong eye colour then costs ``strength`` times more there.

    python -m vae.measure.pixel_weights OUT.pt --data FOLDER [--data …] [--attribute eye_color …] [--strength 20]

Train with it: ``train_cli.py … --pixel-weights OUT.pt``. The faces must be framed alike: the three real folders are,
once cropped to their content as every face is (the AMLS and ADL eye-colour maps peak on the same pixels).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torchvision.transforms.functional import gaussian_blur

from ..common.atomic import WriteError
from ..common.cli_args import float_range, int_range
from ..data.folder import DataError
from ..model import pixel_weights
from .fidelity import HELD_OUT, open_labelled

CHUNK = 1024


def explained_variance(batches, classes: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Per-pixel η² (H, W) of ``classes`` (N,; −1 unknown) over the faces that ``batches`` yields in order.

    ``batches`` yields (B, C, H, W) chunks whose sizes add up to N; colour channels are summed.
    """
    sums = counts = total_sq = None
    start = 0
    for x in batches:
        x = x.double()
        y = classes[start : start + len(x)]
        start += len(x)
        x, y = x[y >= 0], y[y >= 0]
        if sums is None:
            sums = torch.zeros((n_classes, *x.shape[1:]), dtype=torch.float64)
            counts = torch.zeros(n_classes, dtype=torch.float64)
            total_sq = torch.zeros(x.shape[1:], dtype=torch.float64)
        sums.index_add_(0, y, x)
        counts += torch.bincount(y, minlength=n_classes).double()
        total_sq += x.pow(2).sum(0)
    n = counts.sum() if counts is not None else 0
    if not n:
        raise DataError("no labelled faces for this attribute")
    mean = sums.sum(0) / n
    total = (total_sq / n - mean.pow(2)).sum(0)
    seen = counts > 0
    class_means = sums[seen] / counts[seen, None, None, None]
    between = ((class_means - mean).pow(2).sum(1) * (counts[seen] / n)[:, None, None]).sum(0)
    return torch.where(total > 1e-8, between / total.clamp(min=1e-8), torch.zeros_like(total)).float()


def build(
    folders: list[str | Path],
    attributes: list[str],
    strength: float = 20.0,
    held_out: int = HELD_OUT,
    blur: float = 1.0,
) -> tuple[torch.Tensor, dict]:
    """The weights (H, W) at 64 px for ``attributes`` of ``folders``' labelled training faces, and how they were
    made."""
    cache, heads, targets, train_idx, _ = open_labelled(folders, held_out)
    chosen = [name for name in heads if name.split(":")[-1] in attributes]
    if not chosen:
        known = sorted({name.split(":")[-1] for name in heads})
        raise DataError(f"no folder labels {', '.join(attributes)} (their labels: {', '.join(known) or 'none'})")
    chunks = [train_idx[i : i + CHUNK] for i in range(0, len(train_idx), CHUNK)]
    total = None
    for name in chosen:
        eta = explained_variance((cache.batch(c).float() for c in chunks), targets[name][train_idx], heads[name])
        eta = eta / eta.max().clamp(min=1e-8)
        total = eta if total is None else total + eta
    if blur > 0:
        size = 2 * round(3 * blur) + 1
        total = gaussian_blur(total[None, None], [size, size], [blur, blur])[0, 0]
    total = total / total.max().clamp(min=1e-8)
    about = {"heads": chosen, "strength": strength, "blur": blur, "faces": len(train_idx), "held_out": held_out}
    return 1.0 + strength * total, about


def main(argv: list[str] | None = None) -> int:
    """Command line: build a map and write it."""
    parser = argparse.ArgumentParser(prog="python -m vae.measure.pixel_weights", description=__doc__.splitlines()[0])
    parser.add_argument("out", help="where to write the map (.pt)")
    parser.add_argument("--data", action="append", required=True, metavar="FOLDER", help="a folder with a labels.tsv")
    parser.add_argument(
        "--attribute", action="append", metavar="NAME", help="a labelled attribute, e.g. eye_color (default: eye_color)"
    )
    parser.add_argument("--strength", type=float_range(0, 1000), default=20.0, help="peak weight − 1 (default 20)")
    parser.add_argument("--blur", type=float_range(0, 8), default=1.0, help="Gaussian σ in pixels (default 1)")
    parser.add_argument("--held-out", type=int_range(1, 1_000_000), default=HELD_OUT)
    args = parser.parse_args(argv)
    try:
        weights, about = build(args.data, args.attribute or ["eye_color"], args.strength, args.held_out, args.blur)
        pixel_weights.save(args.out, weights, about)
    except (DataError, WriteError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    heavy = (weights > 1 + args.strength / 2).sum().item()
    heads = ", ".join(about["heads"])
    print(f"wrote {args.out}: {heads}; {heavy} of {weights.numel()} pixels weigh over half the peak")
    return 0


if __name__ == "__main__":
    sys.exit(main())
