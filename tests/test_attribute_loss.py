"""The attribute-consistency term: a frozen classifier's reading of a reconstruction kept close to the face's."""

import pytest
import torch

import train_cli
from tests.helpers import cached_faces
from vae.model import checkpoint
from vae.model.attribute_loss import (
    LatentReadout,
    attribute_consistency,
    fit_direction,
    frozen_judge,
    hold_attributes,
    readout_divergence,
)
from vae.model.attribute_net import AttributeNet, save
from vae.model.network import VAEConfig
from vae.train.config import TrainConfig
from vae.train.trainer import Trainer


@pytest.fixture(scope="module")
def judge_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("judge") / "judge.pt"
    save(path, AttributeNet({"eyes": 3, "shape": 2}))
    return path


def test_the_term_is_zero_for_the_face_itself_and_grows_with_a_different_face(judge_file):
    judge = frozen_judge(judge_file)
    faces = torch.rand(4, 3, 64, 64)
    assert attribute_consistency(judge, faces, faces).item() == pytest.approx(0.0, abs=1e-6)
    recon = (1 - faces).requires_grad_()
    differs = attribute_consistency(judge, recon, faces)
    assert differs.item() > 0
    differs.backward()
    assert recon.grad.abs().sum() > 0  # the decoder is steered …
    assert all(p.grad is None for p in judge.parameters())  # … the classifier is not


def test_faces_of_another_size_are_read_at_the_classifiers_64_px(judge_file):
    judge = frozen_judge(judge_file)
    faces = torch.rand(2, 3, 128, 128)
    assert attribute_consistency(judge, faces, faces).item() == pytest.approx(0.0, abs=1e-6)
    assert torch.isfinite(attribute_consistency(judge, torch.rand(2, 3, 128, 128), faces))


@pytest.mark.parametrize("term", ["attribute_weight", "latent_readout_weight"])
def test_a_weight_without_a_classifier_is_refused(term):
    with pytest.raises(ValueError, match=f"{term} needs an attribute_classifier"):
        TrainConfig(**{term: 0.5})


def test_a_latent_readout_learns_the_judges_reading_where_mu_carries_it(judge_file):
    judge = frozen_judge(judge_file)
    faces = torch.rand(32, 3, 64, 64)
    carried = torch.cat([faces.mean((2, 3)), faces[:, :, 16:48, 16:48].mean((2, 3))], 1)  # μ: 6 colour means
    mu = ((carried - carried.mean(0)) / carried.std(0)).requires_grad_()
    torch.manual_seed(0)
    readout = LatentReadout(6, judge.heads)
    first = readout_divergence(readout, judge, mu, faces)
    first.backward()
    assert mu.grad.abs().sum() > 0  # the encoder is steered …
    assert all(p.grad is None for p in judge.parameters())  # … the classifier is not
    optimiser = torch.optim.Adam(readout.parameters(), lr=0.05)
    for _ in range(200):
        optimiser.zero_grad()
        readout_divergence(readout, judge, mu.detach(), faces).backward()
        optimiser.step()
    assert readout_divergence(readout, judge, mu.detach(), faces).item() < 0.5 * first.item()


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return cached_faces(tmp_path_factory, 16)


def test_the_term_changes_what_a_run_learns(faces, judge_file, tmp_path):
    def weights_after(**term):
        config = TrainConfig(model=VAEConfig(latent_dim=4, base_channels=8), epochs=1, batch_size=8, **term)
        result = Trainer(config, faces, tmp_path / f"run{len(list(tmp_path.iterdir()))}").run()
        return checkpoint.load(result.last_path).model.state_dict()

    plain = weights_after()
    assert all(torch.equal(plain[name], w) for name, w in weights_after().items())  # runs are reproducible
    steered = weights_after(attribute_weight=0.5, attribute_classifier=str(judge_file))
    assert max((plain[name] - w).abs().max().item() for name, w in steered.items()) > 1e-4
    unweighted = weights_after(attribute_weight=1e-30, attribute_classifier=str(judge_file))
    assert all(torch.allclose(plain[name], w, rtol=0, atol=1e-7) for name, w in unweighted.items())  # nor its loading


