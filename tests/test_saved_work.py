"""The work kept between launches, without Qt: what is saved, what is given back, and for which models."""

import json
import re

import pytest
import torch

from tests.helpers import two_cluster_prior
from vae.explore.arithmetic_model import ArithmeticModel
from vae.explore.morph_model import MorphModel
from vae.explore.saved_work import KEPT_SPACES, read_work, save_work, work_file, work_of
from vae.explore.session import ExplorerSession, LatentState
from vae.model import checkpoint
from vae.model.network import ConvVAE, latent_space_id


@pytest.fixture
def session(tmp_path, tiny_model):
    directions = {"a": torch.nn.functional.normalize(torch.ones(8), dim=0)}
    checkpoint.save(tmp_path / "m.pt", tiny_model, directions=directions, latent_prior=two_cluster_prior(centre=1.0))
    return ExplorerSession.open(tmp_path / "m.pt")


def made_work(session):
    """The explorer moved twice and undone once, a lock, a morph and a sum with a direction."""
    g = torch.Generator().manual_seed(3)
    first, second = torch.randn(2, 8, generator=g)
    session.state.set_values(first)
    session.state.set_values(second)
    session.state.undo()
    session.state.set_lock(2, True)
    morph = MorphModel(session)
    morph.update(a=first, b=second, frames=7, mode="lerp")
    sums = ArithmeticModel(session)
    sums.set_terms([(1.0, first), (-0.5, second), (1.0, None)])  # a face still being encoded is not kept
    sums.apply("a", 1.5)
    return morph, sums, (first, second)


def test_work_saved_is_given_back_for_the_same_latent_space(session, tmp_path):
    morph, sums, (first, second) = made_work(session)
    folder = tmp_path / "state" / "work"
    written = save_work(folder, work_of(session, morph, sums, {"morph": [True, False], "arithmetic": [False, True]}))
    assert written == work_file(folder, session.model)  # its folder was made
    work = read_work(folder, session.model)
    assert torch.equal(work["explore"]["values"], first) and work["explore"]["locks"] == [2]
    assert len(work["explore"]["undo"]) == 1 and torch.equal(work["explore"]["redo"][0], second)
    assert [torch.equal(z, e) for z, e in zip(work["morph"]["faces"], (first, second))] == [True, True]
    assert (work["morph"]["frames"], work["morph"]["mode"], work["morph"]["follows"]) == (7, "lerp", [True, False])
    assert [w for w, _ in work["arithmetic"]["terms"]] == [1.0, -0.5] and work["arithmetic"]["applied"] == [("a", 1.5)]
    assert work["arithmetic"]["follows"] == [False, True]
    state = LatentState(8)
    kept = work["explore"]
    state.take_up(kept["values"], kept["locks"], kept["undo"], kept["redo"])
    assert torch.equal(state.values, first) and state.locks == {2} and state.can_undo and state.can_redo
    state.redo()
    assert torch.equal(state.values, second)


def test_each_latent_space_keeps_its_own_work_and_only_the_latest_are_kept(session, tmp_path, tiny_model):
    morph, sums, _ = made_work(session)
    save_work(tmp_path, work_of(session, morph, sums))
    torch.manual_seed(1)
    other = ConvVAE(tiny_model.config).eval()  # another encoder: the same latent means another face there
    assert latent_space_id(other) != latent_space_id(session.model)
    assert read_work(tmp_path, other) is None and read_work(tmp_path / "absent", session.model) is None
    checkpoint.save(tmp_path / "other.pt", other)
    elsewhere = ExplorerSession.open(tmp_path / "other.pt")
    save_work(tmp_path, work_of(elsewhere, MorphModel(elsewhere), ArithmeticModel(elsewhere)))
    assert read_work(tmp_path, session.model) is not None and read_work(tmp_path, other) is not None
    for i in range(KEPT_SPACES):  # the work of more latent spaces than are kept: the oldest goes
        work = work_of(elsewhere, MorphModel(elsewhere), ArithmeticModel(elsewhere))
        save_work(tmp_path, {**work, "latent_space": f"{i:016x}"})
    assert len(list(tmp_path.glob("*.json"))) == KEPT_SPACES and read_work(tmp_path, session.model) is None


