"""Encoding an image in the app: the encoder's μ alone (baseline) against μ refined against the decoder.

    python bench/encode_refine.py [--image PATH] [--repeats 5]

For each shipped model, the median wall time of ``ExplorerSession.encode_file`` with ``refine_steps=0`` and with
the app's REFINE_STEPS, and their ratio, run side by side in this process. The image defaults to a generated face.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe  # noqa: E402
from bench.timing import median_seconds  # noqa: E402
from vae.data import synth  # noqa: E402
from vae.explore.session import ExplorerSession  # noqa: E402
from vae.model.latent import REFINE_STEPS  # noqa: E402

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def encoding_seconds(session, image: Path, refine_steps: int, repeats: int) -> float:
    """Median seconds of encoding ``image`` as the app does, with ``refine_steps`` refinement steps."""
    return median_seconds(lambda: session.encode_file(image, refine_steps=refine_steps), repeats, warm_up=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        image = args.image
        if image is None:
            name = synth.generate(Path(tmp), 1, seed=0, size=500, workers=1)[0]
            image = Path(tmp) / f"{name}.png"
        for model in ("default_model.pt", "default_model_128.pt"):
            session = ExplorerSession.open(RESOURCES / model)
            mu = encoding_seconds(session, image, 0, args.repeats)
            refined = encoding_seconds(session, image, REFINE_STEPS, args.repeats)
            print(
                f"{model}: μ {mu * 1000:.0f} ms, refined ({REFINE_STEPS} steps) {refined * 1000:.0f} ms, "
                f"{refined / mu:.1f}× the baseline"
            )


if __name__ == "__main__":
    main()
