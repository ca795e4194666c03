"""What the explorer does with a model, without Qt: the session, morphs, arithmetic, directions, maps, exports.

Its submodules import on first use (``vae.explore.X``).
"""

from .._lazy import on_use

__getattr__ = on_use(__name__, __path__)
