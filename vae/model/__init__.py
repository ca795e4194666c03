"""The VAE: its network, loss, checkpoints and the maths of its latent space.

Its submodules import on first use (``vae.model.X``); ``vae.model`` also offers the names of
``vae.model.network`` (``from vae.model import …``, as before
the package existed).
"""

from .._lazy import on_use

__getattr__ = on_use(__name__, __path__, "network")
