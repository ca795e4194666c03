"""The Morph and Arithmetic tabs' models without Qt: one event per change, their results, the kept/applied rule."""

import pytest
import torch

from tests.helpers import two_cluster_prior
from vae.explore.arithmetic_model import ArithmeticModel
from vae.explore.morph_model import MorphModel
from vae.explore.session import ExplorerSession
from vae.model import checkpoint
from vae.model.latent import SNAP_NOISE, compose, denoise_to_prior, morph, ping_pong, snap_path


@pytest.fixture
def session(tmp_path, tiny_model):
    g = torch.Generator().manual_seed(5)
    directions = {name: torch.nn.functional.normalize(torch.randn(8, generator=g), dim=0) for name in ("a", "b", "c")}
    checkpoint.save(tmp_path / "m.pt", tiny_model, directions=directions, latent_prior=two_cluster_prior(centre=1.0))
    return ExplorerSession.open(tmp_path / "m.pt")


def counting(*events):
    seen = []
    for event in events:
        event.connect(lambda *args, name=event.name: seen.append(name))
    return seen


def faces(n, seed=0):
    return list(torch.randn(n, 8, generator=torch.Generator().manual_seed(seed)))


# ---------------------------------------------------------------- morph
def test_morph_fires_once_per_change_and_not_for_no_change(session):
    model = MorphModel(session)
    seen = counting(model.path_changed, model.ping_pong_changed)
    a, b = faces(2)
    model.update(a=a, b=b, snap=True)  # several at once: one event
    assert seen == ["path_changed"]
    model.set_frames(9)
    model.set_frames(9)
    model.set_mode("lerp")
    model.set_a(a.clone())  # the same face again
    model.set_ping_pong(False)
    model.set_ping_pong(False)
    assert seen == ["path_changed"] * 3 + ["ping_pong_changed"]
    with pytest.raises(ValueError):
        model.set_mode("cubic")
    with pytest.raises(ValueError):
        model.set_frames(1)
    assert model.mode == "lerp" and model.frames == 9


def test_morph_latents_are_the_panels_frames(session):
    model = MorphModel(session)
    assert model.latents() is None  # until both ends are set
    a, b = faces(2, seed=3)
    model.update(a=a, b=b, frames=7)
    assert torch.equal(model.latents(), morph(a, b, 7, "slerp"))
    model.set_snap(True)
    snapped = model.latents()
    assert torch.allclose(snapped, snap_path(morph(a, b, 7, "slerp"), session.prior, SNAP_NOISE, nearest=True))
    assert torch.equal(snapped[[0, -1]], morph(a, b, 7)[[0, -1]]) and not torch.allclose(snapped[3], morph(a, b, 7)[3])
    model.set_mode("lerp")
    assert torch.allclose(model.latents(), session.snap_morph(morph(a, b, 7, "lerp")))


def test_morph_plays_in_ping_pong_order_unless_told_otherwise(session):
    model = MorphModel(session, frames=5)
    assert model.order() == ping_pong(5) == [0, 1, 2, 3, 4, 3, 2, 1]
    model.set_ping_pong(False)
    assert model.order() == [0, 1, 2, 3, 4] and model.order(3) == [0, 1, 2]


def test_morph_does_not_snap_without_a_fitted_prior(tmp_path, tiny_model):
    checkpoint.save(tmp_path / "plain.pt", tiny_model)
    model = MorphModel(ExplorerSession.open(tmp_path / "plain.pt"))
    a, b = faces(2)
    model.update(a=a, b=b, snap=True)
    assert not model.snapped and torch.equal(model.latents(), morph(a, b, 12))


# ---------------------------------------------------------------- arithmetic
def test_arithmetic_fires_one_event_per_change(session):
    model = ArithmeticModel(session)
    seen = counting(model.terms_changed, model.applied_changed, model.kept_changed, model.snap_changed)
    a, b, c = faces(3)
    model.set_terms([(1.0, a), (1.0, b), (-1.0, c)])
    model.set_weight(1, 0.5)
    model.set_weight(1, 0.5)
    model.set_latent(0, a.clone())
    assert seen == ["terms_changed"] * 2
    assert model.apply("a", 2.0) and not model.apply("missing")
    model.set_strength(0, 2.0)
    model.set_strength(0, 1.5)
    model.set_kept(["b", "nonsense"])
    model.set_keep("b", True)
    model.set_snap(True)
    model.set_snap(True)
    assert seen[2:] == ["applied_changed", "applied_changed", "kept_changed", "snap_changed"]
    assert model.kept == ["b"]


