"""The explorer's model layer without Qt: typed events, locks, undo, prior, directions."""

import pytest
import torch

from tests.helpers import redrawn_model, two_cluster_prior
from vae.explore.session import Event, ExplorerSession, FaceRenderer, LatentState
from vae.explore.slots import FaceSlot
from vae.model import checkpoint
from vae.model.latent import REFINE_STEPS, mixture_log_prob, sample_fitted, typical_latent


def test_event_connect_returns_an_unsubscribe():
    event = Event("x")
    seen = []
    unsubscribe = event.connect(seen.append)
    event.emit(1)
    unsubscribe()
    event.emit(2)
    assert seen == [1] and len(event) == 0


def test_set_values_is_one_step_and_one_notification_naming_the_dims():
    state = LatentState(4)
    values, history = [], []
    state.values_changed.connect(values.append)
    state.history_changed.connect(lambda u, r: history.append((u, r)))
    state.set_values(torch.tensor([0.0, 1.0, 0.0, 2.0]))
    assert values == [(1, 3)] and history == [(True, False)]
    state.undo()
    assert torch.equal(state.values, torch.zeros(4)) and state.can_redo and history[-1] == (False, True)
    state.redo()
    assert state.values.tolist() == [0.0, 1.0, 0.0, 2.0] and values[-1] == (1, 3)


def test_drag_collapses_into_one_undo_step():
    state = LatentState(3)
    state.begin_drag()
    for v in (0.25, 0.5, 1.25):
        state.set_dim(1, v)
    state.end_drag()
    state.set_dim(2, -1.0)
    state.undo()
    assert state.values.tolist() == [0.0, 1.25, 0.0]
    state.undo()
    assert state.values.tolist() == [0.0, 0.0, 0.0]
    assert not state.can_undo


def test_locks_are_read_only_and_evented():
    state = LatentState(8)
    seen = []
    state.locks_changed.connect(seen.append)
    state.set_lock(3, True)
    state.set_lock(3, True)  # no change: no event
    state.toggle_lock(5)
    assert state.locks == frozenset({3, 5}) and seen == [frozenset({3}), frozenset({3, 5})]
    assert not hasattr(state.locks, "add")
    state.clear_locks()
    assert state.locks == frozenset() and len(seen) == 3


def test_randomize_respects_locks_and_reset_and_zero():
    state = LatentState(8)
    state.set_dim(3, 2.5)
    state.set_lock(3, True)
    state.randomize(1.0, torch.Generator().manual_seed(0))
    assert state.values[3] == 2.5
    assert (state.values != 0).sum() == 8
    state.reset()  # N(0, I): the typical face is z = 0; the locked dimension stays
    assert state.values[3] == 2.5 and (state.values != 0).sum() == 1
    state.set_dim(0, 1.0)
    state.zero()
    assert state.values[3] == 2.5 and (state.values != 0).sum() == 1
    state.clear_locks()
    state.zero()
    assert torch.equal(state.values, torch.zeros(8))


def test_random_with_locks_draws_from_the_conditional_prior():
    """Locked dims keep their values; the others are as likely under the prior as unlocked Random's."""
    prior = two_cluster_prior()
    state = LatentState(8, prior=prior)
    g = torch.Generator().manual_seed(3)
    unlocked, locked = [], []
    for _ in range(100):
        state.clear_locks()
        state.randomize(1.0, g)
        unlocked.append(state.values)
        for dim in (0, 1, 2):
            state.set_lock(dim, True)
        kept = state.values[:3].clone()
        state.randomize(1.0, g)
        assert torch.equal(state.values[:3], kept)
        locked.append(state.values)
    unlocked_lp = mixture_log_prob(prior, torch.stack(unlocked)).mean()
    locked_lp = mixture_log_prob(prior, torch.stack(locked)).mean()
    assert locked_lp > unlocked_lp - 1.0
    # drawing the free dims independently of the locked ones (the old behaviour) is far less likely
    naive = sample_fitted(100, prior, 1.0, g)
    naive[:, :3] = torch.stack(locked)[:, :3].flip(0)
    assert mixture_log_prob(prior, naive).mean() < locked_lp - 5.0


