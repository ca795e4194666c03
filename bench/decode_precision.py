"""One face's decode in fp32 against bf16 and channels_last, by the copy the app draws with.

    python bench/decode_precision.py [CHECKPOINT ...] [--repeats 50] [--rounds 5]

For each checkpoint (default: both shipped models) the four ways take turns for ``--rounds`` rounds of
``--repeats`` decodes, so that each sees the same machine load; prints the fastest and the median decode of
each, the ratio of each fastest to fp32's, and how far its faces are from fp32's (64 draws from N(0, I), in
pixel levels of 255). bf16 is only fast on CPUs with native bf16 (AVX512-BF16 or AMX-BF16).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.machine import describe  # noqa: E402
from vae.model import checkpoint  # noqa: E402
from vae.model.inference import (  # noqa: E402
    DTYPE_NAMES,
    PRECISION_ENV,
    drawing_dtype,
    folded_for_inference,
    named_drawing_dtype,
)

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
WAYS = {
    "fp32": (torch.float32, torch.contiguous_format),
    "fp32 channels_last": (torch.float32, torch.channels_last),
    "bf16": (torch.bfloat16, torch.contiguous_format),
    "bf16 channels_last": (torch.bfloat16, torch.channels_last),
}


@torch.inference_mode()
def decode_times(model, dtype, repeats: int) -> list[float]:
    """Milliseconds of ``repeats`` decodes of one latent, after one untimed decode."""
    z = torch.randn(1, model.latent_dim, generator=torch.Generator().manual_seed(0)).to(dtype)
    model.decode(z)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.decode(z)
        times.append((time.perf_counter() - start) * 1000)
    return times


@torch.inference_mode()
def pixel_levels_off(model, reference, dtype) -> tuple[float, float]:
    """(mean, largest) difference from ``reference``'s faces, in levels of 255, over 64 latents."""
    z = torch.randn(64, model.latent_dim, generator=torch.Generator().manual_seed(1))
    diff = (model.decode(z.to(dtype)).float() - reference.decode(z)).abs() * 255
    return diff.mean().item(), diff.max().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shipped = [RESOURCES / "default_model.pt", RESOURCES / "default_model_128.pt"]
    parser.add_argument("checkpoints", nargs="*", type=Path, default=shipped)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(describe())
    print(f"{torch.get_num_threads()} threads, batch 1, {args.rounds} rounds of {args.repeats} decodes each way")
    for path in args.checkpoints:
        reference = folded_for_inference(checkpoint.load(path).model).to(memory_format=torch.contiguous_format)
        models = {
            name: folded_for_inference(reference).to(dtype=dtype, memory_format=layout)
            for name, (dtype, layout) in WAYS.items()
        }
        times: dict[str, list[float]] = {name: [] for name in WAYS}
        for _ in range(args.rounds):
            for name, model in models.items():
                times[name] += decode_times(model, WAYS[name][0], args.repeats)
        fastest = min(times["fp32"])
        print(f"{path.name} ({reference.image_size} px):")
        for name, model in models.items():
            mean, largest = pixel_levels_off(model, reference, WAYS[name][0])
            best, median = min(times[name]), statistics.median(times[name])
            print(
                f"  {name:19s} fastest {best:6.2f} ms, median {median:6.2f} ms, x{fastest / best:.2f} of fp32; "
                f"off fp32's faces by {mean:.2f} levels (at most {largest:.0f})"
            )
        how = f"{PRECISION_ENV} set" if named_drawing_dtype() is not None else "measured"
        print(f"  the app draws it in {DTYPE_NAMES[drawing_dtype(reference)]} here ({how})")


if __name__ == "__main__":
    main()
