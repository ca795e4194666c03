"""Package a trained checkpoint as the app's default model: float16 weights, no optimiser state.

    python -m vae.package_default runs/default/best.pt resources/default_model.pt [--data builtin]

``--data`` names the training data ('builtin' or a folder); the fitted latent prior and attribute
directions are then computed afresh on its training split (for 'builtin', the built-in set of the
size the checkpoint was trained on). Without it they are copied from the source checkpoint.
"""

from __future__ import annotations

import argparse
import sys

from . import checkpoint
from .cache import BUILTIN, BUILTIN_COUNT, open_dataset
from .train import latent_statistics


def package(source: str, target: str, data: str | None = None) -> None:
    """Copy ``source`` to ``target`` without training state, weights in float16."""
    ckpt = checkpoint.load(source)
    extras = {"directions": ckpt.directions, "latent_prior": ckpt.latent_prior}
    if data is not None:
        count = BUILTIN_COUNT
        if data == BUILTIN and isinstance(ckpt.dataset.get("count"), int):
            count = ckpt.dataset["count"]  # the built-in set the model was trained on
        cache = open_dataset(data, ckpt.model.image_size, builtin_count=count)
        train_idx, _ = cache.split()
        extras = latent_statistics(ckpt.model, cache, train_idx)
    checkpoint.save(target, ckpt.model, half=True, history=ckpt.history, dataset=ckpt.dataset,
                    latent_kl=ckpt.latent_kl, **extras)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.package_default", description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--data", default=None,
                        help="training data ('builtin' or a folder) to compute the latent prior and directions on")
    args = parser.parse_args(argv)
    try:
        package(args.source, args.target, args.data)
    except checkpoint.CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