def test_renderer_skips_unchanged_latents(tiny_model):
    renderer = FaceRenderer(tiny_model)
    z = torch.randn(8)
    a = renderer.render(z)
    b = renderer.render(z.clone())
    assert renderer.decodes == 1 and a is b
    renderer.render(z + 1)
    assert renderer.decodes == 2


def test_session_orders_dimensions_by_kl(tiny_checkpoint):
    session = ExplorerSession.open(tiny_checkpoint)
    assert session.dimension_order[0] == 0
    assert not session.is_active(7) and session.is_active(0)
    assert session.facts()["val_ssim"] == 0.5


def test_session_randomizes_from_the_fitted_prior_and_resets_to_its_typical_face(tmp_path, tiny_model):
    prior = two_cluster_prior()
    checkpoint.save(tmp_path / "p.pt", tiny_model, latent_prior=prior)
    session = ExplorerSession.open(tmp_path / "p.pt")
    session.state.randomize(0.01, torch.Generator().manual_seed(0))
    assert min((session.state.values - m).norm() for m in prior["mean"]) < 0.1
    assert "fitted" in session.facts()["random faces from"]
    session.state.reset()
    assert torch.equal(session.state.values, typical_latent(prior))
    session.state.zero()
    assert torch.equal(session.state.values, torch.zeros(8))


def test_session_with_fitted_prior_opens_on_a_draw_from_it(tmp_path, tiny_model):
    prior = {"mean": torch.full((8,), 5.0), "scale_tril": torch.eye(8) * 0.01}
    checkpoint.save(tmp_path / "p.pt", tiny_model, latent_prior=prior)
    first = ExplorerSession.open(tmp_path / "p.pt")
    again = ExplorerSession.open(tmp_path / "p.pt")
    assert torch.allclose(first.state.values, torch.full((8,), 5.0), atol=0.1)
    assert torch.equal(first.state.values, again.state.values) and not first.state.can_undo


def test_loading_another_model_swaps_state_and_relinks_events(tiny_checkpoint, tmp_path):
    from vae.model.network import ConvVAE, VAEConfig

    session = ExplorerSession.open(tiny_checkpoint)
    old_state = session.state
    models, values = [], []
    session.model_changed.connect(lambda: models.append(session.model.latent_dim))
    session.values_changed.connect(values.append)
    other = tmp_path / "other.pt"
    checkpoint.save(other, ConvVAE(VAEConfig(latent_dim=5, base_channels=4)))
    session.load(other)
    assert models == [5] and session.state is not old_state
    old_state.set_dim(0, 1.0)  # the old state is no longer heard
    assert values == []
    session.state.set_dim(0, 1.0)
    assert values == [(0,)]


def test_reload_keeps_the_latent_and_shows_the_files_new_facts(tiny_checkpoint, tiny_model):
    session = ExplorerSession.open(tiny_checkpoint)
    session.state.set_dim(1, 0.7)
    checkpoint.save(tiny_checkpoint, tiny_model, history=[{"epoch": 1, "val_ssim": 0.5}, {"epoch": 2, "val_ssim": 0.8}])
    session.reload()
    assert session.facts()["epochs"] == 2 and session.facts()["val_ssim"] == 0.8
    assert session.state.values[1] == torch.tensor(0.7)


@pytest.mark.parametrize("folders", [[{"count": 1}, {"count": 2}], 5, "ab", None])
def test_the_facts_count_folders_only_from_a_list(tmp_path, tiny_model, folders):
    path = tmp_path / "m.pt"
    checkpoint.save(path, tiny_model, dataset={"name": "faces", "count": 3, "folders": folders})
    assert ExplorerSession.open(path).facts()["folders"] == (2 if isinstance(folders, list) else 0)


