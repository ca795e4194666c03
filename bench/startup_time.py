"""Launch time: `main.py --screenshot` (imports, default model, window, first face rendered) vs bare imports.

    python bench/startup_time.py [--runs 3] [--checkpoint PATH]

Both are timed as fresh processes, in this run; the last line prints the median seconds to a
rendered first face and the ratio to the time Python needs just to import torch and PySide6.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--checkpoint", default=None)
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        app = [sys.executable, str(ROOT / "main.py"), "--screenshot", str(Path(tmp) / "shot.png")]
        if args.checkpoint:
            app += ["--checkpoint", args.checkpoint]
        imports = [sys.executable, "-c", "import torch, PySide6.QtWidgets, pyqtgraph"]
        base = statistics.median(timed(imports) for _ in range(args.runs))
        full = statistics.median(timed(app) for _ in range(args.runs))
    print(f"import torch + PySide6 + pyqtgraph: {base:.2f} s (median of {args.runs})")
    print(f"main.py to a rendered first face: {full:.2f} s (median of {args.runs}); budget 3 s")
    print(f"first face {full:.2f} s | bare imports {base:.2f} s | ratio x{full / base:.2f}")


if __name__ == "__main__":
    main()
