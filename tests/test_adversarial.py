from dataclasses import replace

import pytest
import torch

from tests.helpers import cached_faces, write_good_faces
from vae.data.collection import open_datasets
from vae.model import checkpoint
from vae.model.adversarial import (
    PatchDiscriminator,
    adaptive_weight,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    output_layer,
)
from vae.model.latent import APP_TEMPERATURE, sample_fitted
from vae.model.loss import vae_loss
from vae.model.network import ConvVAE, VAEConfig
from vae.train import trainer as trainer_module
from vae.train.config import TrainConfig
from vae.train.trainer import Trainer, running_stats_kept


def test_the_discriminator_scores_8x8_patches_of_a_64px_face():
    logits = PatchDiscriminator()(torch.rand(2, 3, 64, 64))
    assert logits.shape == (2, 1, 8, 8)


def test_hinge_losses_are_zero_only_past_the_margins():
    assert discriminator_loss(torch.full((4,), 2.0), torch.full((4,), -2.0)).item() == 0.0
    assert discriminator_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(1.0)
    assert generator_loss(torch.tensor([1.0, 3.0])).item() == -2.0


def test_the_adaptive_weight_balances_the_two_gradients_at_the_output_layer():
    torch.manual_seed(0)
    model = ConvVAE(VAEConfig(latent_dim=8, base_channels=8))
    x = torch.rand(4, 3, 64, 64)
    recon, mu, logvar = model(x)
    fit = vae_loss(recon, x, mu, logvar).total
    fooled = generator_loss(PatchDiscriminator(8)(recon))
    layer = output_layer(model)
    scale = adaptive_weight(fit, fooled, layer)
    fit_norm = torch.autograd.grad(fit, layer, retain_graph=True)[0].norm()
    adv_norm = torch.autograd.grad(scale * fooled, layer, retain_graph=True)[0].norm()
    assert adv_norm.item() == pytest.approx(fit_norm.item(), rel=1e-3)


def test_the_ssim_term_adds_to_the_loss_but_not_to_the_reported_reconstruction():
    torch.manual_seed(0)
    x, recon = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    mu, logvar = torch.zeros(2, 4), torch.zeros(2, 4)
    plain = vae_loss(recon, x, mu, logvar)
    with_ssim = vae_loss(recon, x, mu, logvar, ssim_weight=0.1)
    assert plain.ssim is None and with_ssim.recon.item() == pytest.approx(plain.recon.item())
    expected = plain.total + 0.1 * 3 * 64 * 64 * (1 - with_ssim.ssim)
    assert with_ssim.total.item() == pytest.approx(expected.item(), rel=1e-5)
    assert vae_loss(x, x, mu, logvar, ssim_weight=0.1).total.item() == pytest.approx(0.0, abs=1e-3)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return cached_faces(tmp_path_factory, 24)


def adversarial_config(epochs):
    return TrainConfig(
        model=VAEConfig(latent_dim=4, base_channels=8),
        epochs=epochs,
        batch_size=8,
        adversarial_weight=0.5,
        adversarial_start=0.5,
        ssim_weight=0.1,
    )


def test_an_adversarial_run_trains_and_resumes_with_its_discriminator(faces, tmp_path):
    result = Trainer(adversarial_config(1), faces, tmp_path / "run").run()
    state = checkpoint.load(result.last_path).training
    assert set(state["discriminator"]) == set(PatchDiscriminator().state_dict())
    trainer = Trainer(adversarial_config(2), faces, tmp_path / "run")
    trainer.run(resume=True)
    steps = [s["step"].item() for s in state["disc_optimizer"]["state"].values()]
    resumed = checkpoint.load(trainer.last_path).training
    assert len(checkpoint.load(trainer.last_path).history) == 2
    again = [s["step"].item() for s in resumed["disc_optimizer"]["state"].values()]
    assert steps[0] == trainer.steps_per_epoch and again[0] == 2 * trainer.steps_per_epoch  # went on, not anew


