import hashlib
import signal

import numpy as np
import pytest
from PIL import Image

from vae.data import synth
from vae.data.cartoonset import ATTRIBUTES, NO_FACIAL_HAIR, NO_GLASSES, parse_csv, read_csv


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("faces")
    names = synth.generate(out, 240, seed=11, size=128, workers=2)
    return out, names


def test_writes_cartoonset_format(generated):
    out, names = generated
    assert len(set(names)) == 240
    for name in names[:20]:
        assert name.startswith("cs") and name[2:].isdigit()
        with Image.open(out / f"{name}.png") as im:
            assert im.mode == "RGBA" and im.size == (128, 128)
            alpha = np.asarray(im.getchannel("A"))
        assert alpha[0, 0] == 0 and alpha[64, 64] == 255  # transparent margin, opaque face
        lines = (out / f"{name}.csv").read_text().splitlines()
        assert len(lines) == 18
        assert lines[0].startswith('"eye_angle", ') and lines[0].count(",") == 2
        attrs = read_csv(out / f"{name}.csv")
        assert set(attrs) == {n for n, _ in ATTRIBUTES}


def test_same_seed_same_files(tmp_path):
    a = synth.generate(tmp_path / "a", 6, seed=5, size=96, workers=1)
    b = synth.generate(tmp_path / "b", 6, seed=5, size=96, workers=1)
    assert a == b
    for name in a:
        assert (tmp_path / "a" / f"{name}.png").read_bytes() == (tmp_path / "b" / f"{name}.png").read_bytes()
        assert (tmp_path / "a" / f"{name}.csv").read_text() == (tmp_path / "b" / f"{name}.csv").read_text()
    c = synth.generate(tmp_path / "c", 6, seed=6, size=96, workers=1)
    assert set(a).isdisjoint(c)


def test_diversity_no_duplicates_and_every_attribute_varies(generated):
    out, names = generated
    digests = {hashlib.sha1(np.asarray(Image.open(out / f"{n}.png")).tobytes()).hexdigest() for n in names}
    assert len(digests) == len(names)
    values = {name: set() for name, _ in ATTRIBUTES}
    for n in names:
        for key, value in read_csv(out / f"{n}.csv").items():
            values[key].add(value)
    for name, variants in ATTRIBUTES:
        assert len(values[name]) >= min(variants, 3), name
    assert NO_GLASSES in values["glasses"] and NO_FACIAL_HAIR in values["facial_hair"]


BASE = {
    "eye_angle": 1,
    "eye_lashes": 0,
    "eye_lid": 0,
    "chin_length": 1,
    "eyebrow_weight": 0,
    "eyebrow_shape": 3,
    "eyebrow_thickness": 1,
    "face_shape": 0,
    "facial_hair": NO_FACIAL_HAIR,
    "hair": 2,
    "eye_color": 0,
    "face_color": 3,
    "hair_color": 2,
    "glasses": 0,
    "glasses_color": 0,
    "eye_slant": 1,
    "eyebrow_width": 1,
    "eye_eyebrow_distance": 1,
}


@pytest.mark.parametrize("name,variants", ATTRIBUTES)
def test_each_attribute_changes_the_drawing(name, variants):
    base = np.asarray(synth.render_face(BASE, 250), dtype=np.int16)
    changed_any = 0
    for value in range(variants):
        if value == BASE[name]:
            continue
        other = np.asarray(synth.render_face({**BASE, name: value}, 250), dtype=np.int16)
        if np.abs(other - base).max() > 40:
            changed_any += 1
    assert changed_any == variants - 1, f"{name}: only {changed_any} of {variants - 1} values change the face"


def test_hair_has_many_distinct_silhouettes():
    masks = []
    for value in range(synth.HAIR_FAMILIES):
        attrs = {**BASE, "hair": value, "glasses": NO_GLASSES}
        alpha = np.asarray(synth.render_face(attrs, 100).getchannel("A")) > 128
        masks.append(alpha)
    distinct = 0
    for i, m in enumerate(masks):
        if all(
            np.logical_xor(m, masks[j]).sum() > 30
            or np.abs(
                np.asarray(synth.render_face({**BASE, "hair": i}, 100), dtype=np.int16)
                - np.asarray(synth.render_face({**BASE, "hair": j}, 100), dtype=np.int16)
            ).max()
            > 60
            for j in range(i)
        ):
            distinct += 1
    assert distinct >= 20


def test_csv_parse_and_errors():
    text = '"face_shape", 4, 7\n"facial_hair", 14, 15\n"hair", 29, 111\n'
    assert parse_csv(text) == {"face_shape": 4, "facial_hair": 14, "hair": 29}
    from vae.data.cartoonset import CsvFormatError

    with pytest.raises(CsvFormatError, match="line 1"):
        parse_csv("face_shape; 4")
    with pytest.raises(CsvFormatError, match="out of range"):
        parse_csv('"hair", 200, 111')


def test_cli_writes_files_and_keeps_the_callers_signal_handlers(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    assert synth.main(["--out", str(tmp_path), "--count", "3", "--seed", "1", "--size", "64", "--workers", "1"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before
    assert len(list(tmp_path.glob("cs*.png"))) == 3 and len(list(tmp_path.glob("cs*.csv"))) == 3
