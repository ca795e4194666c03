import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "shared" / "cartoonset_sample"


@pytest.fixture
def tiny_model():
    """A small, seeded 64×64 model (untrained) for fast tests."""
    from vae.model import ConvVAE, VAEConfig

    torch.manual_seed(0)
    return ConvVAE(VAEConfig(image_size=64, latent_dim=8, base_channels=8)).eval()


@pytest.fixture
def sample_dir():
    if not SAMPLE_DIR.is_dir():
        pytest.skip("shared/cartoonset_sample is not beside the checkout")
    return SAMPLE_DIR
