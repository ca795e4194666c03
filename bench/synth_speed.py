"""Generator speed: faces per second on all cores vs one core, and the time for 10,000 faces.

    python bench/synth_speed.py [--count 10000]

The last line prints the wall time of the parallel run and the ratio against the one-core
baseline (measured on a slice of the same work in the same process).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe  # noqa: E402
from vae.data import synth  # noqa: E402


def timed(out: Path, count: int, workers: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    synth.generate(out, count, seed=1, workers=workers)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="faces in the parallel run (default 10000)")
    parser.add_argument("--baseline-count", type=int, default=300, help="faces in the one-core baseline")
    args = parser.parse_args()
    print(describe())
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        base = timed(Path(tmp) / "one", args.baseline_count, 1)
        full = timed(Path(tmp) / "all", args.count, cores)
    base_rate = args.baseline_count / base
    rate = args.count / full
    print(f"one core: {base_rate:.1f} faces/s ({args.baseline_count} faces in {base:.1f} s)")
    print(f"{cores} cores: {rate:.1f} faces/s")
    print(
        f"{args.count} faces at 500x500 in {full:.1f} s on {cores} cores; speed-up vs one core x{rate / base_rate:.2f}"
    )


if __name__ == "__main__":
    main()
