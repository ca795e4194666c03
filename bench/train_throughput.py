"""Training throughput: Face Explorer's cached pipeline vs decoding PNGs every epoch.

    python bench/train_throughput.py [--quick] [--images N] [--steps K] [--device auto|cpu|cuda]

Both sides train the same model with the same loss, optimiser and batch size on the same folder
of 500×500 Cartoon Set-format PNGs, in this process, one after the other:
- baseline: a torch DataLoader whose dataset opens each PNG with PIL and applies torchvision
  transforms (Resize, CenterCrop, ToTensor) per item, every epoch (how reference notebooks load
  Cartoon Set), with one worker process per core;
- Face Explorer: the preprocessing cache (built once, memory-mapped) feeding vae.train.trainer.Trainer.
The last line prints both images/s figures and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402
from torchvision import transforms  # noqa: E402

from bench.machine import describe  # noqa: E402
from vae.data import synth  # noqa: E402
from vae.data.cache import open_folder  # noqa: E402
from vae.model.loss import vae_loss  # noqa: E402
from vae.model.metrics import autocast_for  # noqa: E402
from vae.model.network import ConvVAE  # noqa: E402
from vae.train.trainer import TrainConfig, Trainer, pick_device  # noqa: E402


class PngFolder(Dataset):
    """The baseline: decode and transform one PNG per item."""

    def __init__(self, folder: Path, size: int):
        self.files = sorted(folder.glob("*.png"))
        self.transform = transforms.Compose(
            [transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor()]
        )

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        with Image.open(self.files[i]) as im:
            white = Image.new("RGBA", im.size, (255, 255, 255, 255))
            rgb = Image.alpha_composite(white, im.convert("RGBA")).convert("RGB")
        return self.transform(rgb)


def baseline_rate(folder: Path, config: TrainConfig, steps: int, device: torch.device) -> float:
    torch.manual_seed(0)
    model = ConvVAE(config.model).to(device, memory_format=torch.channels_last)  # as the Trainer's
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loader = DataLoader(
        PngFolder(folder, config.model.image_size),
        batch_size=config.batch_size,
        shuffle=True,
        num_workers=os.cpu_count() or 1,
        drop_last=True,
        persistent_workers=False,
    )
    done, images, start = 0, 0, None
    while done < steps + 1:
        for x in loader:
            if done == 1:  # the first step (worker start-up, allocation) is not timed on either side
                start, images = time.perf_counter(), 0
            x = x.to(device, memory_format=torch.channels_last)
            with autocast_for(device):
                recon, mu, logvar = model(x)
            loss = vae_loss(recon, x, mu, logvar, config.beta).total
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            images += x.shape[0]
            done += 1
            if done >= steps + 1:
                break
    return images / (time.perf_counter() - start)


def trainer_images_per_second(trainer: Trainer, steps: int, warmup_steps: int = 0) -> float:
    """Images/s of ``trainer`` over ``steps`` steps; the first ``warmup_steps`` + 1 (start-up, allocation) are
    not timed. It stops the trainer through its step callback, which it replaces."""
    marks: list[float] = []

    def on_step(event):
        marks.append(time.perf_counter())
        if len(marks) > warmup_steps + steps:
            trainer.stop()

    trainer.on_step = on_step
    need = (warmup_steps + steps + 2) * trainer.config.batch_size
    trainer.train_idx = trainer.train_idx.repeat(need // len(trainer.train_idx) + 1)
    trainer.run(overwrite=True)
    timed = marks[warmup_steps:]
    return (len(timed) - 1) * trainer.config.batch_size / (timed[-1] - timed[0])


def cached_rate(folder: Path, config: TrainConfig, steps: int, out: Path) -> tuple[float, float]:
    """Images/s of the Trainer on the preprocessing cache of ``folder``, and the seconds the cache took to build."""
    start = time.perf_counter()
    cache = open_folder(folder, config.model.image_size)
    build_seconds = time.perf_counter() - start
    return trainer_images_per_second(Trainer(config, cache, out), steps), build_seconds


def comparison_arguments(doc: str) -> tuple[argparse.Namespace, torch.device]:
    """``--steps``, ``--rounds`` and ``--device`` of a bench that compares training configs, and the device; prints
    the machine first."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per run (default 20)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args()
    print(describe())
    return args, pick_device(args.device)


def alternating_rates(configs: dict[str, TrainConfig], steps: int, rounds: int) -> dict[str, float]:
    """The median images/s of each config on 256 cached generated faces; the configs alternate for ``rounds``
    rounds so that all of them see the same machine load."""
    rates: dict[str, list[float]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["FACE_EXPLORER_CACHE"] = str(tmp / "cache")
        synth.generate(tmp / "faces", 256, seed=5, size=128)
        for round_ in range(rounds):
            for i, (name, config) in enumerate(configs.items()):
                rates[name].append(cached_rate(tmp / "faces", config, steps, tmp / f"run_{i}_{round_}")[0])
    return {name: statistics.median(values) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (under a minute on 2 cores)")
    parser.add_argument("--images", type=int, default=None, help="PNGs in the folder (default 2000, quick 400)")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps per side (default 60, quick 12)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args()
    print(describe())
    images = args.images or (400 if args.quick else 2000)
    steps = args.steps or (12 if args.quick else 60)
    device = pick_device(args.device)
    config = TrainConfig(epochs=1000, batch_size=args.batch_size, device=str(device), cosine=False)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["FACE_EXPLORER_CACHE"] = str(tmp / "cache")
        folder = tmp / "faces"
        synth.generate(folder, images, seed=7, size=500)
        base = baseline_rate(folder, config, steps, device)
        ours, build = cached_rate(folder, config, steps, tmp / "run")
    print(f"device {device}, {images} PNGs of 500x500, batch {args.batch_size}, {steps} timed steps each")
    print(f"cache build (once per folder): {build:.1f} s ({images / build:.0f} images/s)")
    print(f"baseline (PIL + torchvision per item, DataLoader x{os.cpu_count()} workers): {base:.0f} images/s")
    print(f"Face Explorer (memory-mapped cache + Trainer): {ours:.0f} images/s")
    print(f"baseline {base:.0f} img/s | cached {ours:.0f} img/s | ratio x{ours / base:.2f}")


if __name__ == "__main__":
    main()
