"""What each training loss costs per step: MSE + β·KL against + SSIM, + L1 and + the patch-adversarial term.

    python bench/loss_cost.py [--steps K] [--rounds R] [--device auto|cpu|cuda]

Times vae.train.trainer.Trainer on the default recipe (64×64, latent 32, β 0.02) over cached generated faces,
the same way as ``bench/precision_speed.py``; the losses alternate for ``--rounds`` rounds so that they
see the same machine load. The adversarial term is on from the first step. Prints the median images/s of each
and its cost per step relative to MSE: the factor that turns an equal number of images into equal time.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from train_throughput import alternating_rates, comparison_arguments  # noqa: E402  (this folder is on sys.path when run as a script)

from vae.train.config import DEFAULT_MODEL_RECIPE  # noqa: E402

LOSSES = {
    "MSE + β·KL": {},
    "+ SSIM (weight 0.1)": {"ssim_weight": 0.1},
    "+ L1 (weight 0.1)": {"l1_weight": 0.1},
    "+ adversarial (weight 0.5)": {"adversarial_weight": 0.5, "adversarial_start": 0.0},
}


def main() -> None:
    args, device = comparison_arguments(__doc__)
    configs = {
        name: replace(DEFAULT_MODEL_RECIPE, epochs=1000, cosine=False, device=str(device), **options)
        for name, options in LOSSES.items()
    }
    rates = alternating_rates(configs, args.steps, args.rounds)
    print(f"device: {device}, {torch.get_num_threads()} threads, batch 64, median of {args.rounds} rounds")
    base = rates["MSE + β·KL"]
    for name, rate in rates.items():
        print(f"{name}: {rate:.0f} images/s, {base / rate:.2f}x the time of MSE per step")


if __name__ == "__main__":
    main()
