"""The modules' flat names from before ``vae`` had layer packages: ``vae.cache`` is ``vae.data.cache``.

An import of an old name gives the module object of the new one (not a copy), and ``python -m`` of an
old name runs the new module.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

MOVED = {
    "atomic": "common.atomic",
    "cli_args": "common.cli_args",
    "control": "common.control",
    "eta": "common.eta",
    "event": "common.event",
    "interrupts": "common.interrupts",
    "lockfile": "common.lockfile",
    "parallel": "common.parallel",
    "attribute_names": "data.attribute_names",
    "cache": "data.cache",
    "cartoonset": "data.cartoonset",
    "collection": "data.collection",
    "synth": "data.synth",
    "adversarial": "model.adversarial",
    "checkpoint": "model.checkpoint",
    "grow": "model.grow",
    "latent": "model.latent",
    "loss": "model.loss",
    "metrics": "model.metrics",
    "arithmetic_model": "explore.arithmetic_model",
    "axis_names": "explore.axis_names",
    "default_choice": "explore.default_choice",
    "directions": "explore.directions",
    "export": "explore.export",
    "latent_io": "explore.latent_io",
    "latent_map": "explore.latent_map",
    "morph_model": "explore.morph_model",
    "projection": "explore.projection",
    "session": "explore.session",
    "slots": "explore.slots",
    "traversal": "explore.traversal",
    "upscale": "explore.upscale",
    "run_folder": "train.run_folder",
    "run_history": "train.run_history",
    "train_config": "train.config",
    "training_run": "train.training_run",
    "attribute_classifier": "measure.attribute_classifier",
    "direction_effects": "measure.direction_effects",
    "evaluate": "measure.evaluate",
    "fidelity": "measure.fidelity",
    "package_default": "measure.package_default",
    "quality": "measure.quality",
}


class _OldNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, package: str):
        self.prefix = package + "."
        self._own_specs = {}

    def _new_name(self, fullname: str) -> str | None:
        old = fullname[len(self.prefix) :] if fullname.startswith(self.prefix) else None
        return self.prefix + MOVED[old] if old in MOVED else None

    def find_spec(self, fullname, path=None, target=None):
        if self._new_name(fullname) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(self._new_name(spec.name))
        self._own_specs[spec.name] = module.__spec__  # the import system now sets the old name's spec on it
        return module

    def exec_module(self, module) -> None:
        """Nothing to run (the module was imported under its new name): give it back its own spec."""
        module.__spec__ = self._own_specs.pop(module.__spec__.name)

    def get_code(self, fullname):
        """For ``python -m vae.OLD``: code that runs the new module as ``__main__``."""
        return compile(f"import runpy; runpy.run_module({self._new_name(fullname)!r}, run_name='__main__')", "", "exec")


def install(package: str) -> None:
    """Let ``package``'s old flat module names import (and run) their new modules."""
    if not any(isinstance(f, _OldNames) for f in sys.meta_path):
        sys.meta_path.append(_OldNames(package))
