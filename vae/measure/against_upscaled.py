"""Is a 128×128 model worth shipping? Its reconstructions against a 64×64 model's, enlarged to 128.

    python -m vae.measure.against_upscaled resources/default_model_128.pt resources/default_model.pt \
        --data ../shared/cartoonset10k_128 --held-out 500

Both models reconstruct the same held-out faces of the folder (the hash-based hold-out does not
depend on the image size); the small model's faces are enlarged to the large model's size with each
export method of :mod:`vae.explore.upscale`. Each row reports SSIM and PSNR against the real faces at
the large size and the reconstructions' sharpness (Laplacian energy over the real faces').
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure
from torchvision.transforms.functional import pil_to_tensor, to_pil_image

from ..data.cache import open_folder
from ..data.folder import DataError
from ..explore.upscale import UPSCALE_METHODS, upscale
from ..model import checkpoint
from ..model.metrics import encode_all
from ..train.trainer import training_split
from .quality import decode, sharpness_ratio


def held_out(folder, image_size: int, count: int, cache_dir=None):
    """The folder's cache at ``image_size`` and the indices of the ``count`` faces ``--holdout`` leaves out."""
    data = open_folder(folder, image_size, cache_dir=cache_dir)
    try:
        return data, training_split(data, count)[1]
    except ValueError as exc:
        raise DataError(f"{folder}: {exc}") from None


def reconstruct(model, data, indices) -> torch.Tensor:
    """Reconstructions from μ, as the explorer shows an encoded face."""
    return decode(model, encode_all(model, data, indices)[0]).clamp(0, 1)


def enlarge(images: torch.Tensor, size: int, method: str) -> torch.Tensor:
    """Each image resized to ``size``×``size`` by an export method."""
    return torch.stack([pil_to_tensor(upscale(to_pil_image(im), size, method)).float() / 255 for im in images])


def figures(faces: torch.Tensor, real: torch.Tensor) -> dict:
    """SSIM, PSNR and sharpness of ``faces`` against ``real``."""
    return {
        "ssim": structural_similarity_index_measure(faces, real, data_range=1.0).item(),
        "psnr": peak_signal_noise_ratio(faces, real, data_range=1.0, dim=(1, 2, 3)).item(),
        "sharpness": sharpness_ratio(faces, real),
    }


def compare(large_ckpt, small_ckpt, folder, held_out_count: int, cache_dir=None) -> dict[str, dict]:
    """Figures of the large model's reconstructions and of the small one's enlarged by each method."""
    large, small = large_ckpt.model.eval(), small_ckpt.model.eval()
    if large.image_size <= small.image_size:
        raise ValueError(
            f"the first model ({large.image_size}px) must draw larger faces than the second ({small.image_size}px)"
        )
    data, idx = held_out(folder, large.image_size, held_out_count, cache_dir)
    small_data, small_idx = held_out(folder, small.image_size, held_out_count, cache_dir)
    if [data.files[i] for i in idx] != [small_data.files[i] for i in small_idx]:
        raise DataError(f"{folder}: the held-out faces differ between {small.image_size}px and {large.image_size}px")
    real = data.batch(idx)
    rows = {f"{large.image_size}px model": figures(reconstruct(large, data, idx), real)}
    small_recon = reconstruct(small, small_data, small_idx)
    for method in UPSCALE_METHODS:
        rows[f"{small.image_size}px model, {method} ×{large.image_size // small.image_size}"] = figures(
            enlarge(small_recon, large.image_size, method), real
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.measure.against_upscaled", description=__doc__.splitlines()[0])
    parser.add_argument("large", help="the checkpoint drawing larger faces (e.g. 128px)")
    parser.add_argument("small", help="the checkpoint whose faces are enlarged (e.g. 64px)")
    parser.add_argument("--data", type=Path, required=True, help="folder of real faces")
    parser.add_argument(
        "--held-out", type=int, default=500, metavar="N", help="the N faces train_cli.py --holdout N leaves out"
    )
    args = parser.parse_args(argv)
    try:
        rows = compare(checkpoint.load(args.large), checkpoint.load(args.small), args.data, args.held_out)
    except (checkpoint.CheckpointError, DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.held_out} held-out faces of {args.data}")
    print(f"{'':<28} {'SSIM':>7} {'PSNR':>9} {'sharpness':>10}")
    for name, row in rows.items():
        print(f"{name:<28} {row['ssim']:7.4f} {row['psnr']:6.2f} dB {row['sharpness']:10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
