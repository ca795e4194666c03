import pytest
import torch

from vae.model.network import ConvVAE, VAEConfig
from vae.model.norm_statistics import decoder_norms, recalibrate_decoder_norms


def _model():
    torch.manual_seed(0)
    model = ConvVAE(VAEConfig(latent_dim=4, base_channels=8)).eval()
    for i, norm in enumerate(decoder_norms(model)):  # statistics unlike any batch's, as training leaves them
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        norm.momentum = 0.05 + 0.01 * i
    return model


def _statistics(model):
    return [(norm.running_mean.clone(), norm.running_var.clone()) for norm in decoder_norms(model)]


def test_one_batch_gives_that_batchs_statistics_and_leaves_the_rest_as_it_was():
    model = _model()
    z = torch.randn(512, 4)
    with torch.no_grad():
        before = model.decode(z)
    parameters = {k: v.clone() for k, v in model.named_parameters()}
    encoder = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    momenta = [norm.momentum for norm in decoder_norms(model)]
    recalibrate_decoder_norms(model, [z.double()])  # latents of another dtype are converted
    with torch.no_grad():
        after = model.decode(z)
        model.decoder.train()
        in_training = model.decode(z)  # each norm on this batch's own statistics
        model.eval()
    assert not torch.allclose(before, in_training, atol=1e-2)
    assert torch.allclose(after, in_training, atol=2e-3)
    assert not any(module.training for module in model.modules())
    assert [norm.momentum for norm in decoder_norms(model)] == momenta
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in encoder.items())
    assert all(torch.equal(v, dict(model.named_parameters())[k]) for k, v in parameters.items())


def test_batches_are_averaged_by_their_size_not_by_the_last():
    model = _model()
    small, large = torch.randn(64, 4), torch.randn(192, 4) + 2.0
    recalibrate_decoder_norms(model, [small])
    mean_small = decoder_norms(model)[0].running_mean.clone()  # the first norm's input depends on z alone
    recalibrate_decoder_norms(model, [large])
    mean_large = decoder_norms(model)[0].running_mean.clone()
    recalibrate_decoder_norms(model, [small, large])
    assert torch.allclose(decoder_norms(model)[0].running_mean, (mean_small + 3 * mean_large) / 4, atol=1e-5)


def test_a_mixed_mode_model_gets_its_modes_back():
    model = _model()
    model.encoder.train()
    recalibrate_decoder_norms(model, [torch.randn(8, 4)])
    assert model.encoder.training and not model.decoder.training and not model.fc_mu.training


@pytest.mark.parametrize("batches", [[], [torch.randn(8, 4), torch.randn(8, 5)]])
def test_no_latents_or_a_failing_batch_leave_the_statistics(batches):
    model = _model()
    before = _statistics(model)
    with pytest.raises((ValueError, RuntimeError)):
        recalibrate_decoder_norms(model, batches)
    assert all(torch.equal(a, b) for pair, again in zip(before, _statistics(model)) for a, b in zip(pair, again))
    assert not any(module.training for module in model.modules())
