"""The explorer's model layer: the current latent, its locks and undo history, and the decoder.

No Qt here: the app's panels observe a :class:`LatentState` and push edits back into it, and
tests drive it directly. Several changes applied at once (random, reset, load) are one update:
one undo step and one notification, so the face is decoded once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch

from . import checkpoint as checkpoint_mod
from .data import load_image
from .latent import ACTIVE_UNIT_THRESHOLD, rank_dimensions, sample_fitted, sample_prior

SLIDER_RANGE = 3.0  # sliders span ±3 standard deviations of the prior
HISTORY_LIMIT = 500
OPENING_SEED, OPENING_TEMPERATURE = 2, 0.8  # the first face a model with a fitted prior shows


class LatentState:
    """The latent vector being explored, with per-dimension locks and undo/redo."""

    def __init__(self, latent_dim: int, values: torch.Tensor | None = None):
        self.latent_dim = latent_dim
        self._values = torch.zeros(latent_dim) if values is None else self._checked(values)
        self.locks: set[int] = set()
        self._undo: list[torch.Tensor] = []
        self._redo: list[torch.Tensor] = []
        self._dragging = False
        self._listeners: list[Callable[[], None]] = []
        self.sampler: Callable[[float, torch.Generator | None], torch.Tensor] = (
            lambda temperature, generator: sample_prior(1, latent_dim, temperature, generator)[0])

    # ------------------------------------------------------------ observation
    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every change of values, locks or history."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    @property
    def values(self) -> torch.Tensor:
        return self._values.clone()

    def _checked(self, values) -> torch.Tensor:
        values = torch.as_tensor(values, dtype=torch.float32).reshape(-1).clone()
        if values.numel() != self.latent_dim:
            raise ValueError(f"expected a latent of {self.latent_dim} values, got {values.numel()}")
        if not torch.isfinite(values).all():
            raise ValueError("latent values must be finite")
        return values

    # ------------------------------------------------------------ edits
    def _record(self) -> None:
        self._undo.append(self._values.clone())
        del self._undo[:-HISTORY_LIMIT]
        self._redo.clear()

    def set_values(self, values) -> None:
        """Replace the whole latent: one undo step, one notification."""
        new = self._checked(values)
        if torch.equal(new, self._values):
            return
        self._record()
        self._values = new
        self._notify()

    def set_dim(self, dim: int, value: float) -> None:
        """Change one dimension. During a drag every move shares the drag's single undo step."""
        value = torch.tensor(float(value), dtype=torch.float32)
        if self._values[dim] == value:
            return
        if not self._dragging:
            self._record()
        self._values[dim] = value
        self._notify()

    def begin_drag(self) -> None:
        """Start a slider drag: the moves until :meth:`end_drag` collapse into one undo step."""
        if not self._dragging:
            self._record()
            self._dragging = True

    def end_drag(self) -> None:
        if self._dragging:
            self._dragging = False
            if self._undo and torch.equal(self._undo[-1], self._values):
                self._undo.pop()  # the drag ended where it began: nothing to undo
            self._notify()

    def randomize(self, temperature: float = 1.0, generator: torch.Generator | None = None) -> None:
        """A sample from :attr:`sampler` at ``temperature``; locked dimensions keep their values."""
        new = self.sampler(temperature, generator)
        for dim in self.locks:
            new[dim] = self._values[dim]
        self.set_values(new)

    def reset(self) -> None:
        """All dimensions to zero (the prior's mean)."""
        self.set_values(torch.zeros(self.latent_dim))

    def toggle_lock(self, dim: int) -> None:
        self.locks ^= {dim}
        self._notify()

    # ------------------------------------------------------------ history
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> None:
        if self._undo:
            self._redo.append(self._values)
            self._values = self._undo.pop()
            self._notify()

    def redo(self) -> None:
        if self._redo:
            self._undo.append(self._values)
            self._values = self._redo.pop()
            self._notify()


