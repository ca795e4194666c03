"""Holding the rest of a face through attribute edits (vae.explore.attribute_hold) and the classifier ensemble."""

import pytest
import torch

from vae.explore import attribute_hold
from vae.explore.attribute_hold import held_heads, hold_edit, load_hold_classifier
from vae.explore.default_choice import DEFAULT_64
from vae.explore.session import ExplorerSession
from vae.measure import fidelity
from vae.model import checkpoint
from vae.model.attribute_net import AttributeEnsemble, AttributeNet, ClassifierError, load, save

HEADS = ["amls:eye_color", "amls:face_shape", "adl:hair_color", "adl:eye_color", "adl:skin", "adl:glasses"]


def test_an_edit_holds_every_attribute_but_those_its_directions_aim_at():
    assert held_heads(HEADS, ["hair_color:6"]) == [h for h in HEADS if h != "adl:hair_color"]
    assert held_heads(HEADS, ["face_color:4", "glasses"]) == HEADS[:4]
    assert held_heads(HEADS, ["eye_color:1"]) == ["amls:face_shape", "adl:hair_color", "adl:skin", "adl:glasses"]
    assert held_heads(HEADS, ["my smile"]) == HEADS  # a direction of unknown aim holds everything
    assert held_heads(HEADS, []) == HEADS


def test_the_shipped_hold_classifier_is_an_ensemble_of_the_real_labels():
    judge = load_hold_classifier()
    assert isinstance(judge, AttributeEnsemble) and len(judge.members) == 3
    assert sorted(h.split(":")[1] for h in judge.heads) == sorted(h.split(":")[1] for h in HEADS)
    assert all(not p.requires_grad for p in judge.parameters())


def test_a_missing_or_foreign_classifier_means_no_hold(tmp_path, tiny_checkpoint):
    assert load_hold_classifier(tmp_path / "absent.pt") is None
    assert load_hold_classifier(tiny_checkpoint) is None
    session = ExplorerSession.open(tiny_checkpoint)
    session.hold_classifier = None
    assert not session.can_hold
    with pytest.raises(ValueError, match="hold_classifier.pt"):
        session.hold_edit(torch.zeros(8), torch.ones(8), ["glasses"])


def _readings(judge, model, z):
    with torch.no_grad():
        return {h: p.softmax(1) for h, p in judge(model.decode(z)).items()}


def test_holding_a_skin_edit_on_the_shipped_model_keeps_the_eyes_and_the_new_skin():
    ckpt = checkpoint.load(DEFAULT_64)
    model, judge = ckpt.model.eval(), load_hold_classifier()
    before = torch.randn(6, model.latent_dim, generator=torch.Generator().manual_seed(3)) * 0.8
    edited = before + 2.0 * ckpt.directions["face_color:4"] / ckpt.directions["face_color:4"].norm()
    held = torch.stack([hold_edit(model, judge, b, e, ["face_color:4"]) for b, e in zip(before, edited)])
    start, plain, kept = (_readings(judge, model, z) for z in (before, edited, held))

    def moved(readings, head):
        return (readings[head] - start[head]).abs().sum(1)

    eyes = [h for h in judge.heads if h.endswith("eye_color")]
    skin = next(h for h in judge.heads if h.endswith("skin"))
    assert sum(moved(kept, h).sum() for h in eyes) < 0.5 * sum(moved(plain, h).sum() for h in eyes)
    assert torch.equal(kept[skin].argmax(1), plain[skin].argmax(1))  # the skin still changes as the edit asks
    assert ((held - edited).norm(dim=1) < (held - before).norm(dim=1)).all()  # nearer the edit than the face before


def test_an_ensemble_reads_the_mean_of_its_members_and_round_trips(tmp_path):
    torch.manual_seed(0)
    members = [AttributeNet({"a:eyes": 3, "a:glasses": 2}).eval() for _ in range(2)]
    ensemble = AttributeEnsemble(members)
    x = torch.rand(2, 3, 64, 64)
    assert torch.allclose(ensemble(x)["a:eyes"], (members[0](x)["a:eyes"] + members[1](x)["a:eyes"]) / 2)
    save(tmp_path / "e.pt", ensemble)
    loaded = load(tmp_path / "e.pt")
    assert isinstance(loaded, AttributeEnsemble)
    assert torch.allclose(loaded(x)["a:eyes"], ensemble(x)["a:eyes"], atol=2e-2)  # weights stored in float16
    with pytest.raises(ClassifierError, match="same heads"):
        AttributeEnsemble([members[0], AttributeNet({"a:eyes": 3})])


@pytest.mark.parametrize(
    "broken",
    [
        {"heads": ["a"], "width": 16},
        {"heads": {"a": 2}, "width": 4.5},
        {"heads": {"a": 2}, "width": 16, "state_dict": [1]},
        {"heads": {"a": 2}, "width": 16, "state_dict": {"features.0.0.weight": "not a tensor"}},
    ],
)
def test_a_damaged_classifier_or_ensemble_is_a_classifier_error(tmp_path, broken):
    member = {"format": "face-explorer attribute classifier", "version": 1, **broken}
    for payload in (member, {"format": "face-explorer attribute classifier ensemble", "members": [member]}):
        torch.save(payload, tmp_path / "c.pt")
        with pytest.raises(ClassifierError, match="damaged"):
            load(tmp_path / "c.pt")
        assert load_hold_classifier(tmp_path / "c.pt") is None  # the app opens without the hold


def test_join_writes_an_ensemble_of_single_classifiers_only(tmp_path, capsys):
    for i in range(2):
        torch.manual_seed(i)
        save(tmp_path / f"c{i}.pt", AttributeNet({"a:eyes": 3}))
    out = tmp_path / "joined.pt"
    assert fidelity.main(["join", str(tmp_path / "c0.pt"), str(tmp_path / "c1.pt"), "--out", str(out)]) == 0
    assert len(load(out).members) == 2 and "2 classifiers" in capsys.readouterr().out
    assert fidelity.main(["join", str(out), "--out", str(tmp_path / "again.pt")]) == 2
    assert "not ensembles" in capsys.readouterr().err


def test_the_hold_classifier_path_is_read_when_a_session_opens(monkeypatch, tmp_path, tiny_checkpoint):
    monkeypatch.setattr(attribute_hold, "HOLD_CLASSIFIER", tmp_path / "none.pt")
    assert not ExplorerSession.open(tiny_checkpoint).can_hold
