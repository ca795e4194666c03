"""What the user was making when the app closed, kept for the next launch.

The explorer's face with its locks and undo history, the morph's two faces and settings, the Arithmetic sum
(weighted faces, applied directions, attributes kept fixed, snap and hold), each face with its caption, and the
examples of a trait go into a JSON file of their latent space
(:func:`save_work`): the same encoder, weight for weight (:func:`~vae.model.network.latent_space_id`), where every
latent still means the same face. :func:`read_work` gives back the work of the model's latent space, so that work
made with one model waits while another is used. The last :data:`KEPT_SPACES` latent spaces' work is kept.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path

import torch

from ..common.atomic import atomic_write, make_folder
from ..model.network import latent_space_id
from .latent_io import LatentError, validate_latent
from .morph_model import MAX_FRAMES, MODES
from .slots import EXAMPLE_KINDS

FORMAT = "face-explorer-work/1"
MAX_BYTES = 64_000_000  # 500 steps of history each way are about 0.5 MB
KEPT_SPACES = 8
MAX_CAPTION = 200


class WorkError(ValueError):
    """Saved work that cannot be taken up; the message names the file."""


def work_file(folder: str | os.PathLike, model) -> Path:
    """The file in ``folder`` that keeps the work of ``model``'s latent space."""
    return _space_file(folder, latent_space_id(model))


def _space_file(folder: str | os.PathLike, space: str) -> Path:
    return Path(folder) / f"{space[:16]}.json"


def _rows(latents) -> list[list[float]]:
    return [[float(v) for v in torch.as_tensor(z).reshape(-1)] for z in latents]


def work_of(session, morph, arithmetic, follows: dict | None = None, captions: dict | None = None) -> dict:
    """The work to keep: ``session`` (an :class:`~vae.explore.session.ExplorerSession`, with its examples of a
    trait), ``morph`` (a :class:`~vae.explore.morph_model.MorphModel`) and ``arithmetic`` (an
    :class:`~vae.explore.arithmetic_model.ArithmeticModel`), as JSON-ready values. ``follows`` says which of the
    morph's two faces (``"morph"``) and the sum's known faces (``"arithmetic"``) follow the explorer's face, and
    ``captions`` what each says it is ("0042.png", "random (T=0.8)")."""
    state, faces = session.state, arithmetic.faces()
    undo, redo = state.history()
    follows, captions = follows or {}, captions or {}
    ends = [morph.a, morph.b]
    return {
        "format": FORMAT,
        "latent_space": latent_space_id(session.model),
        "latent_dim": state.latent_dim,
        "explore": {
            "values": _rows([state.values])[0],
            "locks": sorted(state.locks),
            "undo": _rows(undo),
            "redo": _rows(redo),
        },
        "morph": {
            "faces": None if any(z is None for z in ends) else _rows(ends),
            "follows": [bool(f) for f in follows.get("morph", [False, False])],
            "frames": morph.frames,
            "mode": morph.mode,
            "snap": morph.snap,
            "ping_pong": morph.ping_pong,
            "captions": _captions(captions.get("morph"), 2),
        },
        "arithmetic": {
            "terms": [[w, _rows([z])[0]] for w, z in faces],  # not a face still being encoded
            "follows": [bool(f) for f in follows.get("arithmetic", [False] * len(faces))],
            "captions": _captions(captions.get("arithmetic"), len(faces)),
            "applied": [[name, s] for name, s in arithmetic.applied],
            "kept": list(arithmetic.kept),
            "snap": arithmetic.snap,
            "hold": arithmetic.hold,
        },
        "examples": {
            kind: [[slot.label, _rows([slot.latent])[0]] for slot in slots] for kind, slots in session.examples.items()
        },
    }


def _captions(given, count: int) -> list[str]:
    """``count`` captions as kept: those given, or none ("") where they do not match the faces one to one (the work
    is kept either way)."""
    given = [str(c)[:MAX_CAPTION] for c in given or []]
    return given if len(given) == count else [""] * count


def save_work(folder: str | os.PathLike, work: dict) -> Path:
    """Write ``work`` into ``folder`` (made if needed) as its latent space's file, atomically, and forget the work of
    all but the :data:`KEPT_SPACES` latent spaces used last; :class:`~vae.common.atomic.WriteError` when it cannot
    be written."""
    folder = make_folder(folder, "the work kept between launches")
    path = _space_file(folder, work["latent_space"])
    payload = json.dumps(work).encode()
    with atomic_write(path, need=len(payload)) as handle:
        handle.write(payload)
    older = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[KEPT_SPACES:]
    for stale in older:
        with contextlib.suppress(OSError):
            stale.unlink()
    return path