def _judging_random_faces(**settings) -> TrainConfig:
    """A one-epoch run of a tiny model whose adversarial term, on from the first step, judges random faces too."""
    return TrainConfig(
        model=VAEConfig(latent_dim=4, base_channels=8),
        epochs=1,
        batch_size=8,
        adversarial_weight=0.5,
        adversarial_start=0.0,
        **settings,
    )


def _learns_from(trainer: Trainer, faces, random_faces: torch.Tensor) -> bool:
    """Whether the decoder's adversarial term on a batch of reconstructions changes when it takes in ``random_faces``
    (its gradient at the output layer, where the terms are balanced)."""
    x = faces.batch(range(8))
    recon, mu, logvar = trainer.model(x)
    fit = vae_loss(recon, x, mu, logvar).total

    def gradient(random):
        term = trainer._adversarial_term(recon, fit, trainer.output_weight, random)
        return torch.autograd.grad(term, trainer.output_weight, retain_graph=True)[0]

    return not torch.allclose(gradient(random_faces), gradient(None))


def test_random_faces_are_judged_too_when_asked(faces, tmp_path):
    trainer = Trainer(_judging_random_faces(adversarial_random=0.8), faces, tmp_path / "run")
    judged = []
    step = trainer._discriminator_step

    def counted_step(real, fake, lr):
        judged.append(len(fake) / len(real))
        step(real, fake, lr)

    trainer._discriminator_step = counted_step
    trainer.run()
    assert judged and set(judged) == {2.0}  # as many random faces as reconstructions

    random_faces = trainer._random_faces(8, with_grad=True)
    assert random_faces.requires_grad  # the decoder learns from them
    assert _learns_from(trainer, faces, random_faces)
    with pytest.raises(ValueError, match="adversarial_random"):
        TrainConfig(adversarial_weight=1.0, adversarial_random=-0.1)
    with pytest.raises(ValueError, match="adversarial_random needs adversarial_weight"):
        TrainConfig(adversarial_random=0.8)
    with pytest.raises(ValueError, match="adversarial_random trains the decoder"):
        TrainConfig(adversarial_weight=1.0, adversarial_random=0.8, encoder_only=True, init_from="x.pt")


def test_random_faces_leave_the_batch_norm_statistics_of_real_faces_alone():
    model = ConvVAE(VAEConfig(latent_dim=4, base_channels=8)).train()
    stats = {
        name: value.clone() for name, value in model.state_dict().items() if "running" in name or "batches" in name
    }
    with running_stats_kept(model):
        model.decode(torch.randn(8, 4) * 3)
    assert all(torch.equal(value, model.state_dict()[name]) for name, value in stats.items())
    model.decode(torch.randn(8, 4) * 3)  # outside it, a training-mode batch moves them as usual
    assert not all(torch.equal(value, model.state_dict()[name]) for name, value in stats.items())
    assert {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)} == {0.1}


def test_random_faces_can_be_drawn_as_the_app_draws_them(faces, tmp_path):
    config = _judging_random_faces(adversarial_random=0.5, random_norm="running", precision="fp32")
    trainer = Trainer(config, faces, tmp_path / "run")
    trainer.run()  # training backpropagates through the draw
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    trainer.model.train()
    stats = {k: v.clone() for k, v in trainer.model.state_dict().items() if "running" in k or "batches" in k}
    torch.manual_seed(3)
    drawn = trainer._random_faces(8, with_grad=True)
    assert drawn.requires_grad and trainer.model.training
    assert all(m.training for m in trainer.model.modules())  # back in training mode after the draw
    assert all(torch.equal(v, trainer.model.state_dict()[k]) for k, v in stats.items())
    torch.manual_seed(3)
    z = torch.randn(8, 4) * APP_TEMPERATURE
    with torch.no_grad():
        in_the_app = trainer.model.eval().decode(z)
        with running_stats_kept(trainer.model.train()):
            by_their_batch = trainer.model.decode(z)
    assert torch.allclose(drawn, in_the_app, atol=1e-6)
    assert _learns_from(trainer, faces, drawn)  # the decoder learns from the faces drawn so
    assert not torch.allclose(drawn, by_their_batch, atol=1e-2)
    with pytest.raises(ValueError, match="random_norm"):
        TrainConfig(random_norm="group")
    with pytest.raises(ValueError, match="random_norm"):
        TrainConfig(random_norm="running")  # without adversarial_random there are no random faces to normalise


