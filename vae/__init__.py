"""Face Explorer's core: a convolutional VAE for cartoon faces, its data, training and latent tools.

Plain PyTorch; nothing here imports Qt. One package a layer, each importing only those above it:

- ``vae.common``: files written atomically, locks, events, background-work control, parallel maps;
- ``vae.data``: the Cartoon Set format, image folders, the face cache, the built-in face generator;
- ``vae.model``: the network, its loss, checkpoints and latent-space maths;
- ``vae.explore``: what the app shows (the session, morphs, arithmetic, directions, maps, exports);
- ``vae.train``: training runs, their settings and folders;
- ``vae.measure``: held-out figures, attribute fidelity and packaging the default model.

Importing the package imports no submodule: the dataset-preparation workers load only what they
use (torch alone takes seconds to import). The modules' earlier flat names (``vae.cache``,
``vae.latent``, ``python -m vae.export`` …) still import the same module objects.
"""

from importlib import import_module as _import_module

from ._moved import MOVED, install

install(__name__)

_EXPORTS = {
    "CheckpointError": "model.checkpoint",
    "load_model": "model.checkpoint",
    "ConvVAE": "model.network",
    "VAEConfig": "model.network",
}
_PACKAGES = ("common", "data", "model", "explore", "train", "measure")

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(_import_module(f".{_EXPORTS[name]}", __name__), name)
    if name in _PACKAGES or name in MOVED:
        return _import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_PACKAGES, *MOVED})
