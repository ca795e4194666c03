"""What the user was making when the app closed, kept for the next launch.

The explorer's face with its locks and undo history, the morph's two faces and settings, and the Arithmetic sum
(weighted faces, applied directions, attributes kept fixed, snap and hold) go into one JSON file
(:func:`save_work`). :func:`read_work` gives them back only for a model of the same latent space (the same encoder,
weight for weight: :func:`~vae.model.network.latent_space_id`), where every latent still means the same face.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ..common.atomic import atomic_write, make_folder
from ..model.network import latent_space_id
from .latent_io import LatentError, validate_latent
from .morph_model import MODES

FORMAT = "face-explorer-work/1"
MAX_BYTES = 64_000_000  # 500 steps of history each way are about 0.5 MB


class WorkError(ValueError):
    """Saved work that cannot be taken up; the message names the file."""


def _rows(latents) -> list[list[float]]:
    return [[float(v) for v in torch.as_tensor(z).reshape(-1)] for z in latents]


def work_of(session, morph, arithmetic) -> dict:
    """The work to keep: ``session`` (an :class:`~vae.explore.session.ExplorerSession`), ``morph`` (a
    :class:`~vae.explore.morph_model.MorphModel`) and ``arithmetic`` (an
    :class:`~vae.explore.arithmetic_model.ArithmeticModel`), as JSON-ready values."""
    state = session.state
    ends = [morph.a, morph.b]
    return {
        "format": FORMAT,
        "latent_space": latent_space_id(session.model),
        "latent_dim": state.latent_dim,
        "explore": {
            "values": _rows([state.values])[0],
            "locks": sorted(state.locks),
            "undo": _rows(state.history()[0]),
            "redo": _rows(state.history()[1]),
        },
        "morph": {
            "faces": None if any(z is None for z in ends) else _rows(ends),
            "frames": morph.frames,
            "mode": morph.mode,
            "snap": morph.snap,
            "ping_pong": morph.ping_pong,
        },
        "arithmetic": {
            "terms": [[w, _rows([z])[0]] for w, z in arithmetic.faces()],  # not a face still being encoded
            "applied": [[name, s] for name, s in arithmetic.applied],
            "kept": list(arithmetic.kept),
            "snap": arithmetic.snap,
            "hold": arithmetic.hold,
        },
    }


def save_work(path: str | os.PathLike, work: dict) -> None:
    """Write ``work`` to ``path`` atomically; :class:`~vae.common.atomic.WriteError` when it cannot be written."""
    payload = json.dumps(work).encode()
    make_folder(Path(path).parent, "the saved work")
    with atomic_write(path, need=len(payload)) as handle:
        handle.write(payload)


def read_work(path: str | os.PathLike, model) -> dict | None:
    """The work saved at ``path`` with its latents as tensors, if it was made with ``model``'s latent space; None
    when there is none or it belongs to another one. :class:`WorkError` (a ValueError naming the file) when it is
    damaged."""
    path = Path(path)
    if not path.is_file():
        return None
    source = str(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise WorkError(f"{source}: too large for saved work")
        work = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WorkError(f"{source}: not readable saved work ({exc})") from exc
    if not isinstance(work, dict) or work.get("format") != FORMAT:
        raise WorkError(f"{source}: not saved work of this app")
    if work.get("latent_space") != latent_space_id(model):
        return None
    try:
        return _checked(work, model.latent_dim, source)
    except (WorkError, LatentError):
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise WorkError(f"{source}: saved work with a missing or wrong entry ({exc!r})") from exc


def _checked(work: dict, dim: int, source: str) -> dict:
    """``work`` with every latent validated as a tensor of ``dim`` values (a ValueError names ``source``)."""

    def latents(rows, where: str, count: int | None = None) -> list[torch.Tensor]:
        if not rows:
            return []
        checked = list(validate_latent(rows, dim, f"{source} ({where})"))
        if count is not None and len(checked) != count:
            raise WorkError(f"{source} ({where}): {len(checked)} latents, not {count}")
        return checked

    explore, morph, arithmetic = work["explore"], work["morph"], work["arithmetic"]
    if morph["mode"] not in MODES or int(morph["frames"]) < 2:
        raise WorkError(f"{source} (morph): no morph of {morph['frames']} frames by {morph['mode']!r}")
    locks = [int(d) for d in explore["locks"]]
    if any(not 0 <= d < dim for d in locks):
        raise WorkError(f"{source} (explore): a lock on a dimension this model lacks")
    return {
        "explore": {
            "values": latents([explore["values"]], "explore")[0],
            "locks": locks,
            "undo": latents(explore["undo"], "explore undo"),
            "redo": latents(explore["redo"], "explore redo"),
        },
        "morph": {
            "faces": latents(morph["faces"], "morph", 2) if morph["faces"] else None,
            "frames": int(morph["frames"]),
            "mode": str(morph["mode"]),
            "snap": bool(morph["snap"]),
            "ping_pong": bool(morph["ping_pong"]),
        },
        "arithmetic": {
            "terms": [(float(w), latents([z], "arithmetic")[0]) for w, z in arithmetic["terms"]],
            "applied": [(str(name), float(s)) for name, s in arithmetic["applied"]],
            "kept": [str(name) for name in arithmetic["kept"]],
            "snap": bool(arithmetic["snap"]),
            "hold": bool(arithmetic["hold"]),
        },
    }
