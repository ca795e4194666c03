import torch

from vae.session import ExplorerSession, FaceRenderer, LatentState


def test_set_values_is_one_step_and_one_notification():
    state = LatentState(4)
    calls = []
    state.subscribe(lambda: calls.append(1))
    state.set_values(torch.ones(4))
    assert len(calls) == 1 and state.can_undo
    state.undo()
    assert torch.equal(state.values, torch.zeros(4)) and state.can_redo
    state.redo()
    assert torch.equal(state.values, torch.ones(4))


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


def test_randomize_respects_locks():
    state = LatentState(8)
    state.set_dim(3, 2.5)
    state.toggle_lock(3)
    state.randomize(1.0, torch.Generator().manual_seed(0))
    assert state.values[3] == 2.5
    assert (state.values != 0).sum() == 8
    state.reset()
    assert torch.equal(state.values, torch.zeros(8))


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


def test_session_randomizes_from_the_fitted_prior(tmp_path, tiny_model):
    from vae import checkpoint

    prior = {"mean": torch.full((8,), 5.0), "scale_tril": torch.eye(8) * 0.01}
    checkpoint.save(tmp_path / "p.pt", tiny_model, latent_prior=prior)
    session = ExplorerSession.open(tmp_path / "p.pt")
    session.state.randomize(1.0, torch.Generator().manual_seed(0))
    assert torch.allclose(session.state.values, torch.full((8,), 5.0), atol=0.1)
    assert "fitted" in session.facts()["random faces from"]


def test_session_with_fitted_prior_opens_on_a_draw_from_it(tmp_path, tiny_model):
    from vae import checkpoint

    prior = {"mean": torch.full((8,), 5.0), "scale_tril": torch.eye(8) * 0.01}
    checkpoint.save(tmp_path / "p.pt", tiny_model, latent_prior=prior)
    first = ExplorerSession.open(tmp_path / "p.pt")
    again = ExplorerSession.open(tmp_path / "p.pt")
    assert torch.allclose(first.state.values, torch.full((8,), 5.0), atol=0.1)
    assert torch.equal(first.state.values, again.state.values) and not first.state.can_undo
