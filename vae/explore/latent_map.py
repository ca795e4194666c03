"""A 2-D map of a dataset's validation faces in latent space (PCA of their μ; t-SNE in :mod:`.projection`), or of
faces a model draws from random latents."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import torch

from ..common.control import QUIET, Control
from ..data.attribute_names import value_name
from ..data.cache import BUILTIN_COUNT, FaceCache, is_builtin_source, open_dataset
from ..data.cartoonset import ATTRIBUTE_NAMES, VARIANTS
from ..data.folder import DataError
from ..data.label_table import has_label_table, label_columns
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
    table: dict = field(default_factory=dict)  # a labels.tsv's columns for the points, for faces without CSV labels

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def attributes(self) -> list[str]:
        """The attributes the points are labelled with: the Cartoon Set's, else those of the folder's labels.tsv."""
        return list(ATTRIBUTE_NAMES) if self.cache.has_labels else list(self.table)

    def attribute(self, name: str) -> torch.Tensor:
        """Each point's value of an attribute of :attr:`attributes` (−1 where unknown)."""
        if name in self.table:
            return self.table[name][1]
        return self.labels[:, ATTRIBUTE_NAMES.index(name)]

    def class_name(self, name: str, value: int) -> str:
        """Attribute ``name``'s class ``value`` in words."""
        if name in self.table:
            names = self.table[name][0]
            return names[value] if 0 <= value < len(names) else "unknown"
        return value_name(name, value)

    def class_count(self, name: str) -> int:
        return len(self.table[name][0]) if name in self.table else VARIANTS[name]

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
    table = {}
    if not is_builtin_source(spec) and not cache.has_labels and has_label_table(spec):
        try:
            table = label_columns(spec, [cache.files[i] for i in indices])
        except DataError as exc:  # the faces are mapped all the same, without colours
            control.log(f"mapped without labels: {exc}")
    return LatentMap(cache, indices, mu, project_2d(mu), cache.label_tensor(indices), face_set, table)


def drawn_map(prior: dict, count: int, temperature: float = APP_TEMPERATURE, seed: int = 0) -> LatentMap:
    """``count`` latents drawn as the explorer's Random draws them at its default temperature (from the mixture
    ``prior`` at ``temperature``), laid out by PCA: a map of the faces a model draws, for a model whose training
    faces are not at hand."""
    latents = sample_fitted(count, prior, temperature, torch.Generator().manual_seed(seed))
    faces = DrawnFaces(count)
    face_set = (DRAWN, count, hash(latents.numpy().tobytes()))  # another prior draws other faces
    return LatentMap(faces, np.arange(count), latents, project_2d(latents), faces.label_tensor(), face_set)
