"""Faces on disk: the Cartoon Set format, image folders, the face cache and the built-in face generator.

Its submodules import on first use (``vae.data.X``); ``vae.data`` also offers the names of
``vae.data.folder`` (``from vae.data import …``, as before
the package existed).
"""

from .._lazy import on_use

__getattr__ = on_use(__name__, __path__, "folder")
