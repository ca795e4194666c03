"""Convolutional VAE: strided-conv encoder to μ and log σ², upsampling decoder with sigmoid output.

The decoder doubles the resolution with transposed convolutions, or (``upsample="resize"``) with a
nearest-neighbour resize followed by a 3×3 convolution, which cannot draw checkerboard patterns. With
``encoder_size`` below the image size, the encoder reads each face brought down to that size (a 128 px model that
encodes as a 64 px one does, so that it can start from that model's encoder whole).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

SUPPORTED_SIZES = (64, 128)
UPSAMPLING = ("transposed", "resize")
CONFIG_LIMITS = {
    "image_size": (64, 128),
    "latent_dim": (1, 1024),
    "base_channels": (1, 512),
    "max_channels": (1, 2048),
    "residual_blocks": (0, 32),
    "full_res_channels": (0, 512),
    "decoder_width": (1, 8),
    "encoder_width": (1, 8),
    "encoder_size": (0, 128),
    "decoder_min_channels": (0, 1024),
}


@dataclass(frozen=True)
class VAEConfig:
    """Architecture of a :class:`ConvVAE`. Stored in every checkpoint."""

    image_size: int = 64
    latent_dim: int = 32
    base_channels: int = 32
    max_channels: int = 256
    residual_blocks: int = 0
    full_res_channels: int = 0  # >0: the decoder adds a stage at full resolution before a 3×3 conv to RGB
    decoder_width: int = 1  # the decoder's stages have this many times the encoder's channels
    encoder_width: int = 1  # the encoder's stages have this many times their base channels
    upsample: str = "transposed"  # how the decoder doubles the resolution: "transposed" conv, or "resize" then conv
    encoder_size: int = 0  # >0: the encoder reads the faces brought down to this size (0: the image size)
    decoder_min_channels: int = 0  # >0: no decoder stage has fewer channels (widens the high-resolution stages)

    def __post_init__(self):
        for name, (low, high) in CONFIG_LIMITS.items():  # checked before any layer is built (files can hold anything)
            value = getattr(self, name, None)
            if type(value) is not int:
                raise ValueError(f"{name} must be a whole number, got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}, got {value}")
        if self.upsample not in UPSAMPLING:
            raise ValueError(f"upsample must be one of {UPSAMPLING}, got {self.upsample!r}")
        if self.image_size not in SUPPORTED_SIZES:
            raise ValueError(f"image_size must be one of {SUPPORTED_SIZES}, got {self.image_size}")
        if self.encoder_size and (self.encoder_size not in SUPPORTED_SIZES or self.encoder_size > self.image_size):
            raise ValueError(
                f"encoder_size must be 0 or one of {SUPPORTED_SIZES} up to image_size, got {self.encoder_size}"
            )
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {self.latent_dim}")
        if (
            min(self.base_channels, self.decoder_width, self.encoder_width) < 1
            or min(self.residual_blocks, self.full_res_channels) < 0
        ):
            raise ValueError(
                "base_channels and the widths must be positive, residual_blocks and full_res_channels non-negative"
            )

    @property
    def stages(self) -> int:
        """Number of ×2 resolution steps between 4×4 and the image size."""
        return int(math.log2(self.image_size // 4))

    @property
    def encoder_skips(self) -> int:
        """The first stages the encoder leaves out, reading the faces at ``encoder_size``."""
        return int(math.log2(self.image_size // (self.encoder_size or self.image_size)))

    @property
    def encoder_stages(self) -> int:
        """Number of ×2 resolution steps the encoder takes down to 4×4."""
        return self.stages - self.encoder_skips

    def channels(self, stage: int) -> int:
        """The base channel count at the resolution of encoder stage ``stage`` (0-based)."""
        return min(self.base_channels * 2**stage, self.max_channels)

    def encoder_channels(self, stage: int) -> int:
        """Channel count after encoder stage ``stage``."""
        return self.channels(stage) * self.encoder_width

    def decoder_channels(self, stage: int) -> int:
        """Channel count of the decoder at the resolution of encoder stage ``stage``."""
        return max(self.channels(stage) * self.decoder_width, self.decoder_min_channels)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "VAEConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        return cls(**data)


def brought_down(images: torch.Tensor, size: int) -> torch.Tensor:
    """``images`` (N, 3, S, S) resized to ``size`` unless already that size: antialiased bicubic, clamped to [0, 1],
    which comes close to the Lanczos resize of the data caches."""
    if images.shape[-1] == size:
        return images
    return F.interpolate(images.float(), size=(size, size), mode="bicubic", antialias=True).clamp(0.0, 1.0)


ENCODER_PREFIXES = ("encoder.", "fc_mu.", "fc_logvar.")


def _encoder_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights (batch-norm statistics too) that turn an image into a latent."""
    return {k: v for k, v in model.state_dict().items() if k.startswith(ENCODER_PREFIXES)}


