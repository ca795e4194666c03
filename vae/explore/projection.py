"""2-D layouts of latents for the Map: PCA (instant) or t-SNE (openTSNE, seconds), and how well they keep neighbours.

t-SNE runs with a fixed seed, so the same latents always give the same picture; its optimisation reports
progress and can be stopped between steps. :class:`MapLayouts` is the Map's Qt-free state: the chosen
projection and the layouts computed so far, per (model, face set, projection), so switching back is instant.
"""

from __future__ import annotations

import os
from typing import Hashable

import numpy as np

from ..common.control import QUIET, Control

PROJECTIONS = {"pca": "PCA", "tsne": "t-SNE"}
TSNE_SEED = 2024
TSNE_PERPLEXITY = 30.0
TSNE_EARLY_ITERATIONS = 250  # openTSNE's defaults: 250 steps with early exaggeration, then 500 plain ones
TSNE_ITERATIONS = 500
CHECK_EVERY = 10  # optimisation steps between progress reports (and chances to stop)


def tsne_threads() -> int:
    """Threads for t-SNE: half the cores, at most 4, so the window stays responsive (1 on a 2-core machine)."""
    return max(1, min(4, (os.cpu_count() or 1) // 2))


def pca_2d(latents: np.ndarray) -> np.ndarray:
    """PCA of (N, D) latents onto their two main axes: (N, 2), zero-padded when there is less than two axes."""
    x = np.asarray(latents, dtype=np.float64)
    centred = x - x.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = np.zeros((len(x), 2))
    axes = vt[:2]
    xy[:, : len(axes)] = centred @ axes.T
    return xy.astype(np.float32)


def tsne_2d(
    latents: np.ndarray,
    *,
    seed: int = TSNE_SEED,
    perplexity: float = TSNE_PERPLEXITY,
    n_jobs: int | None = None,
    control: Control = QUIET,
) -> np.ndarray:
    """t-SNE of (N, D) latents with openTSNE: (N, 2), the same for the same latents and ``seed``.

    Starts from the PCA layout; the perplexity is lowered for small sets (at most (N − 1) / 3); ``n_jobs``
    threads (default :func:`tsne_threads`). Raises :class:`~vae.common.control.Cancelled` when
    ``control.should_stop()`` turns true; reports its progress to ``control``.
    """
    from openTSNE import TSNE  # imported here: only the t-SNE view needs it

    x = np.ascontiguousarray(latents, dtype=np.float64)
    if len(x) < 4:
        return pca_2d(x)
    total = TSNE_EARLY_ITERATIONS + TSNE_ITERATIONS
    done = [0]

    def step(iteration: int, error: float, embedding) -> bool:
        done[0] += CHECK_EVERY
        control.check()
        control.progress(min(done[0], total), total, "t-SNE")
        return False

    control.check()
    control.progress(0, total, "t-SNE: finding neighbours")
    tsne = TSNE(
        perplexity=min(perplexity, (len(x) - 1) / 3),
        early_exaggeration_iter=TSNE_EARLY_ITERATIONS,
        n_iter=TSNE_ITERATIONS,
        initialization="pca",
        neighbors="exact",
        n_jobs=n_jobs or tsne_threads(),
        random_state=seed,
        callbacks=step,
        callbacks_every_iters=CHECK_EVERY,
    )
    return np.asarray(tsne.fit(x), dtype=np.float32)


def project(latents: np.ndarray, projection: str, **tsne_options) -> np.ndarray:
    """``latents`` laid out in 2-D by ``projection`` ('pca' or 'tsne'; options go to :func:`tsne_2d`)."""
    if projection == "pca":
        return pca_2d(latents)
    if projection == "tsne":
        return tsne_2d(latents, **tsne_options)
    raise ValueError(f"projection must be one of {', '.join(PROJECTIONS)}, got {projection!r}")


def knn_agreement(xy: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """The mean share of a point's ``k`` nearest neighbours in ``xy`` that share its label.

    Points with an unknown label (negative) are left out, as points and as neighbours. NaN when fewer
    than ``k`` + 1 points are labelled.
    """
    from sklearn.neighbors import NearestNeighbors

    labels = np.asarray(labels)
    known = labels >= 0
    xy, labels = np.asarray(xy, dtype=np.float64)[known], labels[known]
    if len(labels) <= k:
        return float("nan")
    _, neighbours = NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy)
    return float((labels[neighbours[:, 1:]] == labels[:, None]).mean())


def chance_agreement(labels: np.ndarray) -> float:
    """The kNN agreement that neighbours drawn at random would have: the sum of squared label shares."""
    labels = np.asarray(labels)
    labels = labels[labels >= 0]
    if not len(labels):
        return float("nan")
    _, counts = np.unique(labels, return_counts=True)
    return float(((counts / counts.sum()) ** 2).sum())


class MapLayouts:
    """The Map's choices (projection, attribute to colour by) and every layout computed for the current model,
    per (face set, projection)."""

    def __init__(self, projection: str = "pca", colour: str | None = None):
        self.projection = projection
        self.colour = colour
        self._model: object | None = None
        self._xy: dict[tuple[Hashable, str], np.ndarray] = {}

    def choose(self, projection: str) -> None:
        if projection not in PROJECTIONS:
            raise ValueError(f"projection must be one of {', '.join(PROJECTIONS)}, got {projection!r}")
        self.projection = projection

    def for_model(self, model: object) -> None:
        """Forget the layouts of any other model."""
        if model is not self._model:
            self._xy.clear()
            self._model = model

    def carry_to(self, model: object) -> None:
        """Keep the layouts for ``model``, which encodes every face as the model they were made for does."""
        self._model = model

    def get(self, face_set: Hashable, projection: str | None = None) -> np.ndarray | None:
        return self._xy.get((face_set, projection or self.projection))

    def put(self, face_set: Hashable, projection: str, xy: np.ndarray) -> None:
        self._xy[(face_set, projection)] = xy

    def __len__(self) -> int:
        return len(self._xy)
