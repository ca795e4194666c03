"""Builders for test datasets (good faces and every kind of bad file), a process check, and a script loader."""

from __future__ import annotations

import importlib.util
import io
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from vae.data import synth
from vae.data.cache import open_folder
from vae.data.cartoonset import format_csv
from vae.model.network import ENCODER_PREFIXES, ConvVAE

ROOT = Path(__file__).resolve().parents[1]


def load_script(relative: str):
    """The module of a script outside the package (``bench/…``, ``docs/…``), by its path from the repository root."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_good_faces(folder: Path, count: int, seed: int = 0, size: int = 96) -> list[str]:
    return synth.generate(folder, count, seed=seed, size=size, workers=1)


def cached_faces(tmp_path_factory, count: int):
    """``count`` generated faces in a fresh folder, opened at 64 px with their own cache (for module fixtures)."""
    folder = tmp_path_factory.mktemp("faces")
    write_good_faces(folder, count)
    return open_folder(folder, 64, workers=1, cache_dir=tmp_path_factory.mktemp("cache"))


def write_bad_files(folder: Path) -> dict[str, str]:
    """Write one file of each troublesome kind; returns name → what is expected ('skip' or 'load')."""
    folder.mkdir(parents=True, exist_ok=True)
    face = synth.render_face(synth.random_attributes(synth.face_rng(99, 0)), 96)
    buf = io.BytesIO()
    face.save(buf, format="PNG")
    data = buf.getvalue()
    (folder / "corrupt.png").write_bytes(data[:40] + bytes(200) + data[240:])
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    (folder / "zero.png").write_bytes(b"")
    (folder / "text.png").write_text("this is not an image")
    Image.new("RGB", (3, 3), (10, 20, 30)).save(folder / "tiny.png")
    grey = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(grey).save(folder / "sixteen.png")
    face.convert("L").save(folder / "grey.png")
    face.convert("RGB").convert("P", palette=Image.ADAPTIVE).save(folder / "palette.png")
    face.convert("RGB").save(folder / "photo.jpg", quality=90)
    attrs = synth.random_attributes(synth.face_rng(99, 1))
    face.save(folder / "badcsv.png")
    (folder / "badcsv.csv").write_text('"hair"; nine\n')
    face.save(folder / "goodcsv.png")
    (folder / "goodcsv.csv").write_text(format_csv(attrs))
    return {
        "corrupt.png": "skip",
        "truncated.png": "skip",
        "zero.png": "skip",
        "text.png": "skip",
        "tiny.png": "skip",
        "sixteen.png": "load",
        "grey.png": "load",
        "palette.png": "load",
        "photo.jpg": "load",
        "badcsv.png": "load",
        "goodcsv.png": "load",
    }


def process_gone(pid: int) -> bool:
    """True when process ``pid`` has ended (a zombie waiting to be reaped counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def child_processes(pid: int) -> list[int]:
    """The pids of the processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def encoding_released_later(monkeypatch, tmp_path) -> tuple[Path, threading.Event]:
    """A checkpoint of latent size 4, and image encoding patched to deliver an 8-value latent (the size of the
    tests' usual model) only once the returned event is set: a result for a model that is no longer open."""
    from vae.model import checkpoint
    from vae.model.network import ConvVAE, VAEConfig

    small = tmp_path / "small.pt"
    torch.manual_seed(0)
    checkpoint.save(small, ConvVAE(VAEConfig(image_size=64, latent_dim=4, base_channels=8)))
    return small, image_encoding_released_later(monkeypatch)


def image_encoding_released_later(monkeypatch) -> threading.Event:
    """Image encoding patched to deliver a latent of eight ones only once the returned event is set."""
    from vae.explore import slots

    release = threading.Event()

    def from_image(session, path, control=None):
        release.wait(60)
        return slots.FaceSlot(torch.ones(8), Path(path).name)

    monkeypatch.setattr(slots, "from_image", from_image)
    return release


def two_cluster_prior(dim: int = 8, centre: float = 2.0) -> dict:
    """A fitted-prior dict of two Gaussians at −centre and +centre on every axis (weights 0.3, 0.7)."""
    g = torch.Generator().manual_seed(1)
    a = torch.randn(dim, dim, generator=g) * 0.3
    tril = torch.linalg.cholesky(a @ a.T + 0.05 * torch.eye(dim))
    return {
        "weights": torch.tensor([0.3, 0.7]),
        "mean": torch.stack([torch.full((dim,), -centre), torch.full((dim,), centre)]),
        "scale_tril": torch.stack([tril, tril]),
    }


def draw_palette_face(hair: str, skin: str, size: int = 64, highlight: float = 0.35) -> Image.Image:
    """A simple cartoon face in Cartoon Set palette colours ("rrggbb"): skin, hair with a lighter stroke, eyebrows,
    black outlines; drawn at 4× and reduced with Lanczos, so its edges are anti-aliased (and overshoot) like the
    real faces'."""
    rgb = [tuple(int(c[i : i + 2], 16) for i in (0, 2, 4)) for c in (hair, skin)]
    hair_rgb, skin_rgb = rgb
    light = tuple(round(h + highlight * (255 - h)) for h in hair_rgb)
    big = size * 4
    image = Image.new("RGB", (big, big), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    s = big / 256
    draw.ellipse([48 * s, 40 * s, 208 * s, 232 * s], fill=skin_rgb, outline=(0, 0, 0), width=round(5 * s))
    draw.chord([40 * s, 20 * s, 216 * s, 150 * s], 180, 360, fill=hair_rgb, outline=(0, 0, 0), width=round(5 * s))
    draw.line([90 * s, 50 * s, 150 * s, 40 * s], fill=light, width=round(8 * s))
    for x in (80, 146):
        draw.rectangle([x * s, 112 * s, (x + 30) * s, 120 * s], fill=hair_rgb)
        draw.ellipse([(x + 8) * s, 128 * s, (x + 22) * s, 142 * s], fill=(0, 0, 0))
    return image.resize((size, size), Image.LANCZOS)


def redrawn_model(model):
    """A model with ``model``'s encoder, weight for weight, and a wider decoder of its own (as if trained afresh on
    the same encodings): it shares ``model``'s latent space."""
    redrawn = ConvVAE(replace(model.config, decoder_width=2))
    encoder = {k: v for k, v in model.state_dict().items() if k.startswith(ENCODER_PREFIXES)}
    redrawn.load_state_dict(encoder, strict=False)
    return redrawn
