"""Explorer latency: slider move → repainted face, and many-slider updates batched vs one by one.

    QT_QPA_PLATFORM=offscreen python bench/slider_latency.py [--checkpoint PATH] [--moves 300]
    QT_QPA_PLATFORM=offscreen python bench/slider_latency.py --untrained 128 \
        [--base-channels 16] [--full-res-channels 16]

Each move sets one slider the way a drag does (the slider held down: valueChanged → LatentState →
decode → enlarged face → the value readout) and lets Qt repaint what it asked to; the time covers all
of it. The second figure compares "Random" applied as one update (one decode) with the naive way of
setting the 32 sliders one at a time (one decode each), run side by side in this process.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui.main_window import MainWindow  # noqa: E402
from vae.explore.default_choice import DECODE_BUDGET_MS, decode_ms  # noqa: E402
from vae.explore.session import ExplorerSession  # noqa: E402
from vae.model import checkpoint  # noqa: E402
from vae.model.network import ConvVAE, VAEConfig  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[1] / "resources" / "default_model.pt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT)
    parser.add_argument("--moves", type=int, default=300)
    parser.add_argument(
        "--untrained",
        type=int,
        choices=(64, 128),
        default=None,
        help="time an untrained model of this image size instead (the time does not depend on the weights)",
    )
    parser.add_argument(
        "--base-channels",
        type=int,
        default=16,
        help="with --untrained (default 16: the 128 model grown from the 64 one with vae.model.grow)",
    )
    parser.add_argument("--full-res-channels", type=int, default=16, help="with --untrained (default 16)")
    args = parser.parse_args()
    print(describe())
    if args.untrained:
        config = VAEConfig(
            image_size=args.untrained, base_channels=args.base_channels, full_res_channels=args.full_res_channels
        )
        print(f"timing an untrained model: {config}")
        ckpt = checkpoint.Checkpoint(path=Path("untrained.pt"), model=ConvVAE(config).eval())
    elif args.checkpoint.exists():
        ckpt = checkpoint.load(args.checkpoint)
    else:
        print(f"{args.checkpoint} not found: timing an untrained model of the default architecture")
        ckpt = checkpoint.Checkpoint(path=Path("untrained.pt"), model=ConvVAE(VAEConfig()).eval())
    app = QApplication.instance() or QApplication([])
    settings = QSettings(
        str(Path(os.environ.get("TMPDIR", "/tmp")) / "face-explorer-bench.ini"), QSettings.Format.IniFormat
    )
    window = MainWindow(ExplorerSession(ckpt), settings)
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    session, panel = window.session, window.explore
    rng = np.random.default_rng(0)
    dims = session.dimension_order[:8]
    times = []
    for i in range(args.moves + 20):
        widget = panel.sliders[dims[i % len(dims)]].slider
        target = int(rng.integers(widget.minimum(), widget.maximum()))
        widget.setSliderDown(True)  # a drag: the value readout follows the handle
        start = time.perf_counter()
        widget.setValue(target)
        app.processEvents()  # what the move asked to repaint: the face, the slider, the readout
        times.append(time.perf_counter() - start)
        widget.setSliderDown(False)
        app.processEvents()
    times = np.array(times[20:]) * 1000
    p50, p95 = np.percentile(times, [50, 95])
    print(f"slider move → repainted face over {args.moves} moves: p50 {p50:.2f} ms, p95 {p95:.2f} ms (budget 16 ms)")
    print(
        "decode alone (vae.explore.default_choice.decode_ms, what the app times at start-up): "
        f"{decode_ms(session.model):.2f} ms in {session.facts()['faces drawn in']} "
        f"(the 128 model opens by default under {DECODE_BUDGET_MS:g} ms)"
    )

    def naive_random():
        z = torch.randn(session.model.latent_dim)
        for dim in range(session.model.latent_dim):
            session.state.set_dim(dim, float(z[dim]))

    def batched_random():
        session.state.randomize(1.0)

    rates = {}
    for name, fn in (("one slider at a time", naive_random), ("one batched update", batched_random)):
        start = time.perf_counter()
        for _ in range(20):
            fn()
            app.processEvents()
        rates[name] = (time.perf_counter() - start) / 20 * 1000
    naive, batched = rates["one slider at a time"], rates["one batched update"]
    print(f"Random as 32 slider updates: {naive:.1f} ms; as one update: {batched:.1f} ms")
    print(
        f"slider p95 {p95:.2f} ms ({16 / p95:.1f}x under the 16 ms budget) | "
        f"Random batched vs naive: x{naive / batched:.1f} faster"
    )
    window.close()


if __name__ == "__main__":
    main()