def test_random_faces_can_come_from_the_starting_models_fitted_prior(faces, tmp_path):
    started = Trainer(_judging_random_faces(adversarial_random=0.5), faces, tmp_path / "first").run().best_path
    prior = checkpoint.load(started).latent_prior
    config = _judging_random_faces(adversarial_random=0.5, random_from="fitted", init_from=str(started))
    trainer = Trainer(config, faces, tmp_path / "run")
    trainer.run()
    assert all(torch.equal(trainer.random_prior[k], prior[k]) for k in prior)
    torch.manual_seed(5)
    drawn = trainer._random_latents(6)
    torch.manual_seed(5)
    assert torch.equal(drawn, sample_fitted(6, prior, APP_TEMPERATURE))
    assert _learns_from(trainer, faces, trainer._random_faces(8, with_grad=True))
    packaged = tmp_path / "no_prior.pt"
    checkpoint.save(packaged, checkpoint.load(started).model)
    with pytest.raises(ValueError, match="holds no fitted prior"):
        Trainer(replace(config, init_from=str(packaged)), faces, tmp_path / "refused").run()
    with pytest.raises(ValueError, match="random_from needs adversarial_random and init_from"):
        _judging_random_faces(adversarial_random=0.5, random_from="fitted")
    with pytest.raises(ValueError, match="random_from"):
        _judging_random_faces(adversarial_random=0.5, random_from="uniform", init_from=str(started))


def test_a_skipped_folder_trains_the_reconstruction_but_the_discriminator_never_sees_it(tmp_path):
    soft, crisp = tmp_path / "soft", tmp_path / "crisp"
    write_good_faces(soft, 12, seed=1, size=64)
    write_good_faces(crisp, 12, seed=2, size=64)
    both = open_datasets([soft, crisp], 64, workers=1)
    config = replace(_judging_random_faces(), adversarial_skip=["soft"], holdout=2)
    trainer = Trainer(config, both, tmp_path / "run")
    seen, judged, fitted = [], [], []
    step, term, loss = trainer._discriminator_step, trainer._adversarial_term, trainer_module.vae_loss

    def counted_step(real, fake, lr):
        seen.append(real.clone())
        step(real, fake, lr)

    def counted_term(recon, *args):
        judged.append(len(recon))
        return term(recon, *args)

    def counted_loss(recon, x, *args):
        fitted.append(len(x))
        return loss(recon, x, *args)

    trainer._discriminator_step, trainer._adversarial_term = counted_step, counted_term
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer_module, "vae_loss", counted_loss)
        trainer.run()
    crisp_train = [i for i in trainer.train_idx if i >= 12]
    assert sum(fitted) == len(trainer.train_idx) == 20  # both folders train the reconstruction
    assert sum(judged) == sum(len(real) for real in seen) == len(crisp_train) == 10
    crisp_faces = both.batch(crisp_train)
    assert all(any(torch.equal(face, other) for other in crisp_faces) for face in torch.cat(seen))

    with pytest.raises(ValueError, match="adversarial_skip needs adversarial_weight"):
        TrainConfig(adversarial_skip=["soft"])
    with pytest.raises(ValueError, match="not one of the training folders"):
        Trainer(replace(config, adversarial_skip=["elsewhere"]), both, tmp_path / "other").run()
    with pytest.raises(ValueError, match="every training folder"):
        Trainer(replace(config, adversarial_skip=["soft", "crisp"]), both, tmp_path / "none").run()


