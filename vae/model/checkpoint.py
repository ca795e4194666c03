"""Checkpoint files: one file holds the model config, weights, history, dataset and directions.

Files are written atomically and read with ``torch.load(weights_only=True)``, so opening a
checkpoint can never run code. Every problem with a file surfaces as :class:`CheckpointError`.
"""

from __future__ import annotations

import os
import pickle
import pickletools
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..common.atomic import WriteError, atomic_write
from ..common.interrupts import signals_held
from .network import ConvVAE, VAEConfig

FORMAT_NAME = "face-explorer-vae"
FORMAT_VERSION = 1
_RESERVED = {"format", "format_version", "config", "state_dict"}
MAX_PRIOR_COMPONENTS = 512  # fit_mixture makes at most 128; a larger stored prior is refused as malformed


class CheckpointError(Exception):
    """A file is not a usable checkpoint; the message names the file and the problem."""


class NotACheckpoint(CheckpointError):
    """The file is not a checkpoint at all (an image, a text or JSON file, an empty file, …)."""


class UnsafeCheckpoint(CheckpointError):
    """The file holds objects other than tensors and plain data (it could run code); it was not loaded."""


_SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF file (WebP image or audio)"),
    (b"%PDF", "a PDF document"),
]


IMPORTING_OPCODES = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE"}
SCAN_LIMIT = 256 * 2**20


def _imports_objects(path: Path) -> bool:
    """True if ``path`` is a whole pickle (bare, or a torch zip's data.pkl) that imports functions or classes.

    Only read with :mod:`pickletools` (nothing is imported or run); damaged bytes are not a whole pickle.
    """
    try:
        if path.stat().st_size > SCAN_LIMIT:
            return False
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                data = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
        else:
            data = path.read_bytes()
        return any(op.name in IMPORTING_OPCODES for op, _, _ in pickletools.genops(data))
    except Exception:  # not a whole pickle: damaged or another format
        return False


def _what_it_seems(path: Path) -> str | None:
    """What a file that torch cannot read looks like ("a PNG image", "a JSON file", …), from its first bytes."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    if not head:
        return "an empty file"
    if head.startswith((b"PK\x03\x04", b"\x80")):  # torch's zip or legacy pickle format: torch decides
        return None
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            return what
    try:
        text = head.decode("utf-8").lstrip("\ufeff \t\r\n")
    except UnicodeDecodeError:
        return None
    return "a JSON file" if text[:1] in ("{", "[") else "a text file"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (eval mode) and everything saved beside it."""

    path: Path
    model: ConvVAE
    history: list[dict] = field(default_factory=list)
    dataset: dict = field(default_factory=dict)
    directions: dict[str, torch.Tensor] = field(default_factory=dict)
    latent_kl: torch.Tensor | None = None
    latent_prior: dict[str, torch.Tensor] | None = None  # Gaussian mixture fitted to the training encodings
    training: dict | None = None
    extra: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # stored metadata that was ignored because it was malformed

    @property
    def epochs(self) -> int:
        return len(self.history)

    def last_metric(self, name: str) -> float | None:
        """The newest epoch's value of ``name`` in the history, if any."""
        for row in reversed(self.history):
            if name in row:
                return row[name]
        return None


def save(path: str | os.PathLike, model: ConvVAE, *, half: bool = False, **metadata: Any) -> Path:
    """Write ``model`` and ``metadata`` (history, dataset, directions, latent_kl, latent_prior, training, …) atomically.

    ``half=True`` stores floating-point weights as float16 (for small shipped models).
    """
    clash = _RESERVED & metadata.keys()
    if clash:
        raise ValueError(f"metadata may not use the reserved keys {sorted(clash)}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    payload = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "state_dict": state,
        **metadata,
    }
    path = Path(path)
    try:
        with signals_held(), atomic_write(path, need=_tensor_bytes(payload) + 1_000_000) as handle:
            torch.save(payload, handle)  # a Ctrl-C meanwhile is heard once the file is whole
    except WriteError as exc:
        raise CheckpointError(str(exc)) from exc
    return path


def _tensor_bytes(value) -> int:
    """Bytes of the tensors in a nested payload (what a saved file mostly consists of)."""
    if torch.is_tensor(value):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(_tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_tensor_bytes(v) for v in value)
    return 0