def shares_latent_space(a: nn.Module, b: nn.Module) -> bool:
    """Whether two models encode with one encoder, weight for weight (its batch-norm statistics too): then a latent
    means the same face in both, as for a 128 px model grown with ``encoder_size=64`` and trained decoder-only."""
    mine, theirs = _encoder_state(a), _encoder_state(b)
    return (
        bool(mine)
        and mine.keys() == theirs.keys()
        and all(mine[k].shape == theirs[k].shape and torch.equal(mine[k], theirs[k]) for k in mine)
    )


def latent_space_id(model: nn.Module) -> str:
    """A fingerprint of the encoder (:func:`shares_latent_space`'s weights, in whatever precision they are stored):
    models with the same one share a latent space, so that a latent saved with one means the same face in the other."""
    digest = hashlib.sha1()
    for name, value in sorted(_encoder_state(model).items()):
        digest.update(f"{name}:{tuple(value.shape)}".encode())
        digest.update(value.detach().cpu().double().contiguous().numpy().tobytes())
    return digest.hexdigest()


class ResidualBlock(nn.Module):
    """Two 3×3 convolutions with a skip connection; keeps shape."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(x + self.body(x))


_DOUBLING = (nn.Upsample, nn.ConvTranspose2d)  # what a decoder stage doubles the resolution with


def _down(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _doubling(cin: int, cout: int, upsample: str, bias: bool = False) -> nn.Module:
    """A layer that doubles the resolution: a 4×4 transposed conv, or a nearest resize then a 3×3 conv."""
    if upsample == "resize":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1, bias=bias))
    return nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias)


def _up(cin: int, cout: int, upsample: str) -> nn.Sequential:
    return nn.Sequential(_doubling(cin, cout, upsample), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ConvVAE(nn.Module):
    """A convolutional variational autoencoder for RGB images in [0, 1]."""

    def __init__(self, config: VAEConfig | None = None):
        super().__init__()
        self.config = config or VAEConfig()
        cfg = self.config
        n = cfg.stages
        top = cfg.encoder_channels(n - 1)

        encoder: list[nn.Module] = []
        cin = 3
        for stage in range(cfg.encoder_skips, n):
            cout = cfg.encoder_channels(stage)
            encoder.append(_down(cin, cout))
            cin = cout
        encoder += [ResidualBlock(top) for _ in range(cfg.residual_blocks)]
        self.encoder = nn.Sequential(*encoder, nn.Flatten())
        self.fc_mu = nn.Linear(top * 16, cfg.latent_dim)
        self.fc_logvar = nn.Linear(top * 16, cfg.latent_dim)

        dec_top = cfg.decoder_channels(n - 1)
        self.fc_decode = nn.Sequential(nn.Linear(cfg.latent_dim, dec_top * 16), nn.ReLU(inplace=True))
        decoder: list[nn.Module] = [nn.Unflatten(1, (dec_top, 4, 4))]
        decoder += [ResidualBlock(dec_top) for _ in range(cfg.residual_blocks)]
        for stage in reversed(range(1, n)):
            decoder.append(_up(cfg.decoder_channels(stage), cfg.decoder_channels(stage - 1), cfg.upsample))
        if cfg.full_res_channels:
            decoder += [
                _up(cfg.decoder_channels(0), cfg.full_res_channels, cfg.upsample),
                nn.Conv2d(cfg.full_res_channels, 3, 3, padding=1),
            ]
        else:
            decoder.append(_doubling(cfg.decoder_channels(0), 3, cfg.upsample, bias=True))
        decoder.append(nn.Sigmoid())
        self.decoder = nn.Sequential(*decoder)

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, 3, S, S) in [0, 1] → (μ, log σ²), each (N, latent_dim)."""
        if self.config.encoder_size:
            x = brought_down(x, self.config.encoder_size)
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def mean_encoder_parameters(self) -> list[nn.Parameter]:
        """The weights that turn an image into μ: the encoder's convolutions and the μ head (not log σ²'s)."""
        return [*self.encoder.parameters(), *self.fc_mu.parameters()]

    def decoder_parameters(self) -> list[nn.Parameter]:
        """The weights that turn a latent into a face: the first fully connected layer and the decoder."""
        return [*self.fc_decode.parameters(), *self.decoder.parameters()]

    def decoder_tail_parameters(self, stages: int) -> list[nn.Parameter]:
        """The weights of the decoder's last ``stages`` upsampling stages, the output layer with the last."""
        layers = [m for m in self.decoder if next(m.parameters(), None) is not None]
        doubling = [i for i, m in enumerate(layers) if any(isinstance(x, _DOUBLING) for x in m.modules())]
        if not 1 <= stages <= len(doubling):
            raise ValueError(f"invalid decoder tail: {stages} stages of a decoder with {len(doubling)}")
        return [p for m in layers[doubling[-stages] :] for p in m.parameters()]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (N, latent_dim) → images (N, 3, S, S) in [0, 1]."""
        return self.decoder(self.fc_decode(z))

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = μ + ε·exp(½·log σ²), ε ~ N(0, I)."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (reconstruction, μ, log σ²); samples z in training mode, uses μ in eval mode."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``n`` draws from the prior N(0, temperature²·I)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator) * temperature
        return self.decode(z.to(device))
