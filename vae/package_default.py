"""Package a trained checkpoint as the app's default model: float16 weights, no optimiser state.

    python -m vae.package_default runs/default/best.pt resources/default_model.pt
"""

from __future__ import annotations

import argparse
import sys

from . import checkpoint


def package(source: str, target: str) -> None:
    """Copy ``source`` to ``target`` without training state, weights in float16."""
    ckpt = checkpoint.load(source)
    checkpoint.save(target, ckpt.model, half=True, history=ckpt.history, dataset=ckpt.dataset,
                    directions=ckpt.directions, latent_kl=ckpt.latent_kl)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.package_default", description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("target")
    args = parser.parse_args(argv)
    try:
        package(args.source, args.target)
    except checkpoint.CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
