"""How well each export upscaling method restores real faces: enlarge a reduced real face and compare.

    python bench/upscale_quality.py [--data ../shared/cartoonset10k_128] [--faces 300]

Real 128 px Cartoon Set faces are reduced by 2× and 4× (Lanczos, as the data pipeline does) and
enlarged back with each method; SSIM/PSNR against the original and the sharpness ratio (Laplacian
energy over the original's; 1.0 = as crisp) say which method keeps flat cartoon edges. Also
crisp with several unsharp strengths, to choose ``vae.explore.upscale.CRISP_PERCENT``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure  # noqa: E402

from bench.machine import describe  # noqa: E402
from vae.explore import upscale as up  # noqa: E402
from vae.measure.quality import sharpness_ratio  # noqa: E402


def to_tensor(images: list[Image.Image]) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.asarray(i.convert("RGB")) for i in images])).permute(0, 3, 1, 2).float() / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "cartoonset10k_128"))
    parser.add_argument("--faces", type=int, default=300)
    args = parser.parse_args()
    files = sorted(p for p in Path(args.data).iterdir() if p.suffix.lower() in {".png", ".webp"})[: args.faces]
    originals = [Image.open(p).convert("RGB") for p in files]
    size = originals[0].width
    print(describe())
    print(f"{len(originals)} real faces of {args.data} at {size} px")
    real = to_tensor(originals)
    variants = [(m, None) for m in up.UPSCALE_METHODS] + [("crisp", p) for p in (40, 80, 150)]
    print(f"{'factor':>6} {'method':<16} {'SSIM':>7} {'PSNR':>7} {'sharpness':>9}")
    scores = {}
    for factor in (2, 4):
        small = [o.resize((size // factor,) * 2, Image.LANCZOS) for o in originals]
        for method, percent in variants:
            default = up.CRISP_PERCENT
            if percent is not None:
                up.CRISP_PERCENT = percent
            enlarged = to_tensor([up.upscale(s, size, method) for s in small])
            up.CRISP_PERCENT = default
            ssim = float(structural_similarity_index_measure(enlarged, real, data_range=1.0))
            psnr = float(peak_signal_noise_ratio(enlarged, real, data_range=1.0))
            name = method if percent is None else f"crisp {percent}%"
            sharpness = sharpness_ratio(enlarged, real)
            scores[factor, name] = ssim, sharpness
            print(f"{factor:>5}× {name:<16} {ssim:7.4f} {psnr:7.2f} {sharpness:9.2f}")
    (crisp_ssim, crisp_sharp), (lanczos_ssim, lanczos_sharp) = scores[4, "crisp"], scores[4, "lanczos"]
    print(
        f"4×, crisp vs Lanczos (baseline, same faces): SSIM ×{crisp_ssim / lanczos_ssim:.3f}, "
        f"edge energy ×{crisp_sharp / lanczos_sharp:.1f}"
    )


if __name__ == "__main__":
    main()
