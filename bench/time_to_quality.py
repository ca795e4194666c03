"""Time to quality: Face Explorer's training pipeline and model vs the seeds' recipe, same wall-clock budget.

    python bench/time_to_quality.py [--data ../shared/cartoonset10k_128] [--budget-s 1800] [--quick]

Both sides train on the same real faces (the folder minus ``--held-out`` faces chosen by
:func:`vae.data.folder.holdout_split`, the split every script uses), one after the other in this process:
- baseline, the seeds' recipe: a torch DataLoader decoding each PNG with PIL per item
  (torchvision Resize to 64, ToTensor); encoder of four Conv2d(4, 2, 1) + BatchNorm + ReLU layers
  (32, 64, 128, 256 channels), linear μ / log σ² to 32 dimensions, a mirrored transposed-conv
  decoder with sigmoid output; loss = squared error summed over pixels, averaged over the batch,
  + 1.5·KL; Adam at 1e-3, batch 64, fp32;
- ours: :class:`vae.train.trainer.Trainer` over the memory-mapped cache of :func:`vae.data.cache.open_folder`,
  with the default model's recipe (``RECIPE`` below). Its cosine schedule is fitted to the budget:
  after ``FIT_AT`` of the budget, the measured rate sets how many epochs the schedule spans.
Every ``--eval-every`` seconds of training each side's validation SSIM is measured by the same
code (torchmetrics SSIM of decode(μ) against the held-out faces at 64 px, fp32); the clock is
stopped while evaluating (and, on our side, while the Trainer validates and writes checkpoints at
the end of each epoch). The last line prints how many times faster ours reached the SSIM the
baseline ended with: the baseline's training time over the first time ours reached it
(interpolated between evaluations). Exit code 2: the data folder is missing or unusable.
"""

from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402
from torchvision import transforms  # noqa: E402

from bench.machine import describe  # noqa: E402
from vae.common.control import TerminalControl  # noqa: E402
from vae.data.cache import open_folder  # noqa: E402
from vae.data.folder import DataError, holdout_split  # noqa: E402
from vae.model.loss import vae_loss  # noqa: E402
from vae.train.trainer import DEFAULT_MODEL_RECIPE, TrainConfig, Trainer, pick_device  # noqa: E402

# The default model's recipe, in bf16 as the shipped model was trained (README, "The default model").
RECIPE = dataclasses.replace(DEFAULT_MODEL_RECIPE, precision="bf16")
FIT_AT = 0.05  # fraction of the budget after which the cosine schedule is fitted to the measured rate
DEFAULT_DATA = ROOT.parent / "shared" / "cartoonset10k_128"
SEEDS_BETA = 1.5
SEEDS_LR = 1e-3
SEEDS_BATCH = 64
SEEDS_SIZE = 64
SEEDS_LATENT = 32


# ---------------------------------------------------------------- the seeds' recipe
class SeedsVAE(nn.Module):
    """The seeds' model: four conv + BatchNorm + ReLU layers down, linear μ / log σ², transposed convs up."""

    def __init__(self, latent_dim: int = SEEDS_LATENT):
        super().__init__()
        chans = [3, 32, 64, 128, 256]
        down = []
        for cin, cout in zip(chans, chans[1:]):
            down += [nn.Conv2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.ReLU()]
        self.encoder = nn.Sequential(*down, nn.Flatten())
        self.fc_mu = nn.Linear(256 * 4 * 4, latent_dim)
        self.fc_logvar = nn.Linear(256 * 4 * 4, latent_dim)
        self.fc_decode = nn.Linear(latent_dim, 256 * 4 * 4)
        up = [nn.Unflatten(1, (256, 4, 4))]
        rev = chans[::-1]
        for cin, cout in zip(rev[:-2], rev[1:-1]):
            up += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.ReLU()]
        up += [nn.ConvTranspose2d(32, 3, 4, 2, 1), nn.Sigmoid()]
        self.decoder = nn.Sequential(*up)

    def encode(self, x):
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        return self.decoder(self.fc_decode(z))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar


class PngFaces(Dataset):
    """The seeds' data pipeline: open each PNG with PIL, Resize to 64, ToTensor, per item."""

    def __init__(self, paths: list[Path], size: int = SEEDS_SIZE):
        self.paths = paths
        self.transform = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as im:
            return self.transform(im.convert("RGB"))