def test_reconstructions_can_be_left_out_of_the_decoders_adversarial_term(faces, tmp_path):
    trainer = Trainer(_judging_random_faces(adversarial_random=1.0, adversarial_recon=0.0), faces, tmp_path / "run")
    judged = []
    step = trainer._discriminator_step
    trainer._discriminator_step = lambda real, fake, lr: judged.append(len(fake) / len(real)) or step(real, fake, lr)
    trainer.run()
    assert judged and set(judged) == {2.0}  # the discriminator still learns from reconstructions and random faces
    x = faces.batch(range(8))
    recon, mu, logvar = trainer.model(x)
    fit = vae_loss(recon, x, mu, logvar).total
    random_faces = trainer._random_faces(8, with_grad=True)

    def term(recon_weight, reconstructions):
        trainer.config = replace(trainer.config, adversarial_recon=recon_weight)
        return trainer._adversarial_term(reconstructions, fit, trainer.output_weight, random_faces)

    assert torch.allclose(term(0.0, recon), term(0.0, recon[:0]))  # the reconstructions take no part
    assert not torch.allclose(term(1.0, recon), term(1.0, recon[:0]))  # with the default weight they do
    for alone in ({"adversarial_weight": 1.0}, {"adversarial_random": 1.0}):  # each without the other
        with pytest.raises(ValueError, match="adversarial_recon needs adversarial_weight and adversarial_random"):
            TrainConfig(adversarial_recon=0.0, **alone)
    with pytest.raises(ValueError, match="adversarial_recon"):
        TrainConfig(adversarial_weight=1.0, adversarial_random=1.0, adversarial_recon=-1.0)


def test_feature_matching_pulls_each_reconstruction_towards_its_own_face_only():
    torch.manual_seed(0)
    disc = PatchDiscriminator(8)
    x = torch.rand(2, 3, 64, 64)
    assert len(disc.features(x)) == 3
    assert feature_matching_loss(disc.features(x), disc.features(x)).item() == 0.0
    recon = torch.rand(2, 3, 64, 64, requires_grad=True)
    real = [f.detach().requires_grad_() for f in disc.features(x)]
    loss = feature_matching_loss(real, disc.features(recon))
    assert loss.item() > 0
    loss.backward()
    assert recon.grad.abs().sum() > 0 and all(f.grad is None for f in real)  # the real face's features stay fixed
    swapped = feature_matching_loss(disc.features(x), disc.features(x.flip(0)))
    assert swapped.item() > 0  # paired: another real face is not a match


def test_a_run_with_feature_matching_takes_the_term_balanced_like_the_adversarial_one(faces, tmp_path):
    trainer = Trainer(_judging_random_faces(feature_matching=1.0), faces, tmp_path / "run")
    taken = []
    term = trainer._feature_matching_term
    trainer._feature_matching_term = lambda recon, x, *args: taken.append(len(recon)) or term(recon, x, *args)
    trainer.run()
    assert taken and sum(taken) == len(trainer.train_idx)
    x = faces.batch(range(8))
    recon, mu, logvar = trainer.model(x)
    fit = vae_loss(recon, x, mu, logvar).total
    matched = trainer._feature_matching_term(recon, x, fit, trainer.output_weight)
    assert matched.item() > 0
    fit_norm = torch.autograd.grad(fit, trainer.output_weight, retain_graph=True)[0].norm()
    term_norm = torch.autograd.grad(matched, trainer.output_weight)[0].norm()
    assert term_norm.item() == pytest.approx(fit_norm.item(), rel=1e-3)
    with pytest.raises(ValueError, match="feature_matching needs adversarial_weight"):
        TrainConfig(feature_matching=1.0)
    with pytest.raises(ValueError, match="invalid feature_matching"):
        TrainConfig(adversarial_weight=1.0, feature_matching=-1.0)
