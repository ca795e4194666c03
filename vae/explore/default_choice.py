"""Which pretrained model the app opens when none is named: the 128×128 one where this machine decodes it fast enough.

A slider drag repaints the face once per decode, so the sharper model is only worth it while a
decode stays well inside a 60 Hz frame. :func:`choose_default` times the 128 model's decoder here,
at start-up, and falls back to the 64×64 model (saying why) when it is too slow or cannot be read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..model import checkpoint
from ..model.inference import DTYPE_NAMES, drawing_dtype, fastest_decode_ms, folded_for_inference

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
DEFAULT_64 = RESOURCES / "default_model.pt"
DEFAULT_128 = RESOURCES / "default_model_128.pt"
# Of the 16 ms frame a slider move has: enlarging and painting the face take about 6 ms more than the fastest
# decode on the 2-core development machines (bench/slider_latency.py: p50 9.2 ms at a 3.2 ms decode), and a
# move's p95 runs 1.5–3 ms above its p50.
DECODE_BUDGET_MS = 6.0


@dataclass
class DefaultChoice:
    checkpoint: checkpoint.Checkpoint
    reason: str  # one line for the status bar and the log


def decode_ms(model, repeats: int = 7) -> float:
    """The fastest of ``repeats`` decodes of one latent, in ms, by the copy the app draws with
    (:func:`vae.model.inference.folded_for_inference` in :func:`~vae.model.inference.drawing_dtype`)."""
    return fastest_decode_ms(folded_for_inference(model, drawing_dtype(model)), repeats)


def choose_default(
    sharp: str | os.PathLike | None = None, fallback: str | os.PathLike | None = None, budget_ms: float | None = None
) -> DefaultChoice:
    """Open ``sharp`` (default :data:`DEFAULT_128`) if it exists, loads and decodes within ``budget_ms``
    (default :data:`DECODE_BUDGET_MS`); else ``fallback`` (default :data:`DEFAULT_64`).

    Raises :class:`~vae.model.checkpoint.CheckpointError` when the one it settles on cannot be opened.
    """
    sharp, fallback = Path(sharp or DEFAULT_128), Path(fallback or DEFAULT_64)
    budget_ms = DECODE_BUDGET_MS if budget_ms is None else budget_ms
    if not sharp.exists():
        return DefaultChoice(checkpoint.load(fallback), f"opened {fallback.name}")  # the usual case: no 128×128 model
    if not fallback.exists():
        return DefaultChoice(checkpoint.load(sharp), f"opened {sharp.name} ({fallback.name} is missing)")
    try:
        ckpt = checkpoint.load(sharp)
    except checkpoint.CheckpointError as exc:
        return DefaultChoice(checkpoint.load(fallback), f"opened {fallback.name}: {sharp.name} cannot be read ({exc})")
    ms = decode_ms(ckpt.model.eval())
    drawn = f"{ms:.1f} ms a face in {DTYPE_NAMES[drawing_dtype(ckpt.model)]}"  # measured once, by decode_ms
    size = ckpt.model.image_size
    if ms > budget_ms:
        small = checkpoint.load(fallback)
        slow = (
            f"{sharp.name} takes {ms:.1f} ms a face here, over the {budget_ms:g} ms smooth sliders allow "
            "(File → Open checkpoint…)"
        )
        return DefaultChoice(small, f"opened the {small.model.image_size} px model: {slow}")
    return DefaultChoice(ckpt, f"opened the {size} px model ({sharp.name}, {drawn})")
