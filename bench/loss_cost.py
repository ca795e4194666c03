"""What each training loss costs per step: MSE + β·KL against + SSIM and + the patch-adversarial term.

    python bench/loss_cost.py [--steps K] [--rounds R] [--device auto|cpu|cuda]

Times vae.train.trainer.Trainer on the default recipe (64×64, latent 32, β 0.02) over cached generated faces,
the same way as ``bench/precision_speed.py``; the three losses alternate for ``--rounds`` rounds so that they
see the same machine load. The adversarial term is on from the first step. Prints the median images/s of each
and its cost per step relative to MSE: the factor that turns an equal number of images into equal time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from train_throughput import cached_rate  # noqa: E402  (this folder is on sys.path when run as a script)

from bench.machine import describe  # noqa: E402
from vae.data import synth  # noqa: E402
from vae.train.config import DEFAULT_MODEL_RECIPE  # noqa: E402
from vae.train.trainer import pick_device  # noqa: E402

LOSSES = {
    "MSE + β·KL": {},
    "+ SSIM (weight 0.1)": {"ssim_weight": 0.1},
    "+ adversarial (weight 0.5)": {"adversarial_weight": 0.5, "adversarial_start": 0.0},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per run (default 20)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args()
    print(describe())
    device = pick_device(args.device)
    rates: dict[str, list[float]] = {name: [] for name in LOSSES}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["FACE_EXPLORER_CACHE"] = str(tmp / "cache")
        synth.generate(tmp / "faces", 256, seed=5, size=128)
        for round_ in range(args.rounds):
            for i, (name, options) in enumerate(LOSSES.items()):
                config = replace(DEFAULT_MODEL_RECIPE, epochs=1000, cosine=False, device=str(device), **options)
                rate, _ = cached_rate(tmp / "faces", config, args.steps, tmp / f"run_{i}_{round_}")
                rates[name].append(rate)
    print(f"device: {device}, {torch.get_num_threads()} threads, batch 64, median of {args.rounds} rounds")
    base = statistics.median(rates["MSE + β·KL"])
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"{name}: {rate:.0f} images/s, {base / rate:.2f}x the time of MSE per step")


if __name__ == "__main__":
    main()
