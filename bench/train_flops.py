"""Training speed against the CPU's peak: FLOPs per training image, images/s in fp32 and bf16, NCHW and
channels_last, and the share of the peak each reaches.

    python bench/train_flops.py [--steps K] [--rounds R]

FLOPs per image are counted with ``torch.utils.flop_counter`` over one forward and backward pass of the
default model (64×64, latent 32, β 0.02), loss included. The peak is an estimate from the CPU's vector units
(printed with its assumptions): the cores used (torch's threads) × clock × FLOPs per cycle per core, where a
core with two FMA units does 32 fp32 FLOPs a cycle with AVX2, 64 with AVX-512, twice that in bf16 with
AVX512-BF16, and 1,024 bf16 FLOPs with AMX. The four ways alternate for ``--rounds`` rounds so that they see
the same machine load. Without native bf16 (emulated), bf16 steps are slow: keep ``--steps`` small.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from bench.machine import cpu_flags, describe  # noqa: E402
from vae.model.loss import vae_loss  # noqa: E402
from vae.model.network import ConvVAE  # noqa: E402
from vae.train.config import DEFAULT_MODEL_RECIPE  # noqa: E402

BATCH = 64


def clock_ghz() -> float:
    """The highest clock the kernel reports (cpufreq's maximum, else /proc/cpuinfo's current MHz)."""
    maximum = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if maximum.exists():
        return int(maximum.read_text()) / 1e6
    speeds = [float(line.split(":")[1]) for line in Path("/proc/cpuinfo").read_text().splitlines() if "cpu MHz" in line]
    return max(speeds) / 1000 if speeds else float("nan")


def peak_gflops(flags: set[str], cores: int, ghz: float) -> dict[str, float]:
    """Estimated peak GFLOP/s in fp32 and bf16 (see the module docstring)."""
    fp32 = 64 if "avx512f" in flags else 32 if "fma" in flags else 8
    bf16 = 1024 if "amx_bf16" in flags else 2 * fp32 if "avx512_bf16" in flags else fp32
    return {"fp32": cores * ghz * fp32, "bf16": cores * ghz * bf16}


def training_step(model, optimizer, x, precision):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        recon, mu, logvar = model(x)
    loss = vae_loss(recon, x, mu, logvar, DEFAULT_MODEL_RECIPE.beta).total
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def flops_per_image() -> float:
    model = ConvVAE(DEFAULT_MODEL_RECIPE.model)
    x = torch.rand(BATCH, 3, 64, 64)
    with FlopCounterMode(display=False) as counter:
        recon, mu, logvar = model(x)
        vae_loss(recon, x, mu, logvar, DEFAULT_MODEL_RECIPE.beta).total.backward()
    return counter.get_total_flops() / BATCH


def images_per_second(precision: str, layout: torch.memory_format, steps: int) -> float:
    torch.manual_seed(0)
    model = ConvVAE(DEFAULT_MODEL_RECIPE.model).to(memory_format=layout)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(BATCH, 3, 64, 64).contiguous(memory_format=layout)
    training_step(model, optimizer, x, precision)  # warm-up: allocation, kernel choice
    start = time.perf_counter()
    for _ in range(steps):
        training_step(model, optimizer, x, precision)
    return steps * BATCH / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per way and round (default 3)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(describe())
    flags, cores, ghz = cpu_flags(), min(torch.get_num_threads(), os.cpu_count() or 1), clock_ghz()
    peak = peak_gflops(flags, cores, ghz)
    flops = flops_per_image()
    print(f"{flops / 1e9:.2f} GFLOP per training image (forward + backward, torch.utils.flop_counter)")
    print(
        f"peak estimate: {cores} core(s) × {ghz:.2f} GHz: fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} "
        f"GFLOP/s ({'AVX-512' if 'avx512f' in flags else 'AVX2'}, "
        f"{'AMX' if 'amx_bf16' in flags else 'AVX512-BF16' if 'avx512_bf16' in flags else 'no native bf16'})"
    )
    ways = {
        (precision, name): layout
        for precision in ("fp32", "bf16")
        for name, layout in (("NCHW", torch.contiguous_format), ("channels_last", torch.channels_last))
    }
    rates: dict[tuple[str, str], list[float]] = {way: [] for way in ways}
    for _ in range(args.rounds):
        for (precision, name), layout in ways.items():
            rates[(precision, name)].append(images_per_second(precision, layout, args.steps))
    print(f"{torch.get_num_threads()} threads, batch {BATCH}, median of {args.rounds} rounds")
    base = statistics.median(rates[("fp32", "NCHW")])
    for (precision, name), values in rates.items():
        rate = statistics.median(values)
        achieved = rate * flops / 1e9
        print(
            f"{precision} {name}: {rate:.0f} images/s ({rate / base:.2f}x fp32 NCHW), {achieved:.0f} GFLOP/s = "
            f"{achieved / peak[precision]:.0%} of the {precision} peak"
        )


if __name__ == "__main__":
    main()
