"""Blend two checkpoints of one run by interpolating their weights: a point between two trade-offs.

    python -m vae.measure.blend A.pt B.pt OUT.pt --toward 0.5

Writes (1 − t)·A + t·B. Both must be the same architecture and should come from one training path (B fine-tuned
from A, say with a stronger adversarial term): weights of unrelated runs do not average into a working model.
The result keeps B's history, dataset, per-dimension KL (the sliders' order) and training settings (which faces
were held out), and no optimiser state: it is a model to package (``vae.measure.package_default``), not a run to
resume.
"""

from __future__ import annotations

import argparse
import sys

import torch

from ..common.cli_args import float_range
from ..model import checkpoint


def blend_states(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], toward: float) -> dict[str, torch.Tensor]:
    """(1 − toward)·a + toward·b for floating-point tensors (computed in float32); others are taken from a."""
    if a.keys() != b.keys():
        raise ValueError("the checkpoints hold different layers")
    out = {}
    for name, x in a.items():
        y = b[name]
        if x.shape != y.shape:
            raise ValueError(f"{name} is {tuple(x.shape)} in one checkpoint and {tuple(y.shape)} in the other")
        out[name] = torch.lerp(x.float(), y.float(), toward).to(x.dtype) if x.is_floating_point() else x
    return out


def blend(a_path: str, b_path: str, target: str, toward: float) -> None:
    """Write the blend of two checkpoints to ``target`` (atomically)."""
    a, b = checkpoint.load(a_path), checkpoint.load(b_path)
    if a.model.config != b.model.config:
        raise ValueError(
            f"{a_path} and {b_path} are different architectures ({a.model.config} vs {b.model.config}): "
            "only checkpoints of one model can be blended"
        )
    b.model.load_state_dict(blend_states(a.model.state_dict(), b.model.state_dict(), toward))
    settings = {"config": b.training["config"]} if b.training and "config" in b.training else None
    checkpoint.save(target, b.model, history=b.history, dataset=b.dataset, latent_kl=b.latent_kl, training=settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.measure.blend", description=__doc__.splitlines()[0])
    parser.add_argument("a", help="the checkpoint at --toward 0")
    parser.add_argument("b", help="the checkpoint at --toward 1")
    parser.add_argument("target")
    parser.add_argument(
        "--toward", type=float_range(0.0, 1.0), required=True, help="how far from A toward B, 0…1 (0.5: halfway)"
    )
    args = parser.parse_args(argv)
    try:
        blend(args.a, args.b, args.target, args.toward)
    except (checkpoint.CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.target}: {1 - args.toward:g} × {args.a} + {args.toward:g} × {args.b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
