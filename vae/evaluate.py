"""Measure a checkpoint on freshly generated faces: SSIM, PSNR, KL, active units.

    python -m vae.evaluate resources/default_model.pt [--count 500] [--seed 777] [--grid out.png]

The faces are drawn with a seed the built-in training set never uses, preprocessed exactly like
training data, and reconstructed from μ. ``--grid`` saves rows of originals, reconstructions,
samples from N(0, I) and, when the checkpoint has one, samples from its fitted latent prior.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from . import checkpoint, synth
from .cache import BUILTIN_IMAGE_SIDE, BUILTIN_SEED, open_folder
from .export import save_grid
from .latent import sample_fitted
from .metrics import evaluate

HELD_OUT_SEED = 777


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    parser.add_argument("--grid", type=Path, default=None, help="save a PNG: originals, reconstructions, samples")
    parser.add_argument("--temperature", type=float, default=1.0, help="prior temperature for the samples in --grid")
    args = parser.parse_args(argv)
    if args.seed == BUILTIN_SEED:
        parser.error(f"seed {BUILTIN_SEED} is the built-in training set's")
    try:
        ckpt = checkpoint.load(args.checkpoint)
    except checkpoint.CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = ckpt.model
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FACE_EXPLORER_CACHE"] = str(Path(tmp) / "cache")
        synth.generate(Path(tmp) / "faces", args.count, seed=args.seed, size=BUILTIN_IMAGE_SIDE)
        data = open_folder(Path(tmp) / "faces", model.image_size, log=lambda m: None)
        indices = np.arange(len(data))
        result = evaluate(model, data, indices, beta=1.0)
        if args.grid:
            x = data.batch(indices[:16])
            rows = [x]
            with torch.no_grad():
                rows.append(model(x)[0])
                rows.append(model.sample(16, args.temperature, torch.Generator().manual_seed(0)))
                if ckpt.latent_prior is not None:
                    z = sample_fitted(16, ckpt.latent_prior, args.temperature, torch.Generator().manual_seed(0))
                    rows.append(model.decode(z))
            save_grid(args.grid, torch.cat(rows), nrow=16)
    print(f"{args.checkpoint} on {len(indices)} new faces (seed {args.seed}): SSIM {result['ssim']:.4f}, "
          f"PSNR {result['psnr']:.2f} dB, reconstruction {result['recon']:.1f}, KL {result['kl']:.1f} nats, "
          f"active units {result['active_units']}/{model.latent_dim}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
