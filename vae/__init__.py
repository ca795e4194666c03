"""Face Explorer's core: a convolutional VAE for cartoon faces, its data, training and latent tools.

Plain PyTorch; nothing here imports Qt. Importing the package itself imports no submodule: the
dataset-preparation workers load only what they use (torch alone takes seconds to import).
"""

from importlib import import_module as _import_module
from pkgutil import iter_modules as _iter_modules

_EXPORTS = {"CheckpointError": "checkpoint", "load_model": "checkpoint", "ConvVAE": "model", "VAEConfig": "model"}

_SUBMODULES = {info.name for info in _iter_modules(__path__)}  # vae.latent etc., imported on first use

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(_import_module(f".{_EXPORTS[name]}", __name__), name)
    if name in _SUBMODULES:
        return _import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