class FaceRenderer:
    """Decodes latents, skipping the work when the latent has not changed since the last call."""

    def __init__(self, model):
        self.model = model
        self._last_z: torch.Tensor | None = None
        self._last_image: torch.Tensor | None = None
        self.decodes = 0

    @torch.inference_mode()
    def render(self, z: torch.Tensor) -> torch.Tensor:
        """(3, S, S) image in [0, 1] for one latent."""
        z = z.reshape(1, -1).float()
        if self._last_z is not None and torch.equal(z, self._last_z):
            return self._last_image
        self._last_image = self.model.decode(z)[0].clamp(0, 1)
        self._last_z = z.clone()
        self.decodes += 1
        return self._last_image

    @torch.inference_mode()
    def render_batch(self, z: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) images for (N, D) latents, decoded as one batch."""
        return self.model.decode(z.float()).clamp(0, 1)


class ExplorerSession:
    """A loaded checkpoint plus the latent being explored: what every panel of the app shares."""

    def __init__(self, ckpt: checkpoint_mod.Checkpoint):
        self.checkpoint = ckpt
        self.model = ckpt.model.eval()
        self.renderer = FaceRenderer(self.model)
        if ckpt.latent_prior is None:
            self.state = LatentState(self.model.latent_dim)
        else:
            # z = 0 can lie outside where the encodings live; open on a fixed draw from the fitted prior instead
            def sampler(t, g):
                return sample_fitted(1, ckpt.latent_prior, t, g)[0]

            opening = sampler(OPENING_TEMPERATURE, torch.Generator().manual_seed(OPENING_SEED))
            self.state = LatentState(self.model.latent_dim, opening)
            self.state.sampler = sampler
        kl = ckpt.latent_kl
        self.latent_kl = kl.float() if torch.is_tensor(kl) and kl.numel() == self.model.latent_dim else None

    @classmethod
    def open(cls, path: str | os.PathLike) -> "ExplorerSession":
        """Load a checkpoint (raises :class:`~vae.checkpoint.CheckpointError`)."""
        return cls(checkpoint_mod.load(path))

    @property
    def name(self) -> str:
        return Path(self.checkpoint.path).name

    @property
    def dimension_order(self) -> list[int]:
        """Dimensions, most used first (by KL), or in index order when the KL is unknown."""
        if self.latent_kl is None:
            return list(range(self.model.latent_dim))
        return rank_dimensions(self.latent_kl).tolist()

    def is_active(self, dim: int) -> bool:
        return self.latent_kl is None or bool(self.latent_kl[dim] > ACTIVE_UNIT_THRESHOLD)

    def current_image(self) -> torch.Tensor:
        return self.renderer.render(self.state.values)

    @torch.inference_mode()
    def encode_file(self, path: str | os.PathLike) -> torch.Tensor:
        """μ of an image file (raises :class:`~vae.data.ImageLoadError`)."""
        x = load_image(path, self.model.image_size).unsqueeze(0)
        mu, _ = self.model.encode(x)
        return mu[0]

    def facts(self) -> dict:
        """What the status bar and the About box show about the model."""
        ckpt = self.checkpoint
        return {
            "checkpoint": self.name,
            "dataset": ckpt.dataset.get("source", "unknown"),
            "images": ckpt.dataset.get("count"),
            "image_size": self.model.image_size,
            "latent_dim": self.model.latent_dim,
            "epochs": ckpt.epochs,
            "val_ssim": ckpt.last_metric("val_ssim"),
            "directions": len(ckpt.directions),
            "random faces from": _prior_name(ckpt.latent_prior),
        }


def _prior_name(prior: dict | None) -> str:
    if prior is None:
        return "N(0, I)"
    k = prior["weights"].numel()
    return "Gaussian fitted to training encodings" if k == 1 else f"{k}-component Gaussian mixture fitted to training encodings"
