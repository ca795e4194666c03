import pytest
import torch
from torch import nn

from vae.model.inference import folded_for_inference
from vae.model.network import ConvVAE, VAEConfig


def _with_running_statistics(model: ConvVAE) -> ConvVAE:
    """Batch norms with statistics far from their initial (0, 1), so folding them changes the weights."""
    gen = torch.Generator().manual_seed(0)
    for norm in model.modules():
        if isinstance(norm, nn.BatchNorm2d):
            n = norm.num_features
            norm.running_mean.copy_(torch.randn(n, generator=gen))
            norm.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            norm.weight.data.copy_(torch.randn(n, generator=gen))
            norm.bias.data.copy_(torch.randn(n, generator=gen))
    return model.eval()


@pytest.mark.parametrize(
    "config",
    [
        VAEConfig(base_channels=8, max_channels=32),
        VAEConfig(base_channels=8, max_channels=32, residual_blocks=1, full_res_channels=8, decoder_width=2),
        VAEConfig(base_channels=8, max_channels=32, upsample="resize"),
    ],
    ids=["default", "residual-full-res-wide", "resize"],
)
def test_the_folded_copy_draws_the_same_faces_without_batch_norms(config):
    torch.manual_seed(0)
    model = _with_running_statistics(ConvVAE(config))
    folded = folded_for_inference(model)
    z = torch.randn(4, config.latent_dim)
    x = torch.rand(2, 3, config.image_size, config.image_size)
    with torch.no_grad():
        assert torch.allclose(folded.decode(z), model.decode(z), atol=1e-5)
        assert torch.allclose(folded.encode(x)[0], model.encode(x)[0], atol=1e-4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) > 0  # the original is left as it was
    assert all(p.requires_grad for p in model.parameters())
