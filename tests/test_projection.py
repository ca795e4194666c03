"""The Map's 2-D layouts without Qt: PCA, t-SNE (seeded, cancellable), the layout cache and kNN agreement."""

import numpy as np
import pytest
import torch

from tests.helpers import write_good_faces
from vae.common.control import Cancelled, Control
from vae.data.cache import builtin_path, builtin_ready
from vae.explore import projection
from vae.explore.latent_map import build_map
from vae.model.latent import project_2d


def clusters(per: int = 30, groups: int = 4, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``groups`` tight clusters of ``per`` points each, centres far apart, and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (groups, dim))
    labels = np.repeat(np.arange(groups), per)
    return centres[labels] + rng.normal(0, 1, (len(labels), dim)), labels


def test_pca_matches_the_torch_projection_up_to_sign():
    x, _ = clusters()
    mine, theirs = projection.pca_2d(x), project_2d(torch.from_numpy(x)).numpy()
    assert mine.shape == (len(x), 2) and mine.dtype == np.float32
    assert np.allclose(np.abs(mine), np.abs(theirs), atol=1e-4)
    assert projection.pca_2d(x[:1]).shape == (1, 2)


def test_tsne_has_a_point_per_latent_and_is_the_same_for_the_same_seed():
    x, _ = clusters(per=20, groups=3)
    first = projection.tsne_2d(x, n_jobs=1)
    assert first.shape == (60, 2) and first.dtype == np.float32 and np.isfinite(first).all()
    assert np.array_equal(first, projection.tsne_2d(x, n_jobs=1))
    assert not np.allclose(first, projection.tsne_2d(x, seed=1, n_jobs=1))
    assert np.array_equal(projection.project(x[:3], "tsne"), projection.pca_2d(x[:3]))  # too few for t-SNE


def test_tsne_reports_progress_and_stops_when_asked():
    x, _ = clusters(per=15, groups=2)
    seen = []
    projection.tsne_2d(x, control=Control(progress=lambda done, total, what: seen.append((done, total))))
    total = projection.TSNE_EARLY_ITERATIONS + projection.TSNE_ITERATIONS
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    asked = []
    with pytest.raises(Cancelled):
        projection.tsne_2d(x, control=Control(should_stop=lambda: asked.append(1) or len(asked) > 3))
    assert len(asked) == 4  # stopped at the first check after the request, not at the end


def test_knn_agreement_on_hand_made_layouts():
    labels = np.array([0, 0, 0, 1, 1, 1])
    apart = np.array([[0, 0], [0, 1], [1, 0], [50, 50], [50, 51], [51, 50]])
    assert projection.knn_agreement(apart, labels, k=2) == 1.0
    line = np.array([[i, 0] for i in range(6)])
    alternating = np.array([0, 1, 0, 1, 0, 1])
    assert projection.knn_agreement(line, alternating, k=1) == 0.0
    unknown = np.array([0, 0, 0, -1, -1, -1])
    assert projection.knn_agreement(apart[[3, 4, 5, 0, 1, 2]], unknown, k=1) == 1.0  # unknowns are no neighbours
    assert np.isnan(projection.knn_agreement(apart, -np.ones(6), k=2))
    assert projection.chance_agreement(np.array([0, 0, 1, 1, -1])) == 0.5


def test_tsne_keeps_clusters_together_far_above_chance():
    x, labels = clusters(per=25, groups=4, seed=3)
    noise = np.random.default_rng(1).normal(0, 1, (len(labels), 2))
    chance = projection.chance_agreement(labels)
    assert chance == 0.25
    assert projection.knn_agreement(noise, labels) < 0.5
    assert projection.knn_agreement(projection.tsne_2d(x), labels) > 0.95


def test_layouts_are_kept_per_model_face_set_and_projection():
    layouts = projection.MapLayouts()
    model_a, model_b, xy = object(), object(), np.zeros((3, 2))
    layouts.for_model(model_a)
    layouts.put(("faces", 3), "tsne", xy)
    assert layouts.get(("faces", 3)) is None  # PCA is chosen
    layouts.choose("tsne")
    assert layouts.get(("faces", 3)) is xy and layouts.get(("other", 3)) is None
    layouts.for_model(model_a)
    assert layouts.get(("faces", 3)) is xy
    layouts.for_model(model_b)
    assert layouts.get(("faces", 3)) is None and len(layouts) == 0
    with pytest.raises(ValueError):
        layouts.choose("umap")


def test_the_same_faces_encoded_twice_have_the_same_face_set(tmp_path, tiny_model):
    write_good_faces(tmp_path / "a", 24, size=64)
    write_good_faces(tmp_path / "b", 24, seed=5, size=64)
    first, again = (build_map(tiny_model, str(tmp_path / "a"), min_points=20) for _ in range(2))
    other = build_map(tiny_model, str(tmp_path / "b"), min_points=20)
    assert first.face_set == again.face_set and first.face_set != other.face_set
    assert first.face_set != build_map(tiny_model, str(tmp_path / "a"), 10, min_points=5).face_set


def test_the_built_in_folder_name_has_one_definition(tmp_path):
    from vae.data import cache

    assert builtin_path(16).parent == cache.cache_root() and not builtin_ready(16)
    builtin_path(16).mkdir(parents=True)
    (builtin_path(16) / ".complete").write_text("")
    assert builtin_ready(16) and cache.builtin_folder(16) == builtin_path(16)
