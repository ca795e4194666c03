"""What palette recolouring (``train_cli.py --recolour P``) adds to a training step.

    python bench/recolour_cost.py [--data FOLDER] [--rounds R] [--probability P] [--precision auto|bf16|fp32]
        [--ssim-weight W]

Takes a batch of 64 real faces at 64×64 from FOLDER (Cartoon Set faces: recolouring only acts on their palette;
default ../shared/cartoonset10k_128), channels-last as the trainer hands it, and times, alternating for ``--rounds``
rounds so both see the same machine load, one training step of the default model (forward, squared error + β·KL +
the SSIM term at ``--ssim-weight`` as the shipped recipe has it, backward, Adam) in the precision a training run picks
on this machine (``--precision``, as ``train_cli.py``'s; bf16 on CPUs with native bf16), and the same step on the
batch recoloured by ``vae.data.palette.recolour_batch`` at probability P first: what a step with ``--recolour P``
costs, the recolouring and whatever it does to the step (a batch handed on in another memory layout slows the SSIM
term). Prints both and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from machine import describe  # noqa: E402  (this folder is on sys.path when run as a script)
from timing import median_seconds  # noqa: E402

from vae.data.cache import open_folder  # noqa: E402
from vae.data.palette import recolour_batch  # noqa: E402
from vae.model.loss import vae_loss  # noqa: E402
from vae.model.metrics import PRECISIONS, autocast_for, training_precision  # noqa: E402
from vae.model.network import ConvVAE  # noqa: E402
from vae.train.config import DEFAULT_MODEL_RECIPE  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "cartoonset10k_128")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--probability", type=float, default=0.5)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="as train_cli.py's (default auto)")
    parser.add_argument("--ssim-weight", type=float, default=0.1, help="the shipped recipe's (default 0.1)")
    args = parser.parse_args()
    print(describe())
    precision = training_precision(torch.device("cpu"), args.precision)
    faces = open_folder(args.data, 64)
    rng = np.random.default_rng(0)
    batch = faces.batch(rng.choice(len(faces), 64, replace=False)).contiguous(memory_format=torch.channels_last)
    model = ConvVAE(DEFAULT_MODEL_RECIPE.model).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), 1e-4)

    def train_step(x):
        with autocast_for(torch.device("cpu"), precision):
            recon, mu, logvar = model(x)
        optimizer.zero_grad(set_to_none=True)
        loss = vae_loss(recon, x, mu, logvar, DEFAULT_MODEL_RECIPE.beta, ssim_weight=args.ssim_weight)
        loss.total.backward()
        optimizer.step()

    train_step(batch)
    plain, recoloured = [], []
    for _ in range(args.rounds):
        plain.append(median_seconds(lambda: train_step(batch), 5))
        recoloured.append(median_seconds(lambda: train_step(recolour_batch(batch, rng, args.probability)), 5))
    step, with_recolour = statistics.median(plain), statistics.median(recoloured)
    print(f"{torch.get_num_threads()} threads, {precision}, batch 64 at 64×64, median of {args.rounds} rounds")
    print(
        f"training step: {step * 1000:.0f} ms; recolouring (p={args.probability}) + step: {with_recolour * 1000:.0f} ms"
    )
    print(f"recolouring adds {with_recolour / step - 1:.2f}x a step's time")


if __name__ == "__main__":
    main()
