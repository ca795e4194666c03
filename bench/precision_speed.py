"""Training speed in fp32 against bf16 autocast (``train_cli.py --precision``).

    python bench/precision_speed.py [--steps K] [--rounds R] [--device auto|cpu|cuda]

Times vae.train.trainer.Trainer on the default model's architecture (64×64, latent 32, a full-resolution
decoder stage, β 0.02) over a cached folder of generated faces, the same way as
``bench/train_throughput.py``. fp32 and bf16 alternate for ``--rounds`` rounds so that both see the
same machine load. Prints the median images/s of each and, on its last line, the bf16/fp32 ratio.
On CPUs without native bf16 the ratio falls below 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from train_throughput import cached_rate  # noqa: E402  (this folder is on sys.path when run as a script)

from bench.machine import describe  # noqa: E402
from vae.data import synth  # noqa: E402
from vae.model.network import VAEConfig  # noqa: E402
from vae.train.trainer import TrainConfig, pick_device  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per run (default 20)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args()
    print(describe())
    device = pick_device(args.device)
    rates: dict[str, list[float]] = {"fp32": [], "bf16": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["FACE_EXPLORER_CACHE"] = str(tmp / "cache")
        synth.generate(tmp / "faces", 256, seed=5, size=128)
        for round_ in range(args.rounds):
            for precision in rates:
                config = TrainConfig(
                    model=VAEConfig(full_res_channels=16),
                    epochs=1000,
                    batch_size=64,
                    beta=0.02,
                    cosine=False,
                    device=str(device),
                    precision=precision,
                )
                rate, _ = cached_rate(tmp / "faces", config, args.steps, tmp / f"run_{precision}_{round_}")
                rates[precision].append(rate)
    fp32, bf16 = statistics.median(rates["fp32"]), statistics.median(rates["bf16"])
    print(f"device: {device}, {torch.get_num_threads()} threads, batch 64, median of {args.rounds} rounds")
    print(f"fp32: {fp32:.0f} images/s")
    print(f"bf16: {bf16:.0f} images/s")
    print(f"bf16 {bf16:.0f} vs fp32 {fp32:.0f} images/s: ratio x{bf16 / fp32:.2f}")


if __name__ == "__main__":
    main()
