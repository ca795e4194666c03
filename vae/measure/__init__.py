"""Measuring what ships: held-out figures, sharpness, attribute fidelity, direction effects; packaging the default.

Its submodules import on first use (``vae.measure.X``).
"""

from .._lazy import on_use

__getattr__ = on_use(__name__, __path__)
