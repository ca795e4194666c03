"""Training: a run's settings, its folder and history, the trainer, and the run model the CLI and the Train tab drive.

Its submodules import on first use (``vae.train.X``); ``vae.train`` also offers the names of
``vae.train.trainer`` (``from vae.train import …``, as before
the package existed).
"""

from .._lazy import on_use

__getattr__ = on_use(__name__, __path__, "trainer")