def read_work(folder: str | os.PathLike, model) -> dict | None:
    """The work kept in ``folder`` for ``model``'s latent space, its latents as tensors; None when there is none.
    :class:`WorkError` (a ValueError naming the file) when it is damaged."""
    space = latent_space_id(model)  # hashed once: it reads every encoder weight
    path = _space_file(folder, space)
    source = str(path)
    try:
        if not path.is_file():
            return None
        if path.stat().st_size > MAX_BYTES:
            raise WorkError(f"{source}: too large for saved work")
        work = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WorkError(f"{source}: not readable saved work ({exc})") from exc
    if not isinstance(work, dict) or work.get("format") != FORMAT:
        raise WorkError(f"{source}: not saved work of this app")
    if work.get("latent_space") != space:
        return None
    try:
        return _checked(work, model.latent_dim, source)
    except (WorkError, LatentError):
        raise
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise WorkError(f"{source}: saved work with a missing or wrong entry ({exc!r})") from exc


def _checked(work: dict, dim: int, source: str) -> dict:
    """``work`` with every latent validated as a tensor of ``dim`` values and every number checked (a
    :class:`WorkError` or :class:`~vae.explore.latent_io.LatentError` names ``source``)."""

    def latents(rows, where: str, count: int | None = None) -> list[torch.Tensor]:
        if not rows:
            return []
        checked = list(validate_latent(rows, dim, f"{source} ({where})"))
        if count is not None and len(checked) != count:
            raise WorkError(f"{source} ({where}): {len(checked)} latents, not {count}")
        return checked

    def number(value, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise WorkError(f"{source} ({where}): {value!r} is not a finite number")
        return float(value)

    def flags(values, count: int, where: str) -> list[bool]:
        if not isinstance(values, list) or len(values) != count or not all(isinstance(v, bool) for v in values):
            raise WorkError(f"{source} ({where}): not {count} yes/no flags")
        return values

    def captions(values, count: int, where: str) -> list[str]:
        """Each face's caption ("" where the work was kept before captions were)."""
        if values is None:
            return [""] * count
        if not isinstance(values, list) or len(values) != count or not all(isinstance(v, str) for v in values):
            raise WorkError(f"{source} ({where}): not {count} captions")
        return [v[:MAX_CAPTION] for v in values]

    def examples(kept) -> dict[str, list[tuple[str, torch.Tensor]]]:
        kept = {} if kept is None else kept
        if not isinstance(kept, dict):
            raise WorkError(f"{source} (examples): not examples of a trait")
        found = {}
        for kind in EXAMPLE_KINDS:
            pairs = kept.get(kind, [])
            if not isinstance(pairs, list) or not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
                raise WorkError(f"{source} (examples {kind}): not (caption, latent) pairs")
            labels = captions([label for label, _ in pairs], len(pairs), f"examples {kind}")
            found[kind] = list(zip(labels, latents([z for _, z in pairs], f"examples {kind}")))
        return found

    explore, morph, arithmetic = work["explore"], work["morph"], work["arithmetic"]
    frames = morph["frames"]
    if morph["mode"] not in MODES or not isinstance(frames, int) or not 2 <= frames <= MAX_FRAMES:
        raise WorkError(f"{source} (morph): no morph of {frames!r} frames by {morph['mode']!r}")
    locks = [int(d) for d in explore["locks"]]
    if any(not 0 <= d < dim for d in locks):
        raise WorkError(f"{source} (explore): a lock on a dimension this model lacks")
    terms = [(number(w, "arithmetic weight"), latents([z], "arithmetic")[0]) for w, z in arithmetic["terms"]]
    return {
        "explore": {
            "values": latents([explore["values"]], "explore")[0],
            "locks": locks,
            "undo": latents(explore["undo"], "explore undo"),
            "redo": latents(explore["redo"], "explore redo"),
        },
        "morph": {
            "faces": latents(morph["faces"], "morph", 2) if morph["faces"] else None,
            "follows": flags(morph["follows"], 2, "morph"),
            "frames": frames,
            "mode": morph["mode"],
            "snap": bool(morph["snap"]),
            "ping_pong": bool(morph["ping_pong"]),
            "captions": captions(morph.get("captions"), 2, "morph"),
        },
        "arithmetic": {
            "terms": terms,
            "follows": flags(arithmetic["follows"], len(terms), "arithmetic"),
            "captions": captions(arithmetic.get("captions"), len(terms), "arithmetic"),
            "applied": [(str(name), number(s, "direction strength")) for name, s in arithmetic["applied"]],
            "kept": [str(name) for name in arithmetic["kept"]],
            "snap": bool(arithmetic["snap"]),
            "hold": bool(arithmetic["hold"]),
        },
        "examples": examples(work.get("examples")),
    }
