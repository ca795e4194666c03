"""Measure a checkpoint: reconstruction SSIM, PSNR, KL, active units, and the sharpness of its latent space.

    python -m vae.measure.evaluate resources/default_model.pt --data ../cartoonset10k_128 [--grid out.png]
    python -m vae.measure.evaluate resources/default_model.pt [--count 500] [--seed 777] [--grid out.png]

With ``--data DIR`` the faces are the folder's held-out split (the validation faces no run trains
on; ``--all-faces`` takes every face, for a folder never trained on), and the report adds how
crisp the model's own faces are next to real ones (Laplacian energy ratio, see
:mod:`vae.measure.quality`): 8 sets of 500 Random draws at the app's temperature, morph middles between pairs of
held-out faces and A + (B − C) over triples of them. ``--grid`` then saves rows of those
(model outputs only: reconstructions, Random, morph middles, arithmetic).

Without ``--data`` the faces are drawn with a seed the built-in training set never uses, preprocessed exactly like
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
from torchmetrics.functional.image import structural_similarity_index_measure

from ..data import synth
from ..data.cache import BUILTIN_IMAGE_SIDE, BUILTIN_SEED, open_folder
from ..data.folder import DataError
from ..explore.export import ExportError, grid_row, save_grid
from ..model import checkpoint, pixel_weights
from ..model.latent import REFINE_LR, REFINE_STEPS, SNAP_NOISE, denoise_to_prior, fit_latents, sample_fitted
from ..model.metrics import encode_all, evaluate
from ..train.trainer import training_split
from .quality import (
    APP_TEMPERATURE,
    arithmetic_results,
    decode,
    morph_middles,
    random_sharpness,
    sharpness_ratio,
)

HELD_OUT_SEED = 777
RANDOM_COUNT = 500
RANDOM_SETS = 8
BOUND_FACES = 200
BOUND_STEPS = 100


def evaluate_folder(
    ckpt,
    folder,
    all_faces: bool = False,
    cache_dir=None,
    held_out: int | None = None,
    decoder_bound: bool = False,
    training: int = 0,
    refine_weights: str | Path | None = None,
) -> tuple[dict, torch.Tensor]:
    """Reconstruction and latent-space figures on a folder's held-out faces, and a grid of model outputs.

    Returns (figures, grid): SSIM, PSNR, KL, active units, the faces' count, and the sharpness ratios
    of the reconstructions, Random (RANDOM_SETS sets of RANDOM_COUNT draws at the app's temperature: their mean, and
    ``sharpness_random_spread``, the standard deviation between sets), morph middles and A + (B − C) against
    the held-out faces themselves; the grid's rows are 16 reconstructions, Random faces, morph
    middles and arithmetic results, each of the last two followed, with a fitted prior, by the same
    snapped to faces as the app shows them. The held-out faces are the folder's 5 % validation split, or with
    ``held_out`` the faces of :func:`vae.data.folder.holdout_split` (what ``train_cli.py --holdout`` leaves out).
    With ``decoder_bound``, ``ssim_decoder_bound`` is the SSIM on the first BOUND_FACES of them when each
    face's latent is optimised against the fixed decoder (:func:`vae.model.latent.fit_latents`), next to
    ``ssim_encoder`` from μ on the same faces (what a better encoder alone could gain), and ``ssim_refined`` from
    μ refined as the app encodes an image (its squared error weighed by the map ``refine_weights`` when given).
    With ``training`` > 0, the first ``training`` faces of the training split instead (how much better seen faces fare).
    """
    model = ckpt.model.eval()
    data = open_folder(folder, model.image_size, cache_dir=cache_dir)
    try:
        train_idx, held_idx = training_split(data, held_out or 0)
    except ValueError as exc:
        raise DataError(f"{folder}: {exc}") from None
    indices = np.arange(len(data)) if all_faces else train_idx[:training] if training else held_idx
    if len(indices) < 3:
        raise DataError(
            f"{folder}: {len(indices)} {'' if all_faces else 'held-out '}face(s); the measures need at least 3"
            + ("" if all_faces else " (--all-faces uses every face, for a folder never trained on)")
        )
    figures = evaluate(model, data, indices, beta=1.0)
    real = data.batch(indices)
    mu, _ = encode_all(model, data, indices)
    random_mean, random_spread, random_faces = random_sharpness(
        model, ckpt.latent_prior, real, RANDOM_COUNT, RANDOM_SETS
    )
    figures.update(sharpness_random=random_mean, sharpness_random_spread=random_spread)
    outputs = {}
    for name, z in (("morph", morph_middles(mu)), ("arithmetic", arithmetic_results(mu))):
        outputs[name] = decode(model, z)
        if ckpt.latent_prior is not None:  # what the panels show by default (a morph's middle: fully)
            outputs[f"{name}_snapped"] = decode(model, denoise_to_prior(z, ckpt.latent_prior, SNAP_NOISE, nearest=True))
            averaged = decode(model, denoise_to_prior(z, ckpt.latent_prior, SNAP_NOISE))  # the averaged pull, beside it
            figures[f"sharpness_{name}_averaged"] = sharpness_ratio(averaged, real)
    recon = decode(model, mu)
    figures.update({f"sharpness_{name}": sharpness_ratio(images, real) for name, images in outputs.items()})
    figures["sharpness_reconstruction"] = sharpness_ratio(recon, real)  # what the decoder draws at best
    figures["count"] = len(indices)
    if decoder_bound:
        weights = pixel_weights.load(refine_weights, model.image_size) if refine_weights else None
        figures.update(_decoder_bound(model, real[:BOUND_FACES], mu[:BOUND_FACES], recon[:BOUND_FACES], weights))
    width = grid_width(len(indices))
    grid = torch.cat([grid_row(images, width) for images in [recon, random_faces, *outputs.values()]])
    return figures, grid


def _decoder_bound(model, images: torch.Tensor, mu: torch.Tensor, recon: torch.Tensor, weights=None) -> dict:
    fitted = decode(model, fit_latents(model, images, mu, steps=BOUND_STEPS))
    refined = decode(model, fit_latents(model, images, mu, REFINE_STEPS, REFINE_LR, weights=weights))
    ssim = lambda decoded: structural_similarity_index_measure(decoded, images, data_range=1.0).item()  # noqa: E731
    return {
        "ssim_encoder": ssim(recon),
        "ssim_decoder_bound": ssim(fitted),
        "ssim_refined": ssim(refined),
        "bound_faces": len(images),
    }


def grid_width(faces: int) -> int:
    """Faces per row of :func:`evaluate_folder`'s grid: 16, or fewer for a folder of fewer faces."""
    return min(16, faces)