def _read(path: Path) -> dict:
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    seems = _what_it_seems(path)
    if seems is not None:
        raise NotACheckpoint(f"{path}: not a checkpoint: it is {seems}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if _imports_objects(path):  # a well-formed pickle that names functions or classes: code, not damage
            raise UnsafeCheckpoint(
                f"{path}: refused to load: the file holds objects other than weights (it could run code)"
            ) from exc
        raise CheckpointError(f"{path}: not a readable checkpoint (damaged, truncated or another format)") from exc
    except Exception as exc:  # torch.load on damaged bytes raises almost any error (IndexError, KeyError, …)
        raise CheckpointError(f"{path}: not a readable checkpoint (damaged, truncated or another format)") from exc
    kind = payload.get("format") if isinstance(payload, dict) else None
    if isinstance(kind, str) and kind.startswith("face-explorer "):  # (this format is "face-explorer-vae")
        raise NotACheckpoint(
            f"{path}: not a model: it is Face Explorer's {kind.removeprefix('face-explorer ')} file (a model is "
            "resources/default_model_128.pt or default_model.pt, or a training run's best.pt or last.pt)"
        )
    if kind != FORMAT_NAME:
        raise NotACheckpoint(f"{path}: not a Face Explorer checkpoint (a bare state_dict or another program's file?)")
    version = payload.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: checkpoint has no valid format version")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} is newer than this program reads ({FORMAT_VERSION}); "
            "update Face Explorer"
        )
    return payload


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint; the model comes back in eval mode on ``device``, weights in float32."""
    path = Path(path)
    payload = _read(path)
    try:
        config = VAEConfig.from_dict(payload["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid model config ({exc})") from exc
    model = ConvVAE(config)
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: checkpoint holds no weights")
    state = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(
            f"{path}: weights do not fit the stored architecture "
            f"(image size {config.image_size}, latent {config.latent_dim}): "
            f"{first[1].strip() if len(first) > 1 else first[0]}"
        ) from exc
    model.to(device).eval()
    known = {"history", "dataset", "directions", "latent_kl", "latent_prior", "training"}
    problems: list[str] = []

    def checked(name, value, ok, default):
        if value is None or ok(value):
            return default if value is None else value
        problems.append(f"{path}: ignored malformed {name}")
        return default

    dim = config.latent_dim
    history = checked("history", payload.get("history"), _is_history, [])
    dataset = checked("dataset", payload.get("dataset"), lambda v: isinstance(v, dict), {})
    directions = checked(
        "directions",
        payload.get("directions"),
        lambda v: (
            isinstance(v, dict)
            and all(
                isinstance(k, str) and torch.is_tensor(t) and t.shape == (dim,) and bool(torch.isfinite(t).all())
                for k, t in v.items()
            )
        ),
        {},
    )
    latent_kl = checked(
        "latent_kl",
        payload.get("latent_kl"),
        lambda v: torch.is_tensor(v) and v.shape == (dim,) and bool(torch.isfinite(v).all()),
        None,
    )
    training = checked("training", payload.get("training"), lambda v: isinstance(v, dict), None)
    prior = _checked_prior(payload.get("latent_prior"), dim)
    if payload.get("latent_prior") is not None and prior is None:
        problems.append(f"{path}: ignored malformed latent_prior")
    return Checkpoint(
        path=path,
        model=model,
        history=list(history),
        dataset=dict(dataset),
        directions={k: v.float() for k, v in directions.items()},
        latent_kl=latent_kl,
        latent_prior=prior,
        training=training,
        extra={k: v for k, v in payload.items() if k not in known | _RESERVED},
        warnings=problems,
    )


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_history(value) -> bool:
    """A list of per-epoch rows whose every value is a number (what the Trainer writes)."""
    return isinstance(value, list) and all(
        isinstance(row, dict) and all(isinstance(k, str) and _is_number(v) for k, v in row.items()) for row in value
    )


def _checked_prior(prior, latent_dim: int):
    """A stored latent prior in mixture form (one-Gaussian priors of older checkpoints included), or None."""
    if not isinstance(prior, dict):
        return None
    mean, tril = prior.get("mean"), prior.get("scale_tril")
    if not (torch.is_tensor(mean) and torch.is_tensor(tril)):
        return None
    if mean.dim() == 1:
        mean, tril = mean.unsqueeze(0), tril.unsqueeze(0)
    weights = prior.get("weights", torch.ones(1))
    k = mean.shape[0]
    if k > MAX_PRIOR_COMPONENTS:
        return None
    if not (
        torch.is_tensor(weights)
        and weights.shape == (k,)
        and mean.shape == (k, latent_dim)
        and tril.shape == (k, latent_dim, latent_dim)
        and bool((weights >= 0).all())
        and float(weights.sum()) > 0
    ):
        return None
    if not all(bool(torch.isfinite(t).all()) for t in (weights, mean, tril)):
        return None
    return {"weights": weights.float(), "mean": mean.float(), "scale_tril": tril.float()}


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> ConvVAE:
    """The model stored in ``path``, in eval mode on ``device``."""
    return load(path, device).model
