"""Traversals (vae.explore.traversal, ``python -m vae.explore.export traversal``) and slider names, without Qt."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vae.common.control import Cancelled, Control
from vae.explore import export, traversal
from vae.explore.axis_names import AXIS_NAME_MIN_COSINE, axis_matches, name_axes
from vae.model import checkpoint
from vae.model.latent import traversal_grid

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ckpt_path(tmp_path, tiny_model):
    """8 dimensions, z6 and z7 unused; z3 is the glasses axis."""
    kl = torch.tensor([0.5, 2.0, 1.0, 3.0, 0.2, 1.5, 0.0, 0.001])
    glasses = torch.zeros(8)
    glasses[3] = 1.0
    path = tmp_path / "model.pt"
    checkpoint.save(path, tiny_model, latent_kl=kl, directions={"glasses": glasses})
    return path


def unit(*values):
    v = torch.tensor(values, dtype=torch.float32)
    return v / v.norm()


def test_rows_are_the_active_dimensions_most_used_first():
    kl = torch.tensor([0.5, 2.0, 1.0, 3.0, 0.2, 1.5, 0.0, 0.001])
    assert traversal.traversal_dims(kl, 8) == [3, 1, 5, 2, 0, 4]
    assert traversal.traversal_dims(None, 4) == [0, 1, 2, 3]
    assert traversal.traversal_dims(torch.zeros(3), 3) == [0, 1, 2]  # nothing in use: still rows to look at


def test_the_header_never_says_minus_zero():
    assert [traversal.signed(v) for v in (-0.0, -1e-9, 0.04, -0.43, 1.5)] == ["+0.0", "+0.0", "+0.0", "-0.4", "+1.5"]
    assert "-0.0" not in [traversal.signed(float(v)) for v in traversal.traversal_values(15)]


def test_values_span_the_sliders_range():
    assert traversal.traversal_values(7).tolist() == pytest.approx([-3, -2, -1, 0, 1, 2, 3])
    with pytest.raises(ValueError, match="steps"):
        traversal.traversal_values(1)


def test_render_decodes_every_cell_and_labels_the_rows(ckpt_path):
    ckpt = checkpoint.load(ckpt_path)
    z = torch.linspace(-1, 1, 8)
    image, latents, dims, values = traversal.render(ckpt, z, steps=5)
    assert dims == [3, 1, 5, 2, 0, 4]
    assert torch.equal(latents, traversal_grid(z, dims, values))
    cell = 64 + traversal.PADDING
    assert image.size == (traversal.LABEL_WIDTH + 5 * cell + 2, traversal.HEADER_HEIGHT + 6 * cell + 2)
    bare, *_ = traversal.render(ckpt, z, steps=5, labels=False)
    assert bare.size == (5 * cell + 2, 6 * cell + 2)
    with torch.no_grad():
        first = ckpt.model.decode(latents[:1])[0].clamp(0, 1)
    assert torch.allclose(
        torch.from_numpy(np.array(bare))[2:66, 2:66].permute(2, 0, 1) / 255,
        first,
        atol=1 / 255 + 1e-6,
    )


def test_faces_at_another_size_are_resized_as_exported_faces_are(ckpt_path):
    ckpt = checkpoint.load(ckpt_path)
    z = torch.linspace(-1, 1, 8)
    bare, latents, *_ = traversal.render(ckpt, z, steps=3, labels=False, face_size=160)
    cell = 160 + traversal.PADDING
    assert bare.size == (3 * cell + 2, 6 * cell + 2)
    with torch.no_grad():
        first, second = ckpt.model.decode(latents[:2]).clamp(0, 1)
    assert np.array_equal(np.array(bare)[2:162, 2:162], np.array(export.to_pil(first, 160)))
    assert np.array_equal(np.array(bare)[2:162, 164:324], np.array(export.to_pil(second, 160)))
    assert np.array(bare)[2:162, 162:164].min() == 255  # the gap between faces stays white
    labelled, *_ = traversal.render(ckpt, z, steps=3, face_size=256)  # its labels as large, for the faces
    assert labelled.size == (2 * traversal.LABEL_WIDTH + 3 * 258 + 2, 2 * traversal.HEADER_HEIGHT + 6 * 258 + 2)
    small, *_ = traversal.render(ckpt, z, steps=3, face_size=32)
    assert small.size == (traversal.LABEL_WIDTH + 3 * 34 + 2, traversal.HEADER_HEIGHT + 6 * 34 + 2)


def test_decode_in_batches_reports_progress_and_can_stop(tiny_model):
    seen = []
    control = Control(progress=lambda done, total, what: seen.append((done, total)))
    images = traversal.decode(tiny_model, torch.zeros(10, 8), batch=4, control=control)
    assert images.shape == (10, 3, 64, 64) and seen == [(4, 10), (8, 10), (10, 10)]
    asked = []
    with pytest.raises(Cancelled):
        traversal.decode(
            tiny_model, torch.zeros(10, 8), batch=4, control=Control(lambda: asked.append(1) or len(asked) > 2)
        )
    assert len(asked) == 3  # stopped before the third batch


def test_cli_writes_a_png_of_the_right_size_with_its_latents(ckpt_path, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert export.main(["traversal", str(ckpt_path), "--out", str(out), "--steps", "5"]) == 0
    cell = 64 + traversal.PADDING
    assert Image.open(out).size == (traversal.LABEL_WIDTH + 5 * cell + 2, traversal.HEADER_HEIGHT + 6 * cell + 2)
    sidecar = json.loads(export.sidecar_path(out).read_text())
    assert sidecar["kind"] == "traversal" and sidecar["dims"] == [3, 1, 5, 2, 0, 4]
    assert len(sidecar["latents"]) == 6 * 5 and sidecar["values"] == pytest.approx([-3, -1.5, 0, 1.5, 3])
    assert "6 dimensions × 5 steps" in capsys.readouterr().out
    assert export.main(["traversal", str(ckpt_path), "--out", str(out), "--steps", "5", "--face-size", "128"]) == 0
    assert Image.open(out).size == (traversal.LABEL_WIDTH + 5 * 130 + 2, traversal.HEADER_HEIGHT + 6 * 130 + 2)
    with pytest.raises(SystemExit):
        export.main(["traversal", str(ckpt_path), "--out", str(out), "--face-size", "4096"])


def test_cli_sweeps_the_latent_it_is_given(ckpt_path, tmp_path):
    z = torch.arange(8, dtype=torch.float32) / 10
    export.save_latents(tmp_path / "face.json", z)
    out = tmp_path / "grid.png"
    args = ["traversal", str(ckpt_path), "--out", str(out), "--latent", str(tmp_path / "face.json"), "--no-labels"]
    assert export.main(args) == 0
    latents = torch.tensor(json.loads(export.sidecar_path(out).read_text())["latents"])
    expected = traversal_grid(z, [3, 1, 5, 2, 0, 4], traversal.traversal_values(7))
    assert torch.allclose(latents, expected, atol=1e-6)
    assert Image.open(out).size == (7 * 66 + 2, 6 * 66 + 2)


def test_cli_without_a_latent_sweeps_the_typical_face(ckpt_path, tmp_path):
    out = tmp_path / "grid.png"
    assert export.main(["traversal", str(ckpt_path), "--out", str(out)]) == 0
    latents = torch.tensor(json.loads(export.sidecar_path(out).read_text())["latents"])
    home = traversal.home_latent(checkpoint.load(ckpt_path))  # no fitted prior here: zero, as Reset shows
    assert torch.equal(home, torch.zeros(8)) and torch.equal(latents[3], torch.zeros(8))


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not a latent file"),
        ('{"latents": [[1, 2]]}', "2"),
        ('{"latents": [[1e400, 0, 0, 0, 0, 0, 0, 0]]}', ""),
    ],
)
def test_a_bad_latent_file_is_a_clear_error(ckpt_path, tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out = tmp_path / "grid.png"
    assert export.main(["traversal", str(ckpt_path), "--out", str(out), "--latent", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(bad) in err and message in err
    assert not out.exists()


def test_cli_runs_as_a_module_and_fails_with_a_nonzero_status(ckpt_path, tmp_path):
    args = [sys.executable, "-m", "vae.explore.export", "traversal", str(ckpt_path), "--out", str(tmp_path / "g.png")]
    missing = subprocess.run(args + ["--latent", str(tmp_path / "none.json")], cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode == 2 and "none.json" in missing.stderr and "cannot be read" in missing.stderr
    assert not (tmp_path / "g.png").exists()


def test_an_axis_aligned_direction_names_its_dimension():
    directions = {
        "glasses": unit(0, 0, 0, 1),
        "hair_color:3": unit(
            0,
            -3,
            0,
            0,
        ),
    }
    names = name_axes(directions, 4)
    assert set(names) == {1, 3}
    assert names[3].short == "glasses" and names[3].detail == "raise for glasses"
    assert names[1].short == "hair colour" and names[1].detail == "lower for auburn"


def test_below_the_threshold_no_name():
    spread = unit(1, 1, 1, 1, 1, 1, 1, 1)  # |cos| = 0.35 with every axis
    assert 1 / 8**0.5 < AXIS_NAME_MIN_COSINE
    assert name_axes({"glasses": spread}, 8) == {}
    for cosine, named in ((AXIS_NAME_MIN_COSINE + 0.01, {0, 5}), (AXIS_NAME_MIN_COSINE - 0.01, {0})):
        direction = torch.zeros(8)
        direction[5], direction[0] = cosine, (1 - cosine**2) ** 0.5
        assert set(name_axes({"glasses": direction}, 8)) == named


def test_matches_are_strongest_first_and_both_ends_are_described():
    directions = {"hair_color:8": unit(-0.9, 0.44), "hair_color:3": unit(0.6, 0.8), "smile": unit(0.7, 0.7)}
    matches = axis_matches(directions, 2)
    assert [m.direction for m in matches[0]] == ["hair_color:8", "smile", "hair_color:3"]
    name = name_axes(directions, 2)[0]
    assert name.short == "hair colour"
    assert name.detail == "raise for smile or auburn, lower for white"
    assert name_axes({"smile": unit(0, 1)}, 2)[1].short == "smile"  # a direction defined by example keeps its name


def test_directions_of_another_length_or_zero_are_ignored():
    assert name_axes({"glasses": torch.ones(3), "facial_hair": torch.zeros(4)}, 4) == {}
