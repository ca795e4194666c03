"""Training step speed in fp32 against bf16 autocast (``train_cli.py --precision``).

    python bench/precision_speed.py [--steps K] [--rounds R] [--device auto|cpu|cuda]

Trains the default model's architecture (64×64, latent 32, a full-resolution decoder stage) on one
batch of 64 generated faces: optimiser steps with the VAE loss, fp32 and bf16 alternating for
``--rounds`` rounds so that both see the same machine load. Prints the median images/s of each and,
on its last line, the bf16/fp32 ratio. On CPUs without native bf16 the ratio falls below 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from vae import synth  # noqa: E402
from vae.cache import open_folder  # noqa: E402
from vae.loss import vae_loss  # noqa: E402
from vae.metrics import autocast_for  # noqa: E402
from vae.model import ConvVAE, VAEConfig  # noqa: E402
from vae.train import pick_device  # noqa: E402


def rate(precision: str, x: torch.Tensor, steps: int, device: torch.device) -> float:
    """Images per second over ``steps`` optimiser steps after two warm-up steps."""
    torch.manual_seed(0)
    model = ConvVAE(VAEConfig(full_res_channels=16)).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for i in range(steps + 2):
        if i == 2:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        with autocast_for(device, precision):
            recon, mu, logvar = model(x)
        loss = vae_loss(recon, x, mu, logvar, beta=0.02).total
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * x.shape[0] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FACE_EXPLORER_CACHE"] = str(Path(tmp) / "cache")
        synth.generate(Path(tmp) / "faces", 64, seed=5, size=128)
        data = open_folder(Path(tmp) / "faces", 64, log=lambda m: None)
        x = data.batch(list(range(64))).to(device, memory_format=torch.channels_last)
    rates: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(args.rounds):
        for precision in rates:
            rates[precision].append(rate(precision, x, args.steps, device))
    fp32, bf16 = statistics.median(rates["fp32"]), statistics.median(rates["bf16"])
    print(f"device: {device}, {torch.get_num_threads()} threads, batch 64, median of {args.rounds} rounds")
    print(f"fp32: {fp32:.0f} images/s")
    print(f"bf16: {bf16:.0f} images/s")
    print(f"bf16 {bf16:.0f} vs fp32 {fp32:.0f} images/s: ratio x{bf16 / fp32:.2f}")


if __name__ == "__main__":
    main()
