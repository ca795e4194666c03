"""Packages whose submodules import on first use, as attributes (``vae.model.latent``)."""

from __future__ import annotations

from importlib import import_module
from pkgutil import iter_modules


def on_use(package: str, path, names_of: str | None = None):
    """A module ``__getattr__`` for ``package``: its submodules are imported when first reached, and other names
    come from its submodule ``names_of`` (the module the package's name stood for before it was a package)."""
    submodules = {info.name for info in iter_modules(path)}

    def __getattr__(name: str):
        if name in submodules:
            return import_module(f"{package}.{name}")
        if names_of and not name.startswith("__"):
            return getattr(import_module(f"{package}.{names_of}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
