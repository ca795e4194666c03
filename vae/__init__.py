"""Face Explorer's core: a convolutional VAE for cartoon faces, its data, training and latent tools.

Plain PyTorch; nothing here imports Qt.
"""

from .checkpoint import CheckpointError, load_model
from .model import ConvVAE, VAEConfig

__all__ = ["CheckpointError", "ConvVAE", "VAEConfig", "load_model"]
