"""Direction effects (vae.measure.direction_effects): real-label directions, what they reach, what else they change."""

import math

import pytest
import torch

from vae.measure import direction_effects as de
from vae.measure.fidelity import class_names


class LatentAsImage:
    """A stand-in model whose "image" of z is z itself, so a stand-in classifier can read the latent."""

    latent_dim = 4
    image_size = 64

    def decode(self, z):
        return z.view(len(z), 1, 1, -1)


def read_signs(classifier, images):
    """A stand-in classifier: hair is class 1 when the first latent is positive, eyes when the second is."""
    return {"f:hair": (images[..., 0] > 0).long().flatten(), "f:eyes": (images[..., 1] > 0).long().flatten()}


@pytest.fixture
def faces(monkeypatch):
    monkeypatch.setattr(de, "predicted", read_signs)
    mu = torch.tensor([[-1.0, -0.5, 0.0, 0.0]] * 30 + [[1.0, -0.5, 0.0, 0.0]] * 30)
    truth = {"f:hair": torch.tensor([0] * 30 + [1] * 30), "f:eyes": torch.zeros(60, dtype=torch.long)}
    return mu, truth


def test_a_direction_along_its_attribute_reaches_it_without_side_effects(faces):
    mu, truth = faces
    along = {"hair up": ("f:hair", 1, torch.tensor([1.0, 0.0, 0.0, 0.0]))}
    (effect,) = de.effects(LatentAsImage(), None, mu, truth, along, strength=2.0)
    assert effect.faces == 30  # only the faces that lacked the class are edited
    assert effect.reached == 1.0
    assert effect.side == {"f:eyes": 0.0}


def test_an_entangled_direction_shows_its_side_effect(faces):
    mu, truth = faces
    slanted = {"hair and eyes": ("f:hair", 1, torch.tensor([1.0, 1.0, 0.0, 0.0]) / math.sqrt(2))}
    (effect,) = de.effects(LatentAsImage(), None, mu, truth, slanted, strength=2.0)
    assert effect.reached == 1.0
    assert effect.largest_side == ("f:eyes", 1.0)


def test_a_direction_made_conditional_on_the_eyes_no_longer_changes_them(faces):
    mu, truth = faces
    directions = {
        "f:hair=1": ("f:hair", 1, torch.tensor([1.0, 1.0, 0.0, 0.0]) / math.sqrt(2)),
        "f:eyes=1": ("f:eyes", 1, torch.tensor([0.0, 1.0, 0.0, 0.0])),
        "g:hair=1": ("g:hair", 1, torch.tensor([1.0, 1.0, 0.0, 0.0]) / math.sqrt(2)),
    }
    kept = de.conditional_on(directions, "eyes")
    assert torch.allclose(kept["f:hair=1"][2], torch.tensor([1.0, 0.0, 0.0, 0.0]))
    assert kept["f:eyes=1"] == directions["f:eyes=1"]  # the attribute kept is not projected on itself
    assert kept["g:hair=1"] == directions["g:hair=1"]  # another folder, no eye labels: unchanged
    (before,), (after,) = (
        de.effects(LatentAsImage(), None, mu, truth, {"hair": d["f:hair=1"]}, strength=2.0) for d in (directions, kept)
    )
    assert before.largest_side == ("f:eyes", 1.0)
    assert after.reached == 1.0 and after.side == {"f:eyes": 0.0}
    with pytest.raises(ValueError, match="no directions of 'eye_colour'.*eyes, hair"):
        de.conditional_on(directions, "eye_colour")  # a misspelt attribute is an error, not a silent no-op


def test_a_held_edit_holds_every_head_of_the_judge_but_its_own_attributes(faces, monkeypatch):
    mu, truth = faces
    calls = []

    def hold(model, judge, before, edited, heads):
        calls.append(heads)
        return edited * torch.tensor([1.0, 0.0, 1.0, 1.0])  # a stand-in hold: the eyes' latent back to zero

    monkeypatch.setattr(de, "hold_attributes", hold)
    judge = type("Judge", (), {"heads": {"f:hair": 2, "f:eyes": 2, "g:hair": 6}})()
    slanted = {"hair and eyes": ("f:hair", 1, torch.tensor([1.0, 1.0, 0.0, 0.0]) / math.sqrt(2))}
    (effect,) = de.effects(LatentAsImage(), None, mu, truth, slanted, strength=2.0, hold=judge)
    assert calls == [["f:eyes"]]  # hair of every folder is what the edit changes; the rest is held
    assert effect.reached == 1.0 and effect.side == {"f:eyes": 0.0}