# ---------------------------------------------------------------- measuring
class Clock:
    """Training wall time: runs between start() and stop(), so evaluation can be left out."""

    def __init__(self, device: torch.device):
        self.device = device
        self.total = 0.0
        self.since: float | None = None

    def start(self) -> None:
        self.since = time.perf_counter()

    def stop(self) -> None:
        if self.since is not None:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.total += time.perf_counter() - self.since
            self.since = None

    def elapsed(self) -> float:
        if self.since is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # the time of the work queued so far, not of queueing it
        return self.total + (time.perf_counter() - self.since if self.since is not None else 0.0)


@torch.no_grad()
def validation_ssim(model: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int = 250) -> float:
    """Mean torchmetrics SSIM of decode(μ) against ``images`` (N, 3, 64, 64), in fp32, eval mode."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(device)
        mu, _ = model.encode(x)
        recon = model.decode(mu).float().clamp(0, 1)
        total += structural_similarity_index_measure(recon, x, data_range=1.0).item() * len(x)
    model.train(was_training)
    return total / len(images)


class Curve:
    """Validation SSIM against training time for one side; evaluations stop the clock."""

    def __init__(self, name: str, clock: Clock, images: torch.Tensor, device: torch.device, every: float):
        self.name, self.clock, self.images, self.device, self.every = name, clock, images, device, every
        self.points: list[tuple[float, float]] = []
        self.next_at = every

    def due(self) -> bool:
        return self.clock.elapsed() >= self.next_at

    def record(self, model: nn.Module) -> None:
        self.clock.stop()
        t = self.clock.total
        ssim = validation_ssim(model, self.images, self.device)
        self.points.append((t, ssim))
        print(f"{self.name:8s} t={t:7.1f} s  SSIM {ssim:.4f}", flush=True)
        while self.next_at <= t:
            self.next_at += self.every
        self.clock.start()


def time_to_reach(points: list[tuple[float, float]], target: float) -> float | None:
    """First time the curve reaches ``target``, linearly interpolated between evaluations; None if never."""
    previous = None
    for t, s in points:
        if s >= target:
            if previous is None or previous[1] >= s:
                return t
            t0, s0 = previous
            return t0 + (t - t0) * (target - s0) / (s - s0)
        previous = (t, s)
    return None


def run_baseline(
    paths: list[Path], images: torch.Tensor, budget: float, every: float, device: torch.device, workers: int, seed: int
) -> Curve:
    torch.manual_seed(seed)
    clock = Clock(device)
    curve = Curve("baseline", clock, images, device, every)
    clock.start()
    model = SeedsVAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=SEEDS_LR)
    loader = DataLoader(
        PngFaces(paths), batch_size=SEEDS_BATCH, shuffle=True, num_workers=workers, persistent_workers=workers > 0
    )
    while True:
        for x in loader:
            x = x.to(device)
            recon, mu, logvar = model(x)
            loss = vae_loss(recon, x, mu, logvar, SEEDS_BETA).total
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if clock.elapsed() >= budget:
                curve.record(model)
                return curve
            if curve.due():
                curve.record(model)


def run_ours(
    cache,
    train_idx: np.ndarray,
    held_idx: np.ndarray,
    images: torch.Tensor,
    config: TrainConfig,
    budget: float,
    every: float,
    device: torch.device,
    out_dir: Path,
) -> Curve:
    clock = Clock(device)
    curve = Curve("ours", clock, images, device, every)
    view = copy.copy(cache)
    view.split = lambda fraction=None: (train_idx, held_idx)  # the Trainer trains on exactly these faces
    seen = {"images": 0, "fitted": not config.cosine}

    def on_step(event):
        seen["images"] += config.batch_size
        if not seen["fitted"] and clock.elapsed() >= FIT_AT * budget:
            rate = seen["images"] / clock.elapsed()
            trainer.config.epochs = max(1, math.ceil(rate * budget / len(train_idx)))
            seen["fitted"] = True
        if clock.elapsed() >= budget:
            curve.record(trainer.model)
            trainer.stop()
            return
        if curve.due():
            curve.record(trainer.model)
        if event.step == event.steps_per_epoch:
            clock.stop()  # the Trainer's end-of-epoch validation, checkpoints and preview

    def on_epoch(event):
        if event.epoch == event.epochs:  # the schedule's last epoch: the run ends here
            curve.record(trainer.model)
        clock.start()

    clock.start()
    trainer = Trainer(config, view, out_dir, on_step=on_step, on_epoch=on_epoch)
    trainer.run()
    clock.stop()
    return curve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"folder of real faces (default {DEFAULT_DATA})"
    )
    parser.add_argument(
        "--budget-s", type=float, default=None, help="training seconds per side (default 1800, quick 120)"
    )
    parser.add_argument("--quick", action="store_true", help="~120 s a side on 2000 training faces, 200 held-out faces")
    parser.add_argument("--held-out", type=int, default=500, help="faces held out by name hash (default 500)")
    parser.add_argument("--train-faces", type=int, default=None, help="use only this many training faces (quick 2000)")
    parser.add_argument("--eval-faces", type=int, default=None, help="evaluate on this many held-out faces (quick 200)")
    parser.add_argument(
        "--eval-every", type=float, default=None, help="training seconds between evaluations (budget/30)"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="baseline DataLoader workers")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", type=Path, default=None, help="write side,seconds,ssim rows here")
    args = parser.parse_args(argv)
    print(describe())
    budget = args.budget_s or (120.0 if args.quick else 1800.0)
    train_faces = args.train_faces or (2000 if args.quick else None)
    eval_faces = args.eval_faces or (200 if args.quick else None)
    every = args.eval_every or budget / 30
    if not args.data.is_dir():
        print(
            f"error: data folder {args.data} not found; pass --data DIR (a folder of real Cartoon Set faces)",
            file=sys.stderr,
        )
        return 2
    device = pick_device(args.device)
    config = dataclasses.replace(RECIPE, epochs=10**6, device=str(device), seed=args.seed)
    try:
        with TerminalControl() as control:
            cache = open_folder(args.data, config.model.image_size, control=control)
        train_idx, held_idx = holdout_split(cache.files, args.held_out)
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    train_idx, held_idx = train_idx[:train_faces], held_idx[:eval_faces]
    images = cache.batch(held_idx)
    root = Path(cache.meta["source"])
    paths = [root / cache.files[i] for i in train_idx]
    print(
        f"device {device}; {len(train_idx)} training faces, {len(held_idx)} held-out faces from {args.data}; "
        f"{budget:.0f} s of training a side, SSIM every {every:.1f} s",
        flush=True,
    )
    print(
        f"baseline: seeds' recipe (PIL + torchvision per item, {args.workers} workers, 4-conv VAE, beta {SEEDS_BETA}, "
        f"Adam {SEEDS_LR:g}, batch {SEEDS_BATCH}, fp32)",
        flush=True,
    )
    base = run_baseline(paths, images, budget, every, device, args.workers, args.seed)
    print(
        f"ours: Trainer on the cache, the default model's recipe: beta {RECIPE.beta}, lr {RECIPE.lr}, "
        f"batch {RECIPE.batch_size}, {RECIPE.precision}, {RECIPE.model}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        ours = run_ours(cache, train_idx, held_idx, images, config, budget, every, device, Path(tmp))
    if args.csv:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["side", "seconds", "ssim"])
            writer.writerows(
                [name, f"{t:.2f}", f"{s:.5f}"]
                for name, curve in (("baseline", base), ("ours", ours))
                for t, s in curve.points
            )
    (base_t, base_ssim), (ours_t, ours_ssim) = base.points[-1], ours.points[-1]
    print(f"the baseline first reached its final SSIM {base_ssim:.4f} at {time_to_reach(base.points, base_ssim):.1f} s")
    print(f"final SSIM: baseline {base_ssim:.4f} after {base_t:.1f} s | ours {ours_ssim:.4f} after {ours_t:.1f} s")
    reached = time_to_reach(ours.points, base_ssim)
    if reached is None:
        print(f"ours never reached the baseline's final SSIM {base_ssim:.4f} in {ours_t:.1f} s: speed-up below x1.00")
    else:
        print(
            f"SSIM {base_ssim:.4f}: baseline {base_t:.1f} s | ours {reached:.1f} s | "
            f"ours x{base_t / reached:.2f} faster"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
