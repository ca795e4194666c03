import numpy as np
import pytest
import torch
from PIL import Image

from tests.helpers import write_bad_files, write_good_faces
from vae.common.control import Control
from vae.data import cache as cache_mod
from vae.data.cartoonset import ATTRIBUTE_NAMES
from vae.data.folder import DataError, ImageLoadError, is_validation, load_image, scan_folder


def test_real_cartoonset_images_load_white_and_centred(sample_dir):
    for path in sorted(sample_dir.glob("*.png")):
        x = load_image(path, 64)
        assert x.shape == (3, 64, 64) and x.min() >= 0 and x.max() <= 1
        corners = torch.stack([x[:, 0, 0], x[:, 0, -1], x[:, -1, 0], x[:, -1, -1]])
        assert torch.all(corners > 0.97), f"{path.name}: background is not white"
        ink = (x < 0.9).any(0).float()
        ys, xs = torch.nonzero(ink, as_tuple=True)
        assert abs(xs.float().mean() - 31.5) < 6 and abs(ys.float().mean() - 31.5) < 8
        assert ink.mean() > 0.35, f"{path.name}: face does not fill the frame"


def test_generated_faces_fill_the_frame_like_real_ones(tmp_path, sample_dir):
    write_good_faces(tmp_path / "gen", 8)
    gen = torch.stack([load_image(p, 64) for p in sorted((tmp_path / "gen").glob("*.png"))])
    real = torch.stack([load_image(p, 64) for p in sorted(sample_dir.glob("*.png"))])
    gen_fill = (gen < 0.9).any(1).float().mean().item()
    real_fill = (real < 0.9).any(1).float().mean().item()
    assert abs(gen_fill - real_fill) < 0.15


def test_opaque_photo_is_cropped_to_content(tmp_path):
    image = Image.new("RGB", (300, 200), (250, 250, 250))
    image.paste((200, 30, 30), (120, 60, 180, 140))
    image.save(tmp_path / "photo.jpg")
    x = load_image(tmp_path / "photo.jpg", 32)
    assert x[0, 16, 16] > 0.7 and x[1, 16, 16] < 0.3  # the red block now fills the middle


def test_scan_walks_subfolders_and_pairs_csvs(tmp_path):
    write_good_faces(tmp_path / "0", 3, seed=1)
    write_good_faces(tmp_path / "1", 3, seed=2)
    Image.new("RGB", (20, 20)).save(tmp_path / "1" / "plain.webp")
    files = scan_folder(tmp_path)
    assert len(files) == 7
    assert sum(f.csv is not None for f in files) == 6
    assert files == sorted(files, key=lambda f: str(f.image))


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_unusable_folders_raise_one_clear_error(tmp_path, kind):
    target = tmp_path / "data"
    if kind == "file":
        target.write_text("x")
    elif kind == "empty":
        target.mkdir()
    with pytest.raises(DataError, match=str(target)):
        scan_folder(target)


def test_split_is_stable_when_files_are_added():
    names = [f"cs{i}.png" for i in range(2000)]
    val = {n for n in names if is_validation(n)}
    more = names + [f"cs{i}.png" for i in range(2000, 4000)]
    assert {n for n in more[:2000] if is_validation(n)} == val
    assert 50 < len(val) < 150


def test_cache_builds_then_reuses_then_rebuilds(tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 20)
    first = cache_mod.open_folder(folder, 64, workers=1)
    assert len(first) == 20 and first.images.shape == (20, 64, 64, 3) and first.has_labels
    assert first.labels.shape == (20, len(ATTRIBUTE_NAMES)) and (first.labels >= 0).all()
    again = cache_mod.open_folder(folder, 64, workers=1)
    assert again.path == first.path and isinstance(again.images, np.memmap)
    assert torch.equal(again.batch([3, 1]), torch.stack([load_image(folder / again.files[i], 64) for i in (3, 1)]))
    write_good_faces(folder, 1, seed=77)
    changed = cache_mod.open_folder(folder, 64, workers=1)
    assert changed.path != first.path and len(changed) == 21
    assert not first.path.exists()  # the stale cache of this folder is removed
    other_size = cache_mod.open_folder(folder, 128, workers=1)
    assert other_size.image_size == 128 and changed.path.exists()


def test_bad_files_are_skipped_and_reported(tmp_path):
    folder = tmp_path / "mixed"
    expected = write_bad_files(folder)
    messages = []
    data = cache_mod.open_folder(folder, 64, workers=2, control=Control(log=messages.append))
    loaded = set(data.files)
    for name, outcome in expected.items():
        assert (name in loaded) == (outcome == "load"), name
    skipped = {name for name, _ in data.skipped}
    assert skipped == {n for n, o in expected.items() if o == "skip"}
    assert any("skipped unreadable 5 file(s)" in m for m in messages)
    assert any("malformed CSV" in m and "badcsv.png" in m for m in messages)
    row = data.files.index("badcsv.png")
    assert (data.labels[row] == -1).all()
    assert (data.labels[data.files.index("goodcsv.png")] >= 0).all()
    images = data.batch(np.arange(len(data)))
    assert torch.isfinite(images).all() and images.min() >= 0 and images.max() <= 1


@pytest.mark.parametrize(
    "name,reason", [("zero.png", "empty file"), ("text.png", "not a readable image"), ("tiny.png", "too small")]
)
def test_load_image_errors_name_the_file(tmp_path, name, reason):
    write_bad_files(tmp_path)
    with pytest.raises(ImageLoadError, match=reason) as info:
        load_image(tmp_path / name)
    assert name in str(info.value)


def test_folder_of_only_bad_files_is_an_error(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"")
    with pytest.raises(DataError, match="no usable images"):
        cache_mod.open_folder(folder, 64, workers=1)


def test_builtin_dataset_is_generated_once(tmp_path, monkeypatch):
    calls = []
    real_generate = cache_mod.synth.generate
    monkeypatch.setattr(
        cache_mod.synth, "generate", lambda *a, **k: calls.append(1) or real_generate(*a, **{**k, "workers": 1})
    )
    first = cache_mod.open_dataset("builtin", 64, builtin_count=24)
    second = cache_mod.open_dataset("builtin", 64, builtin_count=24)
    assert len(first) == len(second) == 24 and calls == [1]
    assert "built-in" in first.describe()["source"]
