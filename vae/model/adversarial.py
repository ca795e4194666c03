"""A patch-adversarial term for the decoder: a small PatchGAN discriminator, hinge losses and the adaptive weight.

The recipe of VQGAN and Stable Diffusion's KL autoencoder: the discriminator scores overlapping patches of
real and reconstructed faces; once switched on, the decoder also minimises ``−D(reconstruction)``, weighted
so that its gradient at the decoder's output layer is ``weight`` times the reconstruction term's.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class PatchDiscriminator(nn.Module):
    """Three stride-2 convolutions and a 3×3 head: one real/fake logit per 8×8 patch cell (for 64×64 inputs)."""

    def __init__(self, channels: int = 32):
        super().__init__()
        layers, cin = [], 3
        for i, cout in enumerate((channels, channels * 2, channels * 4)):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.GroupNorm(8, cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        layers.append(nn.Conv2d(cin, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2.0 - 1.0)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activations after each of the three stride-2 convolutions (what feature matching compares)."""
        found, h = [], x * 2.0 - 1.0
        for layer in self.net:
            h = layer(h)
            if isinstance(layer, nn.LeakyReLU):
                found.append(h)
        return found


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge loss: real patches pushed above +1, reconstructed ones below −1."""
    return 0.5 * (F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean())


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """What the decoder minimises: the negated mean patch score of its reconstructions."""
    return -fake_logits.mean()


def feature_matching_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """pix2pixHD's feature matching: the mean absolute difference of each layer's activations, averaged over layers.

    Unlike :func:`generator_loss` it is paired: each reconstruction is pulled towards the edges of its own face.
    """
    return torch.stack([(r.detach() - f).abs().mean() for r, f in zip(real, fake, strict=True)]).mean()


def output_layer(model: nn.Module) -> torch.Tensor:
    """The weight of the decoder's last convolution, where the two gradients are compared."""
    convs = [m for m in model.decoder.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    return convs[-1].weight


def adaptive_weight(fit: torch.Tensor, adversarial: torch.Tensor, layer: torch.Tensor) -> torch.Tensor:
    """‖∇fit‖ / ‖∇adversarial‖ at ``layer``, clamped to [0, 10⁴] and detached (VQGAN's balancing)."""
    fit_grad = torch.autograd.grad(fit, layer, retain_graph=True)[0]
    adv_grad = torch.autograd.grad(adversarial, layer, retain_graph=True)[0]
    return (fit_grad.norm() / (adv_grad.norm() + 1e-4)).clamp(0.0, 1e4).detach()
