"""Attribute fidelity: labels.tsv in both published layouts, a classifier trained on them, the kept-attribute report."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import write_good_faces
from vae.data.folder import DataError
from vae.measure import fidelity


def _ids_folder(folder, count=16, size=64):
    names = write_good_faces(folder, count, seed=4, size=size)
    rows = ["file\teye_color\tface_shape"] + [f"{n}.png\t{i % 3}\t{i % 2}" for i, n in enumerate(names)]
    (folder / "labels.tsv").write_text("\n".join(rows) + "\n")
    return names


def _one_hot_folder(folder, count=12):
    names = write_good_faces(folder, count, seed=5, size=64)
    header = "file\thair_blonde\thair_brown\teye_blue\teye_green\twith_glasses\twithout_glasses"
    rows = [header] + [
        f"{n}.png\t{int(i % 2 == 0)}\t{int(i % 2 == 1)}\t1\t0\t{int(i < 4)}\t{int(i >= 4)}" for i, n in enumerate(names)
    ]
    (folder / "labels.tsv").write_text("\n".join(rows) + "\n")
    return names


def test_both_label_layouts_are_read_as_class_ids(tmp_path):
    names = _ids_folder(tmp_path / "ids")
    classes, labels = fidelity.read_labels(tmp_path / "ids")
    assert classes == {"eye_color": 3, "face_shape": 2} and labels[f"{names[4]}.png"] == {
        "eye_color": 1,
        "face_shape": 0,
    }
    names = _one_hot_folder(tmp_path / "hot")
    classes, labels = fidelity.read_labels(tmp_path / "hot")
    assert classes == {"hair_color": 2, "eye_color": 2, "glasses": 2}
    assert labels[f"{names[1]}.png"] == {"hair_color": 1, "eye_color": 0, "glasses": 1}
    assert labels[f"{names[5]}.png"]["glasses"] == 0


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "header starting with 'file'"),
        ("file\ta\nx.png\t1\t2\n", "line 2: 3 columns"),
        ("file\ta\nx.png\tred\n", "whole numbers"),
        ("file\ta\n", "no labelled faces"),
    ],
)
def test_a_malformed_labels_file_is_one_error_naming_it(tmp_path, text, message):
    (tmp_path / "labels.tsv").write_text(text)
    with pytest.raises(DataError, match=message):
        fidelity.read_labels(tmp_path)
    with pytest.raises(DataError, match="cannot be read"):
        fidelity.read_labels(tmp_path / "missing")


def test_a_classifier_trained_on_labelled_folders_reports_what_reconstructions_keep(tmp_path, tiny_model, capsys):
    from vae.measure import attribute_classifier

    _ids_folder(tmp_path / "ids")
    _one_hot_folder(tmp_path / "hot")
    folders = [tmp_path / "ids", tmp_path / "hot"]
    model, accuracy = fidelity.train(folders, epochs=1, batch_size=8, held_out=3, log=lambda m: None)
    assert set(accuracy) == {"ids:eye_color", "ids:face_shape", "hot:hair_color", "hot:eye_color", "hot:glasses"}
    assert all(0 <= a <= 1 for a in accuracy.values())
    figures = fidelity.measure(tiny_model, model, folders, held_out=3)
    assert figures["ids:eye_color"]["faces"] == 3 and figures["hot:glasses"]["faces"] == 3
    assert all(0 <= f[k] <= 1 for f in figures.values() for k in ("accuracy", "recon_accuracy", "kept"))
    assert "| hot:glasses | 3 |" in fidelity.table(figures)
    refined = fidelity.measure(tiny_model, model, folders, held_out=3, refine_steps=2)
    from vae.model import pixel_weights

    pixel_weights.save(tmp_path / "map.pt", torch.ones(64, 64))
    weighed = fidelity.measure(tiny_model, model, folders, 3, refine_steps=2, refine_weights=tmp_path / "map.pt")
    assert weighed == refined  # a flat map (mean 1) weighs every pixel as the plain refinement does
    assert (
        refined.keys() == figures.keys()
        and refined["ids:eye_color"]["accuracy"] == figures["ids:eye_color"]["accuracy"]
    )
    with pytest.raises(DataError, match="no head for"):
        fidelity.measure(tiny_model, attribute_classifier.AttributeNet({"x:y": 2}), folders, held_out=3)


def test_kept_is_split_by_what_another_head_reads_off_the_original(tmp_path, tiny_checkpoint, capsys):
    _ids_folder(tmp_path / "ids")
    _one_hot_folder(tmp_path / "hot")
    folders = [tmp_path / "ids", tmp_path / "hot"]
    classifier, _ = fidelity.train(folders, epochs=1, batch_size=8, held_out=3, log=lambda m: None)
    fidelity.ac.save(tmp_path / "c.pt", classifier)
    from vae.model import checkpoint

    model = checkpoint.load(tiny_checkpoint).model
    figures = fidelity.measure(model, classifier, folders, held_out=3, split_by="hot:glasses")
    for f in figures.values():  # the split covers every face once, and its parts average to the whole
        parts = f["kept_by"].values()
        assert set(f["kept_by"]) <= {0, 1} and sum(n for n, _ in parts) == f["faces"]
        assert sum(n * k for n, k in parts) / f["faces"] == pytest.approx(f["kept"])
    with pytest.raises(DataError, match="no head 'hot:hat'"):
        fidelity.measure(model, classifier, folders, held_out=3, split_by="hot:hat")
    args = ["measure", str(tiny_checkpoint), "--classifier", str(tmp_path / "c.pt"), "--held-out", "3"]
    args += ["--data", str(folders[0]), "--data", str(folders[1]), "--split-by", "hot:glasses"]
    assert fidelity.main(args) == 0
    split = capsys.readouterr().out.split("| attribute | hot:glasses (read off the original) | faces | kept |")[1]
    assert split.count("| ids:eye_color | ") == len(figures["ids:eye_color"]["kept_by"])
    assert all(row.split(" | ")[1] in ("without", "with") for row in split.strip().splitlines()[1:])


@pytest.mark.parametrize("augmented", [False, True])
def test_the_real_label_classifier_sees_the_faces_as_they_are_unless_asked_to_augment(tmp_path, monkeypatch, augmented):
    from vae.measure import attribute_classifier

    seen = []
    real_augment = attribute_classifier.augment
    monkeypatch.setattr(attribute_classifier, "augment", lambda x, g=None: seen.append(len(x)) or real_augment(x, g))
    _ids_folder(tmp_path / "ids")
    fidelity.train([tmp_path / "ids"], epochs=1, batch_size=8, held_out=3, log=lambda m: None, augmented=augmented)
    assert sum(seen) == (13 if augmented else 0)


def test_a_128_model_encodes_the_faces_at_its_own_size(tmp_path):
    from vae.data.collection import open_datasets
    from vae.model.network import ConvVAE, VAEConfig

    _ids_folder(tmp_path / "ids")
    classifier, _ = fidelity.train([tmp_path / "ids"], epochs=1, batch_size=8, held_out=3, log=lambda m: None)
    large = ConvVAE(VAEConfig(image_size=128, latent_dim=4, base_channels=4, full_res_channels=4))
    seen = []
    encode = large.encode
    large.encode = lambda x: seen.append(x) or encode(x)
    figures = fidelity.measure(large, classifier, [tmp_path / "ids"], held_out=3)
    faces = open_datasets([str(tmp_path / "ids")], 128)
    assert len(seen) == 1 and torch.equal(seen[0], faces.batch(faces.holdout(3)[1]))  # not 64 px enlarged
    assert figures["ids:face_shape"]["faces"] == 3


def test_a_128_face_brought_to_the_classifiers_size_looks_like_the_64_px_cache_of_it(tmp_path):
    from vae.data.collection import open_datasets
    from vae.model.attribute_net import classifier_sized

    write_good_faces(tmp_path / "faces", 6, seed=3, size=128)
    small, large = (open_datasets([str(tmp_path / "faces")], size) for size in (64, 128))
    resized = classifier_sized(large.batch(list(range(6))).float())
    assert resized.shape == (6, 3, 64, 64) and 0 <= resized.min() and resized.max() <= 1
    # the caches resize with Lanczos; a bilinear resize differs from them by about 0.012 on these faces
    assert (resized - small.batch(list(range(6))).float()).abs().mean() < 0.008


class _Copier(torch.nn.Module):
    """A 128 px "autoencoder" whose reconstruction is its input, exactly."""

    image_size = 128

    def encode(self, x):
        return x.flatten(1), None

    def decode(self, z):
        return z.view(-1, 3, 128, 128)


class _PixelReader(torch.nn.Module):
    """A classifier whose reading turns on small differences of pixel values."""

    def __init__(self, heads):
        super().__init__()
        self.heads = heads
        with torch.random.fork_rng():
            torch.manual_seed(1)
            self.read = torch.nn.ModuleList(torch.nn.Linear(3 * 64 * 64, n) for n in heads.values())

    def forward(self, x):
        return {name: read(x.flatten(1) - 0.5) for name, read in zip(self.heads, self.read)}


def test_a_128_model_that_draws_each_face_exactly_keeps_every_attribute(tmp_path):
    _ids_folder(tmp_path / "ids", count=24, size=128)
    reader = _PixelReader({"ids:eye_color": 64, "ids:face_shape": 64})  # many classes: close calls
    figures = fidelity.measure(_Copier(), reader, [tmp_path / "ids"], held_out=12)
    assert [f["kept"] for f in figures.values()] == [1.0, 1.0]
    for f in figures.values():  # every face stays in its class: all counts on the diagonal
        counts = torch.tensor(f["confusion"])
        assert counts.sum() == f["faces"] and counts.trace() == f["faces"]


def test_the_confusion_table_counts_which_class_each_face_went_to():
    before, after = torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 1, 1, 0, 0, 2])
    assert fidelity.confusion(before, after, 3) == [[1, 1, 0], [0, 1, 0], [2, 0, 1]]
    table = fidelity.confusion_table("x:eye", [[1, 1], [0, 2]], ["brown", "blue"])
    assert table.splitlines()[0] == "| x:eye: original → reconstruction | brown | blue |"
    assert table.splitlines()[-1] == "| blue | 0 | 2 |"


def test_training_faces_are_measured_on_request_not_the_held_out_ones(tmp_path, monkeypatch):
    _ids_folder(tmp_path / "ids", count=24, size=128)
    measured = []
    original = fidelity.reconstruct

    def recording(vae_model, faces, **kwargs):
        measured.append(faces)
        return original(vae_model, faces, **kwargs)

    monkeypatch.setattr(fidelity, "reconstruct", recording)
    reader = _PixelReader({"ids:eye_color": 64, "ids:face_shape": 64})
    held = fidelity.measure(_Copier(), reader, [tmp_path / "ids"], held_out=6)
    trained = fidelity.measure(_Copier(), reader, [tmp_path / "ids"], held_out=6, on_training=True)
    assert held["ids:eye_color"]["faces"] == trained["ids:eye_color"]["faces"] == 6
    assert measured[0].shape == measured[1].shape and not torch.equal(measured[0], measured[1])


def test_training_faces_are_taken_from_every_folder_as_many_as_it_holds_out():
    class TwoFolders:
        offsets = [0, 10, 30]

    train, held = [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15], [8, 9, 28, 29]
    assert fidelity.training_like(train, held, TwoFolders()).tolist() == [0, 1, 10, 11]
