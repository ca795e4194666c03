"""How hard each reconstruction term pulls at the decoder's output, against the squared error.

    python bench/loss_balance.py CHECKPOINT --data FOLDER [--held-out N] [--faces K]

Decodes μ of ``--faces`` held-out faces of FOLDER (the faces ``train_cli.py --holdout N`` leaves out) and prints the
norm of the gradient at the decoded images of each term as ``vae.model.loss.vae_loss`` adds it at weight 1: the
summed squared error, the summed absolute error (``--l1-weight``) and pixels · (1 − SSIM) (``--ssim-weight``), with
each one's ratio to the squared error's. A term's weight times its ratio is how strongly it pulls beside the
squared error; L1's ratio is about 1 / (2 · mean |error|), so it grows as a model gets closer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from vae.data.cache import open_folder  # noqa: E402
from vae.measure.quality import decode  # noqa: E402
from vae.model import checkpoint  # noqa: E402
from vae.model.loss import ssim_penalty, summed_per_image  # noqa: E402
from vae.model.metrics import encode_all  # noqa: E402
from vae.train.trainer import training_split  # noqa: E402

TERMS = {
    "squared error": lambda recon, x: summed_per_image((recon - x).pow(2)),
    "L1 (absolute error)": lambda recon, x: summed_per_image((recon - x).abs()),
    "pixels · (1 − SSIM)": lambda recon, x: ssim_penalty(recon, x)[0],
}


def gradient_norms(recon: torch.Tensor, x: torch.Tensor) -> dict[str, float]:
    """The norm of each term's gradient with respect to the decoded images ``recon``."""
    norms = {}
    for name, term in TERMS.items():
        images = recon.detach().clone().requires_grad_(True)
        term(images, x).backward()
        norms[name] = images.grad.norm().item()
    return norms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data", required=True, help="a folder of faces")
    parser.add_argument(
        "--held-out", type=int, default=500, help="the hold-out of train_cli.py --holdout (default 500)"
    )
    parser.add_argument("--faces", type=int, default=128, help="how many held-out faces (default 128)")
    args = parser.parse_args()
    model = checkpoint.load(args.checkpoint).model.eval()
    data = open_folder(args.data, model.image_size)
    _, held = training_split(data, args.held_out)
    held = held[: args.faces]
    x = data.batch(held)
    mu, _ = encode_all(model, data, held)
    recon = decode(model, mu)
    norms = gradient_norms(recon, x)
    print(f"{args.checkpoint}: {len(held)} held-out faces of {args.data}, mean |error| {(recon - x).abs().mean():.4f}")
    base = norms["squared error"]
    for name, norm in norms.items():
        print(f"{name}: gradient norm {norm:.4g}, {norm / base:.2f}x the squared error's")


if __name__ == "__main__":
    main()