def _grid_rows(ckpt, x: torch.Tensor, temperature: float) -> torch.Tensor:
    """Originals, reconstructions, N(0, I) samples and, when stored, fitted-prior samples."""
    model, n = ckpt.model, x.shape[0]
    with torch.no_grad():
        rows = [x, model(x)[0], model.sample(n, temperature, torch.Generator().manual_seed(0))]
        if ckpt.latent_prior is not None:
            rows.append(
                model.decode(sample_fitted(n, ckpt.latent_prior, temperature, torch.Generator().manual_seed(0)))
            )
    return torch.cat(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.measure.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--count", type=int, default=500, help="faces to generate (default 500)")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED, help=f"generator seed (default {HELD_OUT_SEED})")
    parser.add_argument(
        "--training-faces",
        action="store_true",
        help="measure on the first --count faces of the built-in training set instead "
        "(its validation faces left out); with --data, on the first --count faces of the folder's "
        "training split",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="measure on this folder's held-out faces (e.g. the real Cartoon Set) instead of generated ones",
    )
    parser.add_argument(
        "--held-out",
        type=int,
        default=None,
        metavar="N",
        help="with --data: the N faces that train_cli.py --holdout N leaves out (default: the 5%% validation split)",
    )
    parser.add_argument(
        "--all-faces", action="store_true", help="with --data: every face of the folder, not its held-out split"
    )
    parser.add_argument("--grid", type=Path, default=None, help="save a PNG: originals, reconstructions, samples")
    parser.add_argument(
        "--decoder-bound",
        action="store_true",
        help=f"with --data: also the SSIM when each face's latent is optimised against the fixed decoder "
        f"({BOUND_FACES} faces, {BOUND_STEPS} Adam steps): what a better encoder alone could reach",
    )
    parser.add_argument(
        "--refine-weights",
        metavar="MAP",
        help="with --decoder-bound: weigh the refinement's squared error with this pixel-weight map, as the app does",
    )
    parser.add_argument("--temperature", type=float, default=1.0, help="prior temperature for the samples in --grid")
    args = parser.parse_args(argv)
    if args.count < 2:
        parser.error(f"--count must be at least 2, got {args.count}")
    if args.all_faces and args.training_faces:
        parser.error("--all-faces and --training-faces exclude each other")
    if args.seed == BUILTIN_SEED:
        parser.error(f"seed {BUILTIN_SEED} is the built-in training set's (use --training-faces)")
    seed = BUILTIN_SEED if args.training_faces else args.seed
    try:
        ckpt = checkpoint.load(args.checkpoint)
    except checkpoint.CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model = ckpt.model
    if args.data is not None:
        return _report_folder(args, ckpt)
    with tempfile.TemporaryDirectory() as tmp:
        synth.generate(Path(tmp) / "faces", args.count, seed=seed, size=BUILTIN_IMAGE_SIDE)
        data = open_folder(Path(tmp) / "faces", model.image_size, cache_dir=Path(tmp) / "cache")
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
    print(
        f"{args.checkpoint} on {len(indices)} {which}: SSIM {result['ssim']:.4f}, "
        f"PSNR {result['psnr']:.2f} dB, reconstruction {result['recon']:.1f}, KL {result['kl']:.1f} nats, "
        f"active units {result['active_units']}/{model.latent_dim}"
    )
    return 0


def _report_folder(args, ckpt) -> int:
    try:
        figures, grid = evaluate_folder(
            ckpt,
            args.data,
            args.all_faces,
            held_out=args.held_out,
            decoder_bound=args.decoder_bound,
            refine_weights=args.refine_weights,
            training=args.count if args.training_faces else 0,
        )
    except (DataError, pixel_weights.PixelWeightsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.grid:
        try:
            save_grid(args.grid, grid, nrow=grid_width(figures["count"]))
        except ExportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    which = "faces" if args.all_faces else "training faces" if args.training_faces else "held-out faces"
    print(
        f"{args.checkpoint} on {figures['count']} {which} of {args.data}: SSIM {figures['ssim']:.4f}, "
        f"PSNR {figures['psnr']:.2f} dB, reconstruction {figures['recon']:.1f}, KL {figures['kl']:.1f} nats, "
        f"active units {figures['active_units']}/{ckpt.model.latent_dim}"
    )
    print(
        "sharpness vs. real faces (Laplacian energy ratio): "
        f"Random ({RANDOM_SETS} × {RANDOM_COUNT}, T={APP_TEMPERATURE}) "
        f"{figures['sharpness_random']:.3f} (± {figures['sharpness_random_spread']:.3f} between sets), "
        f"morph middles {figures['sharpness_morph']:.3f}{_snapped(figures, 'morph')}, "
        f"A + (B - C) {figures['sharpness_arithmetic']:.3f}{_snapped(figures, 'arithmetic')}"
        + f"; reconstructions {figures['sharpness_reconstruction']:.3f}"
    )
    if "ssim_decoder_bound" in figures:
        print(
            f"decoder bound on {figures['bound_faces']} of them: SSIM {figures['ssim_decoder_bound']:.4f} with each "
            f"latent optimised against the fixed decoder, {figures['ssim_encoder']:.4f} from the encoder's μ, "
            f"{figures['ssim_refined']:.4f} refined as the app encodes an image ({REFINE_STEPS} steps)"
        )
    return 0


def _snapped(figures: dict, name: str) -> str:
    key = f"sharpness_{name}_snapped"
    if key not in figures:
        return ""
    averaged = figures[f"sharpness_{name}_averaged"]
    return f" (snapped to the nearest faces, as the app shows it: {figures[key]:.3f}; to their average: {averaged:.3f})"


if __name__ == "__main__":
    sys.exit(main())