def _readout_config(epochs: int, judge_file) -> TrainConfig:
    return TrainConfig(
        model=VAEConfig(latent_dim=4, base_channels=8),
        epochs=epochs,
        batch_size=8,
        precision="bf16",
        latent_readout_weight=1.0,
        attribute_classifier=str(judge_file),
    )


def test_a_latent_readout_run_steers_the_model_and_resumes_with_its_readout(faces, judge_file, tmp_path):
    plain = TrainConfig(model=VAEConfig(latent_dim=4, base_channels=8), epochs=1, batch_size=8, precision="bf16")
    unsteered = checkpoint.load(Trainer(plain, faces, tmp_path / "plain").run().last_path).model.state_dict()
    result = Trainer(_readout_config(1, judge_file), faces, tmp_path / "run").run()
    saved = checkpoint.load(result.last_path)
    assert max((unsteered[name] - w).abs().max().item() for name, w in saved.model.state_dict().items()) > 1e-4
    assert set(saved.training["readout"]) == set(LatentReadout(4, frozen_judge(judge_file).heads).state_dict())
    trainer = Trainer(_readout_config(2, judge_file), faces, tmp_path / "run")
    trainer.run(resume=True)
    steps = [s["step"].item() for s in saved.training["readout_optimizer"]["state"].values()]
    resumed = checkpoint.load(trainer.last_path).training
    again = [s["step"].item() for s in resumed["readout_optimizer"]["state"].values()]
    assert steps[0] == trainer.steps_per_epoch and again[0] == 2 * trainer.steps_per_epoch  # went on, not anew
    assert all(torch.isfinite(w).all() for w in checkpoint.load(trainer.last_path).model.state_dict().values())


