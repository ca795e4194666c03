"""Face slots: a latent with a description of where it came from (for morph and arithmetic)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..common.control import QUIET, Control
from ..common.event import Event
from ..common.undo import UndoStacks
from ..model.latent import APP_TEMPERATURE
from .export import load_latents
from .latent_io import validate_latent

EXAMPLE_KINDS = ("with", "without")  # the examples of a trait: faces that have it, and faces that lack it


@dataclass
class FaceSlot:
    """A latent vector and a short label saying where it came from."""

    latent: torch.Tensor
    label: str

    def __post_init__(self):  # every door into a slot: finite, bounded, one vector
        latent = validate_latent(self.latent, None, self.label)
        if latent.shape[0] != 1:
            raise ValueError(f"{self.label}: a slot holds one latent, got {latent.shape[0]}")
        self.latent = latent[0]


def from_current(values: torch.Tensor) -> FaceSlot:
    return FaceSlot(values.clone(), "explorer face")


def from_random(state, temperature: float = APP_TEMPERATURE, generator: torch.Generator | None = None) -> FaceSlot:
    """A random face drawn with the explorer's sampler (the fitted prior when the model has one)."""
    return FaceSlot(state.sample(temperature, generator), f"random (T={temperature:.1f})")


def from_image(session, path: str | os.PathLike, control: Control = QUIET) -> FaceSlot:
    """The encoding of an image file (:meth:`~vae.explore.session.Session.encode_file`); raises ImageLoadError for
    an unusable file."""
    return FaceSlot(session.encode_file(path, control), Path(path).name)


def from_latent_file(path: str | os.PathLike, latent_dim: int) -> FaceSlot:
    """The first latent of a saved JSON (its label says so when the file holds more, as a morph strip's does);
    ValueError if it does not fit the model."""
    latents, name = load_latents(path, latent_dim), Path(path).name
    return FaceSlot(latents[0], name if len(latents) == 1 else f"{name} (face 1 of {len(latents)})")


class FaceHistory(UndoStacks):
    """Undo and redo for a tab's faces: each step is what the tab held before a change of the user's (the Morph tab:
    one slot's ``(key, slot, kind)``; the Arithmetic tab: every term's ``(weight, slot, kind)``), newest last, at
    most ``limit``. :meth:`undo` and :meth:`redo` take ``present(step)``, what the tab holds now in that step's
    terms, to keep for going the other way. ``changed()`` after each change."""

    def __init__(self, limit: int = 50):
        self.limit = limit
        self._undo: list = []
        self._redo: list = []
        self.changed = Event("changed")

    def record(self, step) -> None:
        """The tab held ``step`` until a change of the user's just now (which ends what Redo could give back)."""
        self._undo = [*self._undo, step][-self.limit :]
        self._redo = []
        self.changed.emit()

    def undo(self, present: Callable):
        """The last step, taken off the history (what the tab holds now kept for Redo); None when there is none."""
        return self._move(self._undo, self._redo, present)

    def redo(self, present: Callable):
        """The step the last Undo left, taken back (what the tab holds now kept for Undo); None when there is none."""
        return self._move(self._redo, self._undo, present)

    def _move(self, source: list, target: list, present: Callable):
        if not source:
            return None
        step = source.pop()
        target.append(present(step))
        self.changed.emit()
        return step

    def clear(self) -> None:
        """Forget every step (another latent space reads their latents otherwise)."""
        if self._undo or self._redo:
            self._undo, self._redo = [], []
            self.changed.emit()
