"""Training speed, and quality at equal training time, of the decoder and recipe variants.

    python bench/architecture_speed.py [--steps K] [--rounds R] [--device auto|cpu|cuda]
    python bench/architecture_speed.py --data ../cartoonset10k_128 --minutes 5 [--variants "shipped,resize then conv"]

Every variant is the default model's recipe (64×64, latent 32, full-resolution stage 16, decoder width 2,
β 0.02, bf16 autocast, batch 64) with one change: the previous default's decoder of width 1, two residual blocks at 4×4,
resize-then-convolve upsampling, a larger batch, or ``torch.compile``. The speed pass times
vae.train.trainer.Trainer steps on generated faces, the variants taking turns for ``--rounds`` rounds so
that all see the same machine load (the first ``WARMUP_STEPS`` steps, where ``torch.compile``
compiles, are left out), and prints each median images/s. With ``--data`` it then trains each
variant for ``--minutes`` of wall-clock time on the folder's training split (constant learning
rate) and measures SSIM and PSNR on its held-out faces (``--holdout``, as ``train_cli.py``).
The last line is the ratio of the fastest variant's images/s to the shipped recipe's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from train_throughput import trainer_images_per_second  # noqa: E402  (this folder is on sys.path when run as a script)

from bench.machine import describe  # noqa: E402
from vae.common.control import TerminalControl  # noqa: E402
from vae.data import synth  # noqa: E402
from vae.data.cache import open_folder  # noqa: E402
from vae.model.metrics import evaluate  # noqa: E402
from vae.train.trainer import DEFAULT_MODEL_RECIPE, TrainConfig, Trainer, pick_device  # noqa: E402

WARMUP_STEPS = 3
BASE = replace(DEFAULT_MODEL_RECIPE, epochs=100_000, cosine=False, precision="bf16")
VARIANTS: dict[str, tuple[TrainConfig, bool]] = {  # name: (config, compiled)
    "shipped": (BASE, False),
    "decoder width 1": (replace(BASE, model=replace(BASE.model, decoder_width=1)), False),
    "residual blocks 2": (replace(BASE, model=replace(BASE.model, residual_blocks=2)), False),
    "resize then conv": (replace(BASE, model=replace(BASE.model, upsample="resize")), False),
    "batch 128": (replace(BASE, batch_size=128), False),
    "batch 256": (replace(BASE, batch_size=256), False),
    "torch.compile": (BASE, True),
}


class CompiledTrainer(Trainer):
    """A Trainer whose forward pass runs through ``torch.compile``."""

    def _setup(self, resume: bool, force: bool) -> None:
        super()._setup(resume, force)
        self.net = torch.compile(self.net)


def _trainer(config: TrainConfig, compiled: bool, data, out: Path, on_step) -> Trainer:
    return (CompiledTrainer if compiled else Trainer)(config, data, out, on_step=on_step)


def quality_after(config: TrainConfig, compiled: bool, data, seconds: float, out: Path) -> dict:
    """Train for ``seconds`` of wall-clock time, then SSIM/PSNR of decode(μ) on the held-out faces."""
    start = time.perf_counter()
    steps = [0]

    def on_step(event):
        steps[0] += 1
        if time.perf_counter() - start >= seconds:
            trainer.stop()

    trainer = _trainer(config, compiled, data, out, on_step)
    trainer.run(overwrite=True)
    figures = evaluate(trainer.model.eval(), data, trainer.val_idx, config.beta, device=trainer.device)
    return {"images": steps[0] * config.batch_size, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per variant and round (default 20)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names (default: all)")
    parser.add_argument("--data", help="a folder of faces: also train each variant for --minutes and measure quality")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--holdout", type=int, default=500, help="held-out faces for the quality pass (default 500)")
    args = parser.parse_args()
    print(describe())
    names = [name.strip() for name in args.variants.split(",")]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown or "shipped" not in names:
        parser.error(f"--variants must name 'shipped' and only these: {', '.join(VARIANTS)} (got {args.variants!r})")
    device = str(pick_device(args.device))
    variants = {name: (replace(VARIANTS[name][0], device=device), VARIANTS[name][1]) for name in names}
    rates: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synth.generate(tmp / "faces", 256, seed=5, size=128)
        faces = open_folder(tmp / "faces", 64, cache_dir=tmp / "cache")
        for _ in range(args.rounds):
            for name, (config, compiled) in variants.items():
                trainer = _trainer(config, compiled, faces, tmp / "run", on_step=None)
                rates[name].append(trainer_images_per_second(trainer, args.steps, WARMUP_STEPS))
        print(f"device: {device}, {torch.get_num_threads()} threads, bf16 autocast, median of {args.rounds} rounds")
        speed = {name: statistics.median(r) for name, r in rates.items()}
        for name, rate in speed.items():
            print(f"{name:>18}: {rate:5.0f} images/s  (x{rate / speed['shipped']:.2f})")
        if args.data:
            with TerminalControl(bars=True) as control:
                data = open_folder(args.data, 64, control=control)
            print(
                f"quality after {args.minutes:g} minutes of training each on {args.data} "
                f"(held-out: {args.holdout} faces)"
            )
            for name, (config, compiled) in variants.items():
                config = replace(config, holdout=args.holdout)
                figures = quality_after(config, compiled, data, args.minutes * 60, tmp / "run")
                print(
                    f"{name:>18}: SSIM {figures['ssim']:.4f}  PSNR {figures['psnr']:.2f} dB  "
                    f"after {figures['images']:,} images",
                    flush=True,
                )
    fastest = max(speed, key=speed.get)
    print(
        f"fastest: {fastest}, {speed[fastest]:.0f} vs shipped {speed['shipped']:.0f} images/s: "
        f"ratio x{speed[fastest] / speed['shipped']:.2f}"
    )


if __name__ == "__main__":
    main()
