"""Face slots: a latent with a description of where it came from (for morph and arithmetic)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..common.control import QUIET, Control
from ..common.event import Event
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


class FaceHistory:
    """The faces a tab's slots held before the user replaced them, newest last (at most ``limit``), so that Undo
    can give each back. A step is (key, slot, kind): the key names the slot in its tab ("a", a term's index), the
    kind where its face came from. ``changed(can_undo)`` after each change."""

    def __init__(self, limit: int = 50):
        self.limit = limit
        self._steps: list[tuple[object, FaceSlot, str | None]] = []
        self.changed = Event("changed")

    @property
    def can_undo(self) -> bool:
        return bool(self._steps)

    def record(self, key, slot: FaceSlot | None, kind: str | None) -> None:
        """Slot ``key`` held ``slot`` (from ``kind``) until now; nothing to keep when it held no face."""
        if slot is None:
            return
        self._steps = [*self._steps, (key, slot, kind)][-self.limit :]
        self.changed.emit(True)

    def undo(self) -> tuple[object, FaceSlot, str | None] | None:
        """The last face replaced, taken off the history; None when there is none."""
        if not self._steps:
            return None
        step = self._steps.pop()
        self.changed.emit(self.can_undo)
        return step

    def clear(self) -> None:
        """Forget every step (the slots are gone, or another latent space reads their latents otherwise)."""
        if self._steps:
            self._steps = []
            self.changed.emit(False)
