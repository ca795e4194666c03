"""Holding the rest of a face through an edit in the app: the plain sum (baseline) against the held one.

    python bench/hold_edit.py [--repeats 5]

For each shipped model, the median wall time of one Arithmetic result with a direction applied: composed and
decoded (what the tab shows at once), and held (``ExplorerSession.hold_edit``, what it shows next) then decoded,
with their ratio, run side by side in this process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe  # noqa: E402
from bench.timing import median_seconds  # noqa: E402
from vae.explore.session import ExplorerSession  # noqa: E402
from vae.model.latent import compose  # noqa: E402

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
DIRECTION = "face_color:4"


def measure(model: str, repeats: int) -> str:
    """One shipped model's line: the plain result's time, the held one's, and their ratio."""
    session = ExplorerSession.open(RESOURCES / model)
    face = session.state.values
    direction = session.directions[DIRECTION]
    edited = compose([(1.0, face)], [(2.0, direction)])
    with torch.no_grad():
        base = median_seconds(lambda: session.render(compose([(1.0, face)], [(2.0, direction)])), repeats, warm_up=True)
    hold = median_seconds(lambda: session.render(session.hold_edit(face, edited, [DIRECTION])), repeats, warm_up=True)
    return f"{model}: plain {base * 1000:.0f} ms, held {hold * 1000:.0f} ms, {hold / base:.0f}× the baseline"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(describe())
    for model in ("default_model.pt", "default_model_128.pt"):
        print(measure(model, args.repeats))


if __name__ == "__main__":
    main()
