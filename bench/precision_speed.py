"""Training speed in fp32 against bf16 autocast (``train_cli.py --precision``).

    python bench/precision_speed.py [--steps K] [--rounds R] [--device auto|cpu|cuda]

Times vae.train.trainer.Trainer on the default model's architecture (64×64, latent 32, a full-resolution
decoder stage, β 0.02) over a cached folder of generated faces, the same way as
``bench/train_throughput.py``. fp32 and bf16 alternate for ``--rounds`` rounds so that both see the
same machine load. Prints the median images/s of each and, on its last line, the bf16/fp32 ratio.
On CPUs without native bf16 the ratio falls below 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from train_throughput import alternating_rates, comparison_arguments  # noqa: E402  (this folder is on sys.path when run as a script)

from vae.model.network import VAEConfig  # noqa: E402
from vae.train.trainer import TrainConfig  # noqa: E402


def main() -> None:
    args, device = comparison_arguments(__doc__)
    configs = {
        precision: TrainConfig(
            model=VAEConfig(full_res_channels=16),
            epochs=1000,
            batch_size=64,
            beta=0.02,
            cosine=False,
            device=str(device),
            precision=precision,
        )
        for precision in ("fp32", "bf16")
    }
    rates = alternating_rates(configs, args.steps, args.rounds)
    fp32, bf16 = rates["fp32"], rates["bf16"]
    print(f"device: {device}, {torch.get_num_threads()} threads, batch 64, median of {args.rounds} rounds")
    print(f"fp32: {fp32:.0f} images/s")
    print(f"bf16: {bf16:.0f} images/s")
    print(f"bf16 {bf16:.0f} vs fp32 {fp32:.0f} images/s: ratio x{bf16 / fp32:.2f}")


if __name__ == "__main__":
    main()