def test_captions_and_examples_are_kept_and_work_kept_before_them_still_opens(session, tmp_path):
    from vae.explore.slots import FaceSlot

    morph, sums, (first, second) = made_work(session)
    session.add_example("with", FaceSlot(first, "0042.png"))
    session.add_example("without", FaceSlot(second, "random (T=0.8)"))
    captions = {"morph": ["0042.png", "random (T=0.8)"], "arithmetic": ["face A", "face B"]}
    path = save_work(tmp_path, work_of(session, morph, sums, captions=captions))
    work = read_work(tmp_path, session.model)
    assert work["morph"]["captions"] == ["0042.png", "random (T=0.8)"]
    assert work["arithmetic"]["captions"] == ["face A", "face B"]
    (label, z), *rest = work["examples"]["with"]
    assert label == "0042.png" and torch.equal(z, first) and not rest
    assert work["examples"]["without"][0][0] == "random (T=0.8)"
    older = json.loads(path.read_text())  # work kept by an earlier version: no captions, no examples
    del older["morph"]["captions"], older["arithmetic"]["captions"], older["examples"]
    path.write_text(json.dumps(older))
    work = read_work(tmp_path, session.model)
    assert work["morph"]["captions"] == ["", ""] and work["examples"] == {"with": [], "without": []}
    older["morph"]["captions"] = [3, None]
    path.write_text(json.dumps(older))
    with pytest.raises(ValueError, match="not 2 captions"):
        read_work(tmp_path, session.model)
    del older["morph"]["captions"]
    for damaged, expected in (([1, 2], "not examples of a trait"), ({"with": [[1]]}, "not (caption, latent) pairs")):
        path.write_text(json.dumps({**older, "examples": damaged}))
        with pytest.raises(ValueError, match=re.escape(expected)):  # a WorkError naming the file, not a crash
            read_work(tmp_path, session.model)
    mismatched = work_of(session, morph, sums, captions={"morph": ["only one"], "arithmetic": ["a", "b", "c"]})
    assert mismatched["morph"]["captions"] == ["", ""]  # captions that do not match the faces: none, work kept
    assert mismatched["arithmetic"]["captions"] == ["", ""]


@pytest.mark.parametrize(
    "damage,expected",
    [
        (lambda text: text[: len(text) // 2], "not readable saved work"),
        (lambda text: json.dumps({"format": "something else"}), "not saved work of this app"),
        (lambda text: text.replace('"locks": [2]', '"locks": [99]'), "a lock on a dimension this model lacks"),
        (lambda text: text.replace('"frames": 7', '"frames": "seven"'), "no morph of 'seven' frames"),
        (lambda text: text.replace('"frames": 7', '"frames": 1000000000'), "no morph of 1000000000 frames"),
        (lambda text: text.replace('"mode": "lerp"', '"mode": "warp"'), "no morph of 7 frames by 'warp'"),
        (lambda text: text.replace('"locks": [2]', '"locks": [1e999]'), "missing or wrong entry"),
        (lambda text: text.replace('[["a", 1.5]]', '[["a", 1e999]]'), "inf is not a finite number"),
        (lambda text: text.replace('"follows": [false, false]', '"follows": [1]'), "not 2 yes/no flags"),
    ],
)
def test_damaged_work_is_refused_naming_the_file(session, tmp_path, damage, expected):
    morph, sums, _ = made_work(session)
    path = save_work(tmp_path, work_of(session, morph, sums))
    path.write_text(damage(path.read_text()))
    with pytest.raises(ValueError, match=re.escape(expected)) as caught:
        read_work(tmp_path, session.model)
    assert str(path) in str(caught.value)


def test_a_latent_of_the_wrong_length_is_refused(session, tmp_path):
    morph, sums, _ = made_work(session)
    work = work_of(session, morph, sums)
    work["morph"]["faces"][1] = work["morph"]["faces"][1][:5]
    work_file(tmp_path, session.model).write_text(json.dumps(work))
    with pytest.raises(ValueError, match="morph"):
        read_work(tmp_path, session.model)