def test_directions_change_only_through_the_session(tiny_checkpoint):
    session = ExplorerSession.open(tiny_checkpoint)
    seen, status = [], []
    session.directions_changed.connect(seen.append)
    session.status.connect(status.append)
    session.directions["x"] = torch.ones(8)  # a copy: changes nothing
    assert session.directions == {}
    with_trait = [
        FaceSlot(torch.tensor([1.0, 2, 0, 0, 0, 0, 0, 0]), "a"),
        FaceSlot(torch.tensor([3.0, 2, 0, 0, 0, 0, 0, 0]), "b"),
    ]
    for slot in with_trait:
        session.add_example("with", slot)
    session.add_example("without", FaceSlot(torch.tensor([0.0, 2, 0, 0, 0, 0, 0, 0]), "c"))
    for kind in ("with", "without"):  # a face already given counts once, and on one side only
        with pytest.raises(ValueError, match="^a is already among the faces with the trait"):
            session.add_example(kind, FaceSlot(torch.tensor([1.0, 2, 0, 0, 0, 0, 0, 0]), "a"))
    assert [len(session.examples[kind]) for kind in ("with", "without")] == [2, 1]
    direction = session.direction_from_examples("  wide ")
    assert torch.allclose(direction, torch.tensor([1.0, 0, 0, 0, 0, 0, 0, 0]))
    assert seen == [("wide",)] and "wide" in status[-1] and "2 face(s) with" in status[-1]
    assert torch.equal(session.directions["wide"], direction)


def test_encoding_an_image_refines_mu_against_the_decoder_and_can_be_stopped(tiny_checkpoint, tmp_path, monkeypatch):
    from tests.helpers import write_good_faces
    from vae.common.control import Cancelled, Control
    from vae.data.folder import load_image
    from vae.explore import session as session_mod

    monkeypatch.setattr(session_mod, "REFINE_WEIGHTS", tmp_path / "no-map.pt")  # every pixel alike
    session = ExplorerSession.open(tiny_checkpoint)
    name = write_good_faces(tmp_path / "faces", 1, size=64)[0]
    path = tmp_path / "faces" / f"{name}.png"
    image = load_image(path, 64)
    mu = session.encode_file(path, refine_steps=0)
    weights = {k: v.clone() for k, v in session.model.state_dict().items()}
    heard = []
    refined = session.encode_file(path, Control(progress=lambda done, total, what: heard.append((done, total))))
    with torch.no_grad():
        error = lambda z: (session.model.decode(z[None])[0] - image).pow(2).mean().item()  # noqa: E731
        assert error(refined) < error(mu)  # an untrained decoder barely depends on z: closer, by little
    assert heard[-1] == (REFINE_STEPS, REFINE_STEPS)
    assert all(torch.equal(v, weights[k]) for k, v in session.model.state_dict().items())  # the model is untouched
    steps = []
    stop_after_three = Control(should_stop=lambda: len(steps) >= 3, progress=lambda done, total, what: steps.append(1))
    with pytest.raises(Cancelled):
        session.encode_file(path, stop_after_three)
    assert len(steps) == 3


def test_the_refinement_weighs_its_error_by_the_shipped_map_and_does_without_a_broken_one(
    tiny_checkpoint, tmp_path, monkeypatch
):
    from tests.helpers import write_good_faces
    from vae.explore import session as session_mod
    from vae.model import pixel_weights

    name = write_good_faces(tmp_path / "faces", 1, size=64)[0]
    path = tmp_path / "faces" / f"{name}.png"
    monkeypatch.setattr(session_mod, "REFINE_WEIGHTS", tmp_path / "missing.pt")
    plain = ExplorerSession.open(tiny_checkpoint)
    assert plain.refine_weights is None
    weights = torch.ones(64, 64)
    weights[:32] = 30.0
    pixel_weights.save(tmp_path / "map.pt", weights)
    monkeypatch.setattr(session_mod, "REFINE_WEIGHTS", tmp_path / "map.pt")
    weighed = ExplorerSession.open(tiny_checkpoint)
    assert weighed.refine_weights.shape == (1, 1, 64, 64)
    assert not torch.allclose(weighed.encode_file(path), plain.encode_file(path), rtol=0, atol=1e-6)
    (tmp_path / "map.pt").write_bytes(b"damaged")
    assert ExplorerSession.open(tiny_checkpoint).refine_weights is None


