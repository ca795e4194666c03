"""How many examples make a dependable direction by example: 2+2 … 16+16 labelled faces against all of them.

    python bench/direction_examples.py [--data builtin] [--checkpoint resources/default_model.pt] [--trials 100]

For each attribute and each number of examples per side, random draws of labelled faces give a direction by
example; each is compared with the direction from every labelled face (cosine), with the leave-one-out agreement
of its own examples (vae.explore.directions.example_reliability) and with its balanced accuracy on the faces it was not
built from (split half-way between the two examples' means). The last columns show how often the GUI calls a draw
reliable, and the held-out accuracy of the draws it calls reliable and weak. The "all" row is the ceiling: the
direction from every labelled face, tested on those same faces.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe  # noqa: E402
from vae.data.cache import open_dataset  # noqa: E402
from vae.data.cartoonset import ATTRIBUTE_NAMES, NO_FACIAL_HAIR, NO_GLASSES  # noqa: E402
from vae.explore.directions import direction_from_examples, example_reliability  # noqa: E402
from vae.model import checkpoint  # noqa: E402
from vae.model.metrics import encode_all  # noqa: E402

ATTRIBUTES = {
    "glasses": lambda labels: labels[:, ATTRIBUTE_NAMES.index("glasses")] != NO_GLASSES,
    "facial_hair": lambda labels: labels[:, ATTRIBUTE_NAMES.index("facial_hair")] != NO_FACIAL_HAIR,
    "hair_color:0": lambda labels: labels[:, ATTRIBUTE_NAMES.index("hair_color")] == 0,
    "hair_color:3": lambda labels: labels[:, ATTRIBUTE_NAMES.index("hair_color")] == 3,
    "face_color:0": lambda labels: labels[:, ATTRIBUTE_NAMES.index("face_color")] == 0,
}
SIZES = (2, 4, 8, 16, 32)


def balanced_accuracy(mu: torch.Tensor, positive: torch.Tensor, with_mu, without_mu) -> float:
    """The mean of the shares of faces with and without the trait that the examples' direction puts on their side."""
    direction = direction_from_examples(with_mu, without_mu)
    middle = (with_mu.mean(0) + without_mu.mean(0)) / 2
    predicted = (mu - middle) @ direction > 0
    return float((predicted[positive].float().mean() + (~predicted[~positive]).float().mean()) / 2)


def measure(mu: torch.Tensor, positive: torch.Tensor, per_side: int, trials: int, seed: int = 0) -> dict:
    full = direction_from_examples(mu[positive], mu[~positive])
    g = torch.Generator().manual_seed(seed)
    pos, neg = positive.nonzero().reshape(-1), (~positive).nonzero().reshape(-1)
    rows = []
    for _ in range(trials):
        picked_pos = pos[torch.randperm(len(pos), generator=g)[:per_side]]
        picked_neg = neg[torch.randperm(len(neg), generator=g)[:per_side]]
        with_mu, without_mu = mu[picked_pos], mu[picked_neg]
        reliability = example_reliability(with_mu, without_mu)
        cosine = float(direction_from_examples(with_mu, without_mu) @ full)
        rest = torch.ones(len(mu), dtype=torch.bool)
        rest[torch.cat([picked_pos, picked_neg])] = False
        accuracy = balanced_accuracy(mu[rest], positive[rest], with_mu, without_mu)
        rows.append((cosine, reliability.share, accuracy, reliability.reliable))
    t = torch.tensor([r[:3] for r in rows])
    flagged = torch.tensor([r[3] for r in rows])
    return {
        "cosine": float(t[:, 0].mean()),
        "loo": float(t[:, 1].mean()),
        "accuracy": float(t[:, 2].mean()),
        "reliable": float(flagged.float().mean()),
        "acc_reliable": float(t[flagged, 2].mean()) if flagged.any() else float("nan"),
        "acc_weak": float(t[~flagged, 2].mean()) if (~flagged).any() else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="builtin", help="a labelled folder, or builtin (default)")
    parser.add_argument("--builtin-count", type=int, default=3000, help="generated faces for --data builtin")
    parser.add_argument("--checkpoint", default="resources/default_model.pt")
    parser.add_argument("--trials", type=int, default=100, help="random draws per attribute and size")
    args = parser.parse_args()
    print(describe())
    model = checkpoint.load(args.checkpoint).model.eval()
    cache = open_dataset(args.data, model.image_size, builtin_count=args.builtin_count)
    with torch.no_grad():
        mu = encode_all(model, cache, list(range(len(cache))))[0]
    labels = cache.label_tensor()
    print(f"{len(cache)} faces of {args.data}, {args.checkpoint}, {args.trials} draws per cell")
    print(
        "| attribute | per side | cosine with all-faces direction | leave-one-out agreement | held-out accuracy "
        "| called reliable | held-out acc. when reliable / weak |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, select in ATTRIBUTES.items():
        positive = select(labels)
        if positive.sum() < 2 * max(SIZES) or (~positive).sum() < 2 * max(SIZES):
            print(f"| {name} | too few labelled faces ({int(positive.sum())} with) | | | | | |")
            continue
        ceiling = balanced_accuracy(mu, positive, mu[positive], mu[~positive])
        print(f"| {name} | all {int(positive.sum())} / {int((~positive).sum())} | 1 | | {ceiling:.0%} | | |")
        for per_side in SIZES:
            m = measure(mu, positive, per_side, args.trials)
            print(
                f"| {name} | {per_side} | {m['cosine']:.2f} | {m['loo']:.0%} | {m['accuracy']:.0%} "
                f"| {m['reliable']:.0%} | {m['acc_reliable']:.0%} / {m['acc_weak']:.0%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