def test_the_cli_refuses_an_unreadable_classifier_before_preparing_the_data(tmp_path, capsys):
    (tmp_path / "bad.pt").write_bytes(b"not a classifier")
    code = train_cli.main(
        [
            "--data",
            str(tmp_path / "no-such-folder"),
            "--out",
            str(tmp_path / "run"),
            "--attribute-weight",
            "0.5",
            "--attribute-classifier",
            str(tmp_path / "bad.pt"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "bad.pt: not a readable attribute classifier" in err and "no-such-folder" not in err


def test_the_term_trains_under_bf16_autocast(faces, judge_file, tmp_path):
    config = TrainConfig(
        model=VAEConfig(latent_dim=4, base_channels=8),
        epochs=1,
        batch_size=8,
        precision="bf16",
        attribute_weight=0.5,
        attribute_classifier=str(judge_file),
    )
    result = Trainer(config, faces, tmp_path / "run").run()
    assert all(torch.isfinite(w).all() for w in checkpoint.load(result.last_path).model.state_dict().values())


class LinearDecoder(torch.nn.Module):
    """A stand-in model whose faces change a lot with the latent: sigmoid of a random linear map, 8 → 3×64×64."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(8, 3 * 64 * 64)

    def decode(self, z):
        return torch.sigmoid(4 * self.layer(z)).view(len(z), 3, 64, 64)


def _disagreement(judge, model, before, z, heads):
    """Per face, Σ over ``heads`` of KL(judge(decode(before)) ‖ judge(decode(z)))."""
    with torch.no_grad():
        want, got = judge(model.decode(before)), judge(model.decode(z))
    return sum(
        torch.nn.functional.kl_div(
            got[h].log_softmax(1), want[h].log_softmax(1), log_target=True, reduction="none"
        ).sum(1)
        for h in heads
    )


def sharp_judge(path):
    """The test judge with its heads' logits scaled up, so that its readings follow the faces closely."""
    judge = frozen_judge(path)
    for layer in judge.out.values():
        layer.weight.data *= 100
    return judge


def test_holding_an_edit_brings_the_held_readings_back_and_the_anchor_keeps_it_near_the_edit(judge_file):
    judge, model = sharp_judge(judge_file), LinearDecoder()
    torch.manual_seed(1)
    before = torch.randn(6, 8)
    edited = before + 2.0 * torch.randn(6, 8)
    changed = _disagreement(judge, model, before, edited, ["eyes"])
    assert (changed > 1e-3).all()  # the edit changed the reading
    loose = hold_attributes(model, judge, before, edited, ["eyes"], steps=40, lr=0.05, anchor=1e-4)
    assert (_disagreement(judge, model, before, loose, ["eyes"]) < 0.1 * changed).all()
    tight = hold_attributes(model, judge, before, edited, ["eyes"], steps=40, lr=0.05, anchor=0.01)
    assert ((tight - edited).norm(dim=1) < (loose - edited).norm(dim=1)).all()
    assert (_disagreement(judge, model, before, tight, ["eyes"]) < changed).all()
    assert all(p.grad is None for p in judge.parameters())
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


def test_holding_nothing_leaves_the_edit_as_it_is(judge_file):
    before, edited = torch.zeros(2, 8), torch.ones(2, 8)
    held = hold_attributes(LinearDecoder(), frozen_judge(judge_file), before, edited, [], steps=5)
    assert torch.allclose(held, edited)


class ChannelDecoder(torch.nn.Module):
    """A stand-in model whose face is each of the first three latents spread over one colour channel."""

    def decode(self, z):
        return z[:, :3, None, None].expand(len(z), 3, 64, 64)


class ChannelJudge(torch.nn.Module):
    """A stand-in classifier: "shape" is read off the red and green channels' means, "eyes" off the green one's."""

    heads = {"shape": 2, "eyes": 2}

    def forward(self, images):
        red, green = images.mean((2, 3))[:, :2].T
        zero = torch.zeros(len(images))
        return {"shape": torch.stack([zero, 4 * (red + green)], 1), "eyes": torch.stack([zero, 4 * green], 1)}


def test_a_fitted_direction_turns_from_what_it_should_hold_to_what_it_aims_at():
    latents = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    start = torch.tensor([1.0, 0.0, 1.0, 0.0]) / 2**0.5  # half of it along the blue channel, which no head reads
    fitted = fit_direction(
        ChannelDecoder(), ChannelJudge(), latents, "shape", 1, start, ["eyes"], 2.0, steps=80, lr=0.05
    )
    assert abs(float(fitted.norm()) - 1) < 1e-5
    assert fitted[0] > 0.9 and abs(float(fitted[1])) < 0.2  # along what reads as the shape and not as the eyes
    unheld = fit_direction(ChannelDecoder(), ChannelJudge(), latents, "shape", 1, start, [], 2.0, steps=80, lr=0.05)
    assert unheld[1] > 0.5  # nothing held: the green channel, which both heads read, is the shortest way


def test_a_fitted_direction_leaves_both_networks_as_they_were(judge_file):
    judge, model = sharp_judge(judge_file), LinearDecoder()
    latents, start = torch.randn(40, 8), torch.ones(8) / 8**0.5
    fit_direction(model, judge, latents, "shape", 1, start, ["eyes"], 2.0, steps=3)
    assert all(p.grad is None for p in judge.parameters())
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


def test_a_direction_is_fitted_from_the_same_draws_each_time(judge_file):
    judge, model = sharp_judge(judge_file), LinearDecoder()
    latents, start = torch.randn(200, 8), torch.ones(8) / 8**0.5  # more latents than a step draws
    once, again = (fit_direction(model, judge, latents, "shape", 0, start, ["eyes"], 2.0, steps=5) for _ in range(2))
    assert torch.equal(once, again)
    other = fit_direction(model, judge, latents, "shape", 0, start, ["eyes"], 2.0, steps=5, seed=1)
    assert not torch.equal(once, other)