def test_opening_a_model_with_the_same_encoder_keeps_the_face(tiny_checkpoint, tiny_model, tmp_path):
    from vae.model.network import ConvVAE

    session = ExplorerSession.open(tiny_checkpoint)
    session.state.set_dim(2, 1.5)
    face = session.state.values.clone()
    checkpoint.save(tmp_path / "redrawn.pt", redrawn_model(tiny_model))
    assert session.set_checkpoint(checkpoint.load(tmp_path / "redrawn.pt"))
    assert torch.equal(session.state.values, face) and session.model.config.decoder_width == 2
    checkpoint.save(tmp_path / "other.pt", ConvVAE(tiny_model.config))  # another encoder: its own opening face
    assert not session.set_checkpoint(checkpoint.load(tmp_path / "other.pt"))
    assert not torch.equal(session.state.values, face)


def test_a_model_of_the_same_latent_space_keeps_the_locks_and_the_undo_history(tiny_checkpoint, tiny_model, tmp_path):
    from vae.model.network import ConvVAE

    session = ExplorerSession.open(tiny_checkpoint)
    first = session.state.values
    session.state.set_dim(2, 1.5)
    session.state.set_dim(3, -1.0)
    session.state.undo()
    session.state.set_lock(5, True)
    checkpoint.save(tmp_path / "redrawn.pt", redrawn_model(tiny_model))
    session.load(tmp_path / "redrawn.pt")
    assert session.state.locks == {5} and session.state.can_undo and session.state.can_redo
    session.state.redo()
    assert session.state.values[3] == -1.0
    session.state.undo()
    session.state.undo()
    assert torch.equal(session.state.values, first) and not session.state.can_undo
    checkpoint.save(tmp_path / "other.pt", ConvVAE(tiny_model.config))  # another latent space: a fresh start
    session.load(tmp_path / "other.pt")
    assert session.state.locks == frozenset() and not session.state.can_undo and not session.state.can_redo


def test_a_model_of_the_same_latent_space_keeps_the_examples_of_a_trait_and_another_drops_them(tmp_path, tiny_model):
    checkpoint.save(tmp_path / "a.pt", tiny_model)
    checkpoint.save(tmp_path / "redrawn.pt", redrawn_model(tiny_model))
    checkpoint.save(tmp_path / "other.pt", type(tiny_model)(tiny_model.config))
    session = ExplorerSession.open(tmp_path / "a.pt")
    session.add_example("with", FaceSlot(torch.ones(8), "one"))
    session.load(tmp_path / "redrawn.pt")
    assert session.same_latent_space and [slot.label for slot in session.examples["with"]] == ["one"]
    session.load(tmp_path / "other.pt")
    assert not session.same_latent_space and session.examples == {"with": [], "without": []}


def test_the_maps_faces_are_kept_for_a_model_of_the_same_latent_space_and_dropped_for_another(tmp_path, tiny_model):
    from vae.explore.latent_map import drawn_map

    checkpoint.save(tmp_path / "a.pt", tiny_model)
    checkpoint.save(tmp_path / "redrawn.pt", redrawn_model(tiny_model))
    checkpoint.save(tmp_path / "other.pt", type(tiny_model)(tiny_model.config))
    session = ExplorerSession.open(tmp_path / "a.pt")
    events = []
    session.map_faces_changed.connect(lambda: events.append(session.map_faces))
    faces = drawn_map(session.state.prior, 20)
    session.set_map_faces(faces)
    session.load(tmp_path / "redrawn.pt")
    assert session.map_faces is faces and events == [faces, faces]
    session.load(tmp_path / "other.pt")
    assert session.map_faces is None and events[-1] is None


def test_a_drawn_map_holds_draws_from_the_prior_and_names_them_apart_from_another_priors():
    from tests.helpers import two_cluster_prior
    from vae.explore.latent_map import drawn_map

    prior = two_cluster_prior(centre=2.0)
    faces = drawn_map(prior, 400)
    assert faces.drawn and len(faces) == 400 and faces.mu.shape == (400, 8) and faces.xy.shape == (400, 2)
    assert (faces.mu.mean(1) > 0).float().mean() == pytest.approx(0.7, abs=0.08)  # the clusters' weights
    assert faces.slot(3).label == "random face 4" and bool((faces.attribute("hair_color") == -1).all())
    assert drawn_map(prior, 400).face_set == faces.face_set  # the same draws: the layouts cached for them fit
    assert drawn_map(two_cluster_prior(centre=1.0), 400).face_set != faces.face_set
    with pytest.raises(ValueError, match="no image"):
        faces.image(0)
