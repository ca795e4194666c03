"""Measure a checkpoint on freshly generated faces: SSIM, PSNR, KL, active units.

    python -m vae.evaluate resources/default_model.pt [--count 500] [--seed 777] [--grid out.png]

The faces are drawn with a seed the built-in training set never uses, preprocessed exactly like
training data, and reconstructed from μ. ``--training-faces`` measures on the built-in training set's
first faces instead: the gap between the two is overfitting. ``--grid`` saves rows of originals,
reconstructions, samples from N(0, I) and, when the checkpoint has one, samples from its fitted prior.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from . import checkpoint, synth
from .cache import BUILTIN_IMAGE_SIDE, BUILTIN_SEED, open_folder
from .export import ExportError, save_grid
from .latent import sample_fitted
from .metrics import evaluate

HELD_OUT_SEED = 777


def _grid_rows(ckpt, x: torch.Tensor, temperature: float) -> torch.Tensor:
    """Originals, reconstructions, N(0, I) samples and, when stored, fitted-prior samples."""
    model, n = ckpt.model, x.shape[0]
    with torch.no_grad():
        rows = [x, model(x)[0], model.sample(n, temperature, torch.Generator().manual_seed(0))]
        if ckpt.latent_prior is not None:
            rows.append(model.decode(sample_fitted(n, ckpt.latent_prior, temperature, torch.Generator().manual_seed(0))))
    return torch.cat(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--count", type=int, default=500, help="faces to generate (default 500)")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED, help=f"generator seed (default {HELD_OUT_SEED})")
    parser.add_argument("--training-faces", action="store_true",
                        help="measure on the first --count faces of the built-in training set instead "
                             "(its validation faces left out)")
    parser.add_argument("--grid", type=Path, default=None, help="save a PNG: originals, reconstructions, samples")
    parser.add_argument("--temperature", type=float, default=1.0, help="prior temperature for the samples in --grid")
    args = parser.parse_args(argv)
    if args.count < 2:
        parser.error(f"--count must be at least 2, got {args.count}")
    if args.seed == BUILTIN_SEED:
        parser.error(f"seed {BUILTIN_SEED} is the built-in training set's (use --training-faces)")
    seed = BUILTIN_SEED if args.training_faces else args.seed
    try:
        ckpt = checkpoint.load(args.checkpoint)
    except checkpoint.CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = ckpt.model
    with tempfile.TemporaryDirectory() as tmp:
        synth.generate(Path(tmp) / "faces", args.count, seed=seed, size=BUILTIN_IMAGE_SIDE)
        data = open_folder(Path(tmp) / "faces", model.image_size, log=lambda m: None, cache_dir=Path(tmp) / "cache")
        indices = data.split()[0] if args.training_faces else np.arange(len(data))
        result = evaluate(model, data, indices, beta=1.0)
        grid = _grid_rows(ckpt, data.batch(indices[:16]), args.temperature) if args.grid else None
    if grid is not None:
        try:
            save_grid(args.grid, grid, nrow=min(16, len(indices)))
        except ExportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    which = "built-in training faces" if args.training_faces else f"new faces (seed {seed})"
    print(f"{args.checkpoint} on {len(indices)} {which}: SSIM {result['ssim']:.4f}, "
          f"PSNR {result['psnr']:.2f} dB, reconstruction {result['recon']:.1f}, KL {result['kl']:.1f} nats, "
          f"active units {result['active_units']}/{model.latent_dim}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