def test_real_directions_point_from_the_other_classes_to_each_class():
    mu = torch.cat([torch.randn(40, 4) * 0.1 + torch.tensor([2.0, 0, 0, 0]), torch.randn(40, 4) * 0.1])
    labels = torch.tensor([1] * 40 + [0] * 40)
    names = {"f:glasses": ["without", "with"], "f:hair": ["dark", "fair"]}
    directions = de.real_directions(mu, {"f:glasses": 2, "f:hair": 2}, {"f:glasses": labels, "f:hair": labels}, names)
    assert sorted(directions) == ["f:glasses=with", "f:hair=dark", "f:hair=fair"]  # presence: towards "with" only
    head, k, direction = directions["f:hair=fair"]
    assert (head, k) == ("f:hair", 1) and direction[0] > 0.99


def test_a_class_with_too_few_faces_gets_no_direction():
    mu = torch.randn(100, 4)
    labels = torch.tensor([1] * (de.MIN_FACES - 1) + [0] * (100 - de.MIN_FACES + 1))
    assert de.real_directions(mu, {"f:hair": 2}, {"f:hair": labels}, {"f:hair": ["a", "b"]}) == {}


def test_class_names_come_from_the_labels_header(tmp_path):
    one_hot = tmp_path / "adl"
    one_hot.mkdir()
    (one_hot / "labels.tsv").write_text(
        "file\thair_blonde\thair_black\twith_glasses\twithout_glasses\na.png\t1\t0\t0\t1\nb.png\t0\t1\t1\t0\n"
    )
    assert class_names(one_hot) == {"hair_color": ["blonde", "black"], "glasses": ["without", "with"]}
    ids = tmp_path / "amls"
    ids.mkdir()
    (ids / "labels.tsv").write_text("file\teye_color\tface_shape\na.png\t2\t0\nb.png\t0\t1\n")
    assert class_names(ids) == {"eye_color": ["0", "1", "2"], "face_shape": ["0", "1"]}


def test_packaging_replaces_the_directions_real_labels_name_and_keeps_the_others(tmp_path, tiny_model, monkeypatch):
    from tests.helpers import write_good_faces
    from vae.measure import package_default
    from vae.model import checkpoint
    from vae.model.attribute_loss import frozen_judge
    from vae.model.attribute_net import AttributeNet, save

    folder = tmp_path / "adl"
    names = write_good_faces(folder, 48, seed=4, size=64)
    header = "file\teye_brown\teye_blue\twith_glasses\twithout_glasses"
    rows = [header] + [f"{n}.png\t{1 - i % 2}\t{i % 2}\t0\t1" for i, n in enumerate(names)]
    (folder / "labels.tsv").write_text("\n".join(rows) + "\n")
    stored = {"eye_color:0": torch.ones(8), "hair_color:5": torch.arange(8.0)}
    checkpoint.save(tmp_path / "model.pt", tiny_model, directions=stored)
    assert de.labelled_directions(tiny_model, [folder], held_out=4) == {}  # eye colour is not packaged by default
    keyed = de.labelled_directions(tiny_model, [folder], held_out=4, skip=())
    assert sorted(keyed) == ["eye_color:0", "eye_color:1"]
    assert all(abs(float(d.norm()) - 1) < 1e-5 for d in keyed.values())
    save(tmp_path / "judge.pt", AttributeNet({"adl:eye_color": 2, "adl:glasses": 2}))
    fitted = de.labelled_directions(
        tiny_model, [folder], held_out=4, skip=(), fit_with=frozen_judge(tmp_path / "judge.pt")
    )
    assert sorted(fitted) == sorted(keyed) and all(abs(float(d.norm()) - 1) < 1e-5 for d in fitted.values())
    assert all(not torch.allclose(fitted[key], keyed[key]) for key in keyed)

    real = {"eye_color:0": keyed["eye_color:0"], "eye_color:1": keyed["eye_color:1"]}
    fitting = []
    monkeypatch.setattr(de, "labelled_directions", lambda model, folders, **kw: fitting.append(kw["fit_with"]) or real)
    package_default.package(
        str(tmp_path / "model.pt"),
        str(tmp_path / "out.pt"),
        labelled=[folder],
        fit_directions_with=tmp_path / "judge.pt",
    )
    assert fitting[0].heads == {"adl:eye_color": 2, "adl:glasses": 2}  # the named classifier, frozen
    assert not any(p.requires_grad for p in fitting[0].parameters())
    directions = package_default.package(str(tmp_path / "model.pt"), str(tmp_path / "out.pt"), labelled=[folder])
    assert fitting[1] is None
    assert sorted(directions) == ["eye_color:0", "eye_color:1", "hair_color:5"]
    assert torch.allclose(directions["eye_color:0"], real["eye_color:0"])
    assert torch.equal(directions["hair_color:5"], stored["hair_color:5"])
    assert sorted(checkpoint.load(tmp_path / "out.pt").directions) == sorted(directions)


