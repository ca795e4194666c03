"""Plumbing every layer uses: atomic writes, lock files, events, background-work control, signals, parallel maps.

Its submodules import on first use (``vae.common.X``).
"""

from .._lazy import on_use

__getattr__ = on_use(__name__, __path__)
