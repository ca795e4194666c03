"""The layout of ``vae``: one package a layer, no import upward, and the old flat module names still working."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import vae
from vae._moved import MOVED

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["common", "data", "model", "explore", "train", "measure"]  # each may import only those before it


def imported_layers(path: Path) -> set[str]:
    """The ``vae`` layers a module imports (relative or absolute, at any depth of the file); the root's own helpers
    (``vae._lazy``) are no layer."""
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            if node.level == 2:
                layers.add(parts[0])
            elif node.level == 0 and parts[0] == "vae" and len(parts) > 1:
                layers.add(parts[1])
    return layers & set(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_no_layer_imports_a_layer_above_it(layer):
    allowed = set(LAYERS[: LAYERS.index(layer)])
    for path in sorted((ROOT / "vae" / layer).glob("*.py")):
        upward = imported_layers(path) - allowed - {layer}
        assert not upward, f"{path.relative_to(ROOT)} imports {sorted(upward)}, a layer above {layer}"


def test_no_module_of_vae_imports_qt():
    for path in sorted((ROOT / "vae").rglob("*.py")):
        assert "PySide6" not in path.read_text(), path


def test_every_old_flat_name_is_the_new_module_itself():
    for old, new in MOVED.items():
        assert importlib.import_module(f"vae.{old}") is importlib.import_module(f"vae.{new}"), old
        assert importlib.import_module(f"vae.{new}").__spec__.name == f"vae.{new}"
    from vae.cache import open_folder
    from vae.data import DataError
    from vae.model import ConvVAE
    from vae.train import Trainer

    assert open_folder.__module__ == "vae.data.cache" and DataError.__module__ == "vae.data.folder"
    assert ConvVAE.__module__ == "vae.model.network" and Trainer.__module__ == "vae.train.trainer"


def test_submodules_are_reached_as_attributes_of_the_package():
    code = "import vae; print(vae.latent.lerp.__module__, vae.explore.session.__name__, vae.ConvVAE.__name__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.stdout.split() == ["vae.model.latent", "vae.explore.session", "ConvVAE"], proc.stderr
    with pytest.raises(AttributeError):
        vae.no_such_module  # noqa: B018


def test_an_old_command_line_name_runs_the_new_module():
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-m", "vae.evaluate", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0 and "python -m vae.measure.evaluate" in proc.stdout, proc.stderr


def test_the_shipped_models_are_found_where_the_repository_keeps_them():
    from vae.explore.default_choice import DEFAULT_64, RESOURCES

    assert RESOURCES == ROOT / "resources" and Path(DEFAULT_64).is_file()


def test_the_two_shipped_defaults_share_one_latent_space():
    from vae.explore.default_choice import DEFAULT_64, DEFAULT_128
    from vae.model import checkpoint
    from vae.model.network import shares_latent_space

    small, large = checkpoint.load(DEFAULT_64).model, checkpoint.load(DEFAULT_128).model
    assert large.image_size == 128 and large.config.encoder_size == 64 and shares_latent_space(small, large)


def test_the_shipped_refinement_map_loads_at_both_sizes_and_weighs_the_eyes_most():
    from vae.explore.session import refine_weights_for

    for size in (64, 128):
        weights = refine_weights_for(size)
        assert weights is not None and weights.shape == (1, 1, size, size)
        y, x = divmod(int(weights.flatten().argmax()), size)
        assert 0.4 < y / size < 0.65 and 0.25 < x / size < 0.75  # an eye: the face's middle band, not its outline
