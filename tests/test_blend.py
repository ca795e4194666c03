import pytest
import torch

from vae.measure.blend import blend_states, main
from vae.model import checkpoint
from vae.model.network import ConvVAE, VAEConfig

CONFIG = VAEConfig(latent_dim=4, base_channels=4)


def saved(path, seed, **metadata):
    torch.manual_seed(seed)
    return checkpoint.save(path, ConvVAE(CONFIG), **metadata)


def test_the_blend_lies_between_the_two_checkpoints_and_keeps_the_later_ones_settings(tmp_path, capsys):
    a = saved(tmp_path / "a.pt", 0)
    b = saved(
        tmp_path / "b.pt",
        1,
        history=[{"epoch": 1, "val_ssim": 0.5}],
        training={"config": {"holdout": 7}, "optimizer": {"state": {}}},
    )
    assert main([str(a), str(b), str(tmp_path / "mid.pt"), "--toward", "0.25"]) == 0
    assert "mid.pt" in capsys.readouterr().out
    wa, wb = checkpoint.load(a).model.state_dict(), checkpoint.load(b).model.state_dict()
    mid = checkpoint.load(tmp_path / "mid.pt")
    name = next(k for k, v in wa.items() if v.is_floating_point() and not torch.equal(v, wb[k]))
    torch.testing.assert_close(mid.model.state_dict()[name], 0.75 * wa[name] + 0.25 * wb[name])
    assert mid.history == [{"epoch": 1, "val_ssim": 0.5}]
    assert mid.training == {"config": {"holdout": 7}}  # which faces were held out, not the optimiser


def test_the_ends_are_the_checkpoints_themselves():
    a = {"w": torch.zeros(3), "n": torch.tensor(2)}
    b = {"w": torch.ones(3), "n": torch.tensor(5)}
    assert torch.equal(blend_states(a, b, 0.0)["w"], a["w"]) and torch.equal(blend_states(a, b, 1.0)["w"], b["w"])
    assert blend_states(a, b, 0.5)["n"].item() == 2  # integer buffers are not averaged


def test_different_architectures_or_a_bad_fraction_are_refused(tmp_path, capsys):
    a = saved(tmp_path / "a.pt", 0)
    torch.manual_seed(0)
    other = checkpoint.save(tmp_path / "other.pt", ConvVAE(VAEConfig(latent_dim=8, base_channels=4)))
    assert main([str(a), str(other), str(tmp_path / "out.pt"), "--toward", "0.5"]) == 2
    assert "different architectures" in capsys.readouterr().err
    assert not (tmp_path / "out.pt").exists()
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    assert main([str(a), str(tmp_path / "broken.pt"), str(tmp_path / "out.pt"), "--toward", "0.5"]) == 2
    with pytest.raises(SystemExit):
        main([str(a), str(a), str(tmp_path / "out.pt"), "--toward", "1.5"])
    with pytest.raises(ValueError, match="different layers"):
        blend_states({"w": torch.zeros(1)}, {"v": torch.zeros(1)}, 0.5)


def test_packaging_a_blend_measures_what_ships(tmp_path):
    """The app shows the newest history row's validation SSIM: for a blend, that of the blend, not of B's epoch."""
    from tests.helpers import write_good_faces
    from vae.data.collection import open_datasets
    from vae.measure.package_default import package
    from vae.model.metrics import evaluate
    from vae.train.trainer import training_split

    write_good_faces(tmp_path / "faces", 40, size=64)
    a = saved(tmp_path / "a.pt", 0)
    b = saved(tmp_path / "b.pt", 1, history=[{"epoch": 1, "val_ssim": 0.123}], training={"config": {"holdout": 6}})
    assert main([str(a), str(b), str(tmp_path / "mid.pt"), "--toward", "0.5"]) == 0
    package(str(tmp_path / "mid.pt"), str(tmp_path / "shipped.pt"), [str(tmp_path / "faces")])
    shipped = checkpoint.load(tmp_path / "shipped.pt")
    faces = open_datasets([str(tmp_path / "faces")], 64)
    measured = evaluate(checkpoint.load(tmp_path / "mid.pt").model, faces, training_split(faces, 6)[1])
    assert shipped.last_metric("val_ssim") == pytest.approx(measured["ssim"])
    assert abs(measured["ssim"] - 0.123) > 1e-3
    assert shipped.epochs == 1 and shipped.latent_kl.shape == (CONFIG.latent_dim,)