def test_arithmetic_result_is_the_panels_sum(session):
    model = ArithmeticModel(session)
    assert model.result() is None  # no face yet
    a, b, c = faces(3, seed=7)
    model.set_terms([(1.0, a), (0.6, b), (-0.6, c), (1.0, None)])  # a face still being encoded is left out
    assert torch.allclose(model.result(), a + 0.6 * (b - c), atol=1e-6)
    directions = session.directions
    model.apply("a", 1.5)
    model.set_kept(["b"])
    expected = compose([(1.0, a + 0.6 * (b - c))], [(1.5, directions["a"])], [directions["b"]])
    assert torch.allclose(model.result(), expected, atol=1e-6)
    assert abs((model.result() - (a + 0.6 * (b - c))) @ directions["b"]) < 1e-5
    model.set_snap(True)  # the faces' sum is snapped, then the directions apply in full
    snapped = denoise_to_prior(a + 0.6 * (b - c), session.prior, SNAP_NOISE, nearest=True)
    expected = compose([(1.0, snapped)], [(1.5, directions["a"])], [directions["b"]])
    assert torch.allclose(model.result(), expected, atol=1e-5)
    assert model.formula() == "result = A + 0.6·B − 0.6·C + 1.5·[a], snapped to the nearest faces"


def test_arithmetic_rejects_faces_of_different_sizes(session):
    model = ArithmeticModel(session)
    model.set_terms([(1.0, torch.zeros(8)), (1.0, torch.zeros(4))])
    with pytest.raises(ValueError):
        model.result()


def test_an_applied_direction_is_never_kept_fixed_but_the_choice_holds(session):
    model = ArithmeticModel(session)
    model.set_terms([(1.0, faces(1)[0])])
    model.set_kept(["a", "b"])
    base = model.result()
    model.apply("a", 1.0)
    assert not model.can_keep("a") and model.kept == ["a", "b"] and model.kept_fixed == ["b"]
    assert (model.result() - base) @ session.directions["a"] > 0.5  # applied, not cancelled by keeping it
    model.unapply(0)
    assert model.can_keep("a") and model.kept_fixed == ["a", "b"]


def test_arithmetic_forgets_directions_the_session_lost(session):
    model = ArithmeticModel(session)
    model.apply("a")
    model.apply("b", 0.5)
    model.set_kept(["c", "a"])
    seen = counting(model.applied_changed, model.kept_changed)
    session.set_directions({"b": session.directions["b"]})
    model.forget_missing_directions()
    assert model.applied == [("b", 0.5)] and model.kept == [] and seen == ["applied_changed", "kept_changed"]
    model.clear()
    assert model.applied == [] and model.terms == [] and model.result() is None


def test_arithmetic_holds_the_rest_only_when_asked_able_and_a_direction_is_applied(session):
    model = ArithmeticModel(session)
    seen = counting(model.hold_changed)
    a, b = faces(2, seed=3)
    model.set_terms([(1.0, a), (0.5, b)])
    model.set_hold(True)
    model.set_hold(True)
    assert seen == ["hold_changed"] and model.hold_inputs() is None  # no direction applied: nothing to hold
    model.apply("a", 1.5)
    model.apply("b", -0.5)
    total, result, applied = model.hold_inputs()
    assert torch.allclose(total, a + 0.5 * b) and torch.equal(result, model.result()) and applied == ["a", "b"]
    assert model.formula().endswith("− 0.5·[b], the rest held")
    session.hold_classifier = None  # no classifier: the app cannot hold, whatever was asked
    assert not model.holding and model.hold_inputs() is None and "held" not in model.formula()


def test_the_recipe_says_how_the_result_was_made(session):
    import json

    model = ArithmeticModel(session)
    a, b = faces(2, seed=5)
    model.set_terms([(1.0, a), (1.0, None), (-0.5, b)])  # a face still being encoded is not in the sum
    model.apply("a", 2.0)
    model.set_kept(["a", "b"])  # "a" is applied, so it is not kept fixed
    recipe = json.loads(json.dumps(model.recipe()))  # it goes into a JSON file as it is
    assert recipe["formula"] == model.formula() == "result = A − 0.5·B + 2·[a]"
    assert [(f["name"], f["weight"]) for f in recipe["faces"]] == [("A", 1.0), ("B", -0.5)]
    assert torch.allclose(torch.tensor(recipe["faces"][1]["latent"], dtype=torch.float32), b)
    assert recipe["directions"] == [{"key": "a", "name": "a", "strength": 2.0}] and recipe["kept_fixed"] == ["b"]
    assert not recipe["snapped"] and not recipe["held"]
    model.set_hold(True)
    assert model.recipe()["held"] and model.recipe()["formula"].endswith("the rest held")
    unheld = model.recipe(held=False)  # the face written was shown before its hold arrived
    assert not unheld["held"] and unheld["formula"].endswith("the rest not held")


def test_the_formula_reads_as_a_sum():
    from vae.explore.arithmetic_model import _signed_sum

    assert _signed_sum([(1.0, "A"), (1.0, "B"), (-1.0, "C")]) == "A + B − C"
    assert _signed_sum([(-1.0, "A"), (0.25, "B"), (-2.5, "[+glasses]")]) == "−A + 0.25·B − 2.5·[+glasses]"
    assert _signed_sum([(0.0, "A"), (0.004, "B")]) == "0·A + 0·B"