def test_each_direction_is_fitted_on_the_faces_that_lack_its_class_holding_the_other_attributes(monkeypatch):
    calls, lines = [], []

    def fit(model, judge, latents, head, target, start, held, strength):
        calls.append((head, target, latents[:, 0].tolist(), held, strength))
        return torch.tensor([0.0, 0.0, 0.0, 1.0])

    monkeypatch.setattr(de, "fit_direction", fit)
    judge = type("Judge", (), {"heads": {"f:hair": 2, "f:eyes": 2, "g:eyes": 3, "f:glasses": 2}})()
    mu = torch.arange(5.0)[:, None].expand(5, 4)
    truth = {"f:hair": torch.tensor([0, 1, -1, 0, 1]), "f:eyes": torch.zeros(5, dtype=torch.long)}
    directions = {
        "f:hair=1": ("f:hair", 1, torch.ones(4) / 2),
        "f:skin=0": ("f:skin", 0, torch.ones(4) / 2),
        "f:glasses=with": ("f:glasses", 1, torch.ones(4) / 2),
    }
    truth["f:skin"] = truth["f:glasses"] = torch.ones(5, dtype=torch.long) * torch.tensor([1, 1, 1, 0, 1])
    fitted = de.fitted_directions(None, judge, mu, truth, directions, report=lines.append)
    assert calls == [("f:hair", 1, [0.0, 3.0], ["f:eyes", "g:eyes", "f:glasses"], de.STRENGTH)]  # face 2: no label
    assert fitted["f:hair=1"][:2] == ("f:hair", 1) and fitted["f:hair=1"][2][3] == 1.0
    assert fitted["f:skin=0"] == directions["f:skin=0"]  # the judge reads no skin: kept as it was
    assert fitted["f:glasses=with"] == directions["f:glasses=with"]  # glasses are not fitted
    assert lines == ["fitted f:hair=1 on 2 faces"]


def test_fitting_needs_the_labelled_folders(tmp_path, tiny_model, capsys):
    from vae.measure import package_default
    from vae.model import checkpoint

    checkpoint.save(tmp_path / "model.pt", tiny_model)
    with pytest.raises(ValueError, match="needs the folders with real labels"):
        package_default.package(str(tmp_path / "model.pt"), str(tmp_path / "out.pt"), fit_directions_with="judge.pt")
    with pytest.raises(SystemExit):
        package_default.main([str(tmp_path / "model.pt"), str(tmp_path / "out.pt"), "--fit-directions-with", "j.pt"])
    assert "--fit-directions-with needs --directions-from-labels" in capsys.readouterr().err
    assert not (tmp_path / "out.pt").exists()


def test_eye_colour_is_learnt_from_faces_without_glasses():
    eyes = torch.tensor([1] * 30 + [0] * 30 + [1] * 30)
    glasses = torch.tensor([0] * 60 + [1] * 30)  # the last 30 wear glasses, and would pull the direction along z1
    mu = torch.zeros(90, 4)
    mu[:30, 0] = 1.0
    mu[60:, 1] = 3.0
    names = {"f:eye_color": ["brown", "blue"], "f:glasses": ["without", "with"]}
    directions = de.real_directions(
        mu, {"f:eye_color": 2, "f:glasses": 2}, {"f:eye_color": eyes, "f:glasses": glasses}, names
    )
    _, _, blue = directions["f:eye_color=blue"]
    assert blue[0] > 0.99 and abs(float(blue[1])) < 1e-6


def test_a_128_model_gets_real_label_directions_and_their_effects(tmp_path):
    from tests.helpers import write_good_faces
    from vae.measure import fidelity
    from vae.model.network import ConvVAE, VAEConfig

    folder = tmp_path / "adl"
    names = write_good_faces(folder, 48, seed=4, size=64)
    rows = ["file\teye_brown\teye_blue"] + [f"{n}.png\t{1 - i % 2}\t{i % 2}" for i, n in enumerate(names)]
    (folder / "labels.tsv").write_text("\n".join(rows) + "\n")
    large = ConvVAE(VAEConfig(image_size=128, latent_dim=4, base_channels=4, full_res_channels=4))
    keyed = de.labelled_directions(large, [folder], held_out=4, skip=())
    assert sorted(keyed) == ["eye_color:0", "eye_color:1"] and all(d.shape == (4,) for d in keyed.values())
    classifier, _ = fidelity.train([folder], epochs=1, batch_size=8, held_out=4, log=lambda m: None)
    results, _ = de.measure(large, classifier, [folder], held_out=4, controls=False)
    assert results and all(0 <= r.reached <= 1 for r in results)
