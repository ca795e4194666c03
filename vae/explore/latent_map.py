"""A 2-D map of a dataset's validation faces in latent space (PCA of their μ; t-SNE in :mod:`.projection`), or of
faces a model draws from random latents."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from ..common.control import QUIET, Control
from ..data.cache import BUILTIN_COUNT, FaceCache, open_dataset
from ..data.cartoonset import ATTRIBUTE_NAMES
from ..model.latent import APP_TEMPERATURE, project_2d, sample_fitted
from ..model.metrics import encode_all
from .slots import FaceSlot

MAX_POINTS = 3000
DRAWN = "drawn"  # a source of faces: those the model draws from random latents, no dataset needed


class DrawnFaces:
    """What a map of random latents has in place of a dataset: a name per face, no labels and no images (the
    open model draws each face)."""

    has_labels = False

    def __init__(self, count: int):
        self.files = [f"random face {k + 1}" for k in range(count)]

    def label_tensor(self, indices=None) -> torch.Tensor:
        """Labels (N, 18), all unknown (−1)."""
        count = len(self.files) if indices is None else len(indices)
        return torch.full((count, len(ATTRIBUTE_NAMES)), -1, dtype=torch.int64)


@dataclass
class LatentMap:
    """Validation faces of a dataset (or faces a model draws): their indices, μ, 2-D positions (PCA) and labels.

    ``face_set`` names the faces (source and indices), a key for layouts computed from them. A map of
    :class:`DrawnFaces` (:attr:`drawn`) holds random latents and has no images: the model draws them.
    """

    cache: FaceCache | DrawnFaces
    indices: np.ndarray
    mu: torch.Tensor
    xy: torch.Tensor
    labels: torch.Tensor
    face_set: tuple = ()

    def __len__(self) -> int:
        return len(self.indices)

    def attribute(self, name: str) -> torch.Tensor:
        """Each point's value of a Cartoon Set attribute (−1 where unknown)."""
        return self.labels[:, ATTRIBUTE_NAMES.index(name)]

    def slot(self, point: int) -> FaceSlot:
        return FaceSlot(self.mu[point].clone(), self.cache.files[self.indices[point]])

    @property
    def drawn(self) -> bool:
        return isinstance(self.cache, DrawnFaces)

    def image(self, point: int) -> torch.Tensor:
        """The dataset's image of a point (a drawn map has none: draw :meth:`slot`'s latent instead)."""
        if self.drawn:
            raise ValueError("faces the model draws have no image of their own: draw the point's latent")
        return self.cache.batch([self.indices[point]])[0]

    def random_slot(self) -> FaceSlot:
        return self.slot(random.randrange(len(self)))


MIN_VALIDATION_POINTS = 10


def map_indices(cache: FaceCache, max_points: int = MAX_POINTS) -> np.ndarray:
    """The validation faces (all faces when a small folder has fewer than 10 of them), at most ``max_points``."""
    _, val = cache.split()
    if len(val) < MIN_VALIDATION_POINTS:
        val = np.arange(len(cache))
    return val[:max_points]


def build_map(
    model,
    spec: str,
    max_points: int = MAX_POINTS,
    *,
    min_points: int = 0,
    builtin_count: int = BUILTIN_COUNT,
    control: Control = QUIET,
    batch_size: int = 256,
    limit: int | None = None,
) -> LatentMap:
    """Encode the validation faces of ``spec`` ('builtin' or a folder) and project them with PCA.

    When the validation split has fewer than ``min_points`` faces, the first faces of the whole set are
    used instead (up to ``max_points``). ``limit`` reads only a folder's first files (see
    :func:`~vae.data.cache.open_folder`). Preparation and encoding are steered by ``control``
    (:class:`~vae.common.control.Cancelled` when it asks to stop) and report their progress to it.
    """
    cache = open_dataset(spec, model.image_size, builtin_count=builtin_count, control=control, limit=limit)
    indices = map_indices(cache, max_points)
    if len(indices) < min_points:
        indices = np.arange(min(len(cache), max_points))
    mus = []
    for start in range(0, len(indices), batch_size):
        control.check()
        mus.append(encode_all(model, cache, indices[start : start + batch_size])[0])
        control.progress(min(start + batch_size, len(indices)), len(indices), "encoding faces")
    mu = torch.cat(mus)
    face_set = (str(cache.path), len(indices), hash(indices.tobytes()))  # the cache's name fingerprints its files
    return LatentMap(cache, indices, mu, project_2d(mu), cache.label_tensor(indices), face_set)


def drawn_map(prior: dict, count: int, temperature: float = APP_TEMPERATURE, seed: int = 0) -> LatentMap:
    """``count`` latents drawn as the explorer's Random draws them at its default temperature (from the mixture
    ``prior`` at ``temperature``), laid out by PCA: a map of the faces a model draws, for a model whose training
    faces are not at hand."""
    latents = sample_fitted(count, prior, temperature, torch.Generator().manual_seed(seed))
    faces = DrawnFaces(count)
    face_set = (DRAWN, count, hash(latents.numpy().tobytes()))  # another prior draws other faces
    return LatentMap(faces, np.arange(count), latents, project_2d(latents), faces.label_tensor(), face_set)
