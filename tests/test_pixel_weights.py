"""Pixel-weight maps: built from labelled faces, saved and read back, and used by the loss and the trainer."""

from __future__ import annotations

import pytest
import torch

import train_cli
from tests.helpers import cached_faces, write_good_faces
from vae.data.cartoonset import read_csv
from vae.data.folder import DataError
from vae.measure import pixel_weights as builder
from vae.model import checkpoint, pixel_weights
from vae.model.loss import vae_loss
from vae.model.network import VAEConfig
from vae.train.config import TrainConfig
from vae.train.trainer import Trainer


def test_a_map_round_trips_and_loads_resized_with_mean_one(tmp_path):
    weights = torch.ones(64, 64)
    weights[20:24, 30:34] = 21.0
    pixel_weights.save(tmp_path / "map.pt", weights, {"heads": ["x:eye_color"]})
    read, about = pixel_weights.read(tmp_path / "map.pt")
    assert torch.equal(read, weights) and about == {"heads": ["x:eye_color"]}
    for size in (64, 128):
        loaded = pixel_weights.load(tmp_path / "map.pt", size)
        assert loaded.shape == (1, 1, size, size)
        assert loaded.mean().item() == pytest.approx(1.0, abs=1e-5)
        assert loaded.max() / loaded.min() > 10  # the emphasis survives the resize


@pytest.mark.parametrize(
    "content,message",
    [
        (b"not a map", "not a readable pixel-weight file"),
        ({"format": "something else"}, "not a pixel-weight file"),
        ({"format": pixel_weights.FORMAT, "weights": torch.ones(3)}, "2-D"),
        ({"format": pixel_weights.FORMAT, "weights": -torch.ones(4, 4)}, "non-negative"),
        ({"format": pixel_weights.FORMAT, "weights": torch.full((4, 4), float("nan"))}, "finite"),
    ],
)
def test_a_bad_map_is_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(pixel_weights.PixelWeightsError, match=message) as error:
        pixel_weights.load(path, 64)
    assert "bad.pt" in str(error.value)
    with pytest.raises(pixel_weights.PixelWeightsError, match="no such file"):
        pixel_weights.load(tmp_path / "missing.pt", 64)


def test_the_loss_weighs_the_squared_error_where_the_map_says_and_reports_it_unweighted():
    target = torch.zeros(2, 3, 8, 8)
    recon = target.clone()
    recon[:, :, 2, 2] = 0.5  # one wrong pixel
    mu, logvar = torch.zeros(2, 4), torch.zeros(2, 4)
    plain = vae_loss(recon, target, mu, logvar)
    uniform = vae_loss(recon, target, mu, logvar, pixel_weights=torch.ones(1, 1, 8, 8))
    heavy = torch.ones(1, 1, 8, 8)
    heavy[..., 2, 2] = 10.0
    weighted = vae_loss(recon, target, mu, logvar, pixel_weights=heavy)
    assert uniform.total.item() == pytest.approx(plain.total.item())
    assert weighted.total.item() == pytest.approx(10 * plain.total.item())
    assert weighted.recon.item() == pytest.approx(plain.recon.item())  # the reported error stays comparable


def test_explained_variance_finds_the_pixels_that_tell_the_classes_apart():
    torch.manual_seed(0)
    classes = torch.arange(300) % 3
    faces = torch.rand(300, 3, 8, 8) * 0.1  # noise everywhere …
    faces[:, 0, 5, 6] = classes.float() / 2  # … and one pixel whose red is the class
    classes[::7] = -1  # unknown labels are left out
    eta = builder.explained_variance(faces.split(64), classes, 3)
    assert eta.shape == (8, 8)
    assert eta[5, 6] > 0.95
    eta[5, 6] = 0
    assert eta.max() < 0.1


def _labelled_folder(folder, count=200):
    """Generated faces with their real eye colours in a labels.tsv (the AMLS layout)."""
    names = write_good_faces(folder, count, seed=3, size=64)
    rows = ["file\teye_color\tface_shape"]
    rows += [f"{n}.png\t{read_csv(folder / f'{n}.csv')['eye_color']}\t0" for n in names]
    (folder / "labels.tsv").write_text("\n".join(rows) + "\n")
    return folder


def test_the_builder_weighs_the_eyes_of_generated_faces(tmp_path):
    folder = _labelled_folder(tmp_path / "faces")
    assert builder.main([str(tmp_path / "eyes.pt"), "--data", str(folder), "--held-out", "4", "--strength", "9"]) == 0
    weights, about = pixel_weights.read(tmp_path / "eyes.pt")
    assert about["heads"] == ["faces:eye_color"] and about["faces"] == 196
    assert weights.shape == (64, 64) and weights.min() >= 1 and weights.max() == pytest.approx(10.0)
    y, x = divmod(int(weights.argmax()), 64)
    assert 28 <= y < 44 and 12 <= x < 52  # an iris, not the hair, the outline or the chin
    with pytest.raises(DataError, match="no folder labels hair_color"):
        builder.build([folder], ["hair_color"], held_out=4)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return cached_faces(tmp_path_factory, 16)


def test_a_map_changes_what_a_run_learns(faces, tmp_path):
    weights = torch.ones(64, 64)
    weights[:32] = 20.0
    pixel_weights.save(tmp_path / "top.pt", weights)
    pixel_weights.save(tmp_path / "flat.pt", torch.full((32, 32), 3.0))

    def weights_after(**term):
        config = TrainConfig(model=VAEConfig(latent_dim=4, base_channels=8), epochs=1, batch_size=8, **term)
        result = Trainer(config, faces, tmp_path / f"run{len(list(tmp_path.iterdir()))}").run()
        return checkpoint.load(result.last_path).model.state_dict()

    plain = weights_after()
    top = weights_after(pixel_weights=str(tmp_path / "top.pt"))
    assert max((plain[name] - w).abs().max().item() for name, w in top.items()) > 1e-4
    flat = weights_after(pixel_weights=str(tmp_path / "flat.pt"))  # a uniform map, scaled to mean 1, is no map
    assert all(torch.allclose(plain[name], w, rtol=0, atol=1e-6) for name, w in flat.items())


def test_the_cli_refuses_an_unreadable_map_before_preparing_the_data(tmp_path, capsys):
    (tmp_path / "bad.pt").write_bytes(b"not a map")
    code = train_cli.main(
        ["--data", str(tmp_path / "no-such-folder"), "--out", str(tmp_path / "run"), "--pixel-weights", "bad.pt"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "bad.pt: no such file" in err and "no-such-folder" not in err
    code = train_cli.main(
        [
            "--data",
            str(tmp_path / "no-such-folder"),
            "--out",
            str(tmp_path / "run"),
            "--pixel-weights",
            str(tmp_path / "bad.pt"),
        ]
    )
    assert code == 2
    assert "not a readable pixel-weight file" in capsys.readouterr().err
