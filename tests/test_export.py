import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vae.explore import export


def test_face_png_has_requested_size_and_sidecar(tmp_path):
    image = torch.rand(3, 64, 64)
    z = torch.randn(32)
    path = export.save_face(tmp_path / "face.png", image, size=300, latent=z, checkpoint="default.pt")
    with Image.open(path) as im:
        assert im.size == (300, 300) and im.format == "PNG"
    reopened = export.load_latents(export.sidecar_path(path))
    assert torch.allclose(reopened[0], z)
    assert json.loads(export.sidecar_path(path).read_text())["checkpoint"] == "default.pt"


@pytest.mark.parametrize(
    ("name", "fmt"), [("f.jpg", "JPEG"), ("f.JPEG", "JPEG"), ("f.webp", "WEBP"), ("f.png", "PNG"), ("f.tif", "PNG")]
)
def test_a_still_export_is_written_in_the_format_its_name_asks_for(tmp_path, name, fmt):
    image = torch.rand(3, 16, 16)
    face = export.save_face(tmp_path / name, image, size=32, latent=torch.zeros(4))
    strip = export.save_strip(tmp_path / f"strip-{name}", image[None].repeat(3, 1, 1, 1), size=16)
    grid = export.save_grid(tmp_path / f"grid-{name}", image[None].repeat(2, 1, 1, 1))
    for path in (face, strip, grid):
        with Image.open(path) as im:
            assert im.format == fmt, path
    assert export.load_latents(export.sidecar_path(face)).shape == (1, 4)
    if fmt == "WEBP":  # lossless: the pixels written are the pixels read back
        with Image.open(face) as im:
            assert (np.asarray(im.convert("RGB")) == np.asarray(export.to_pil(image, 32))).all()


def test_gif_has_all_frames_and_duration(tmp_path):
    frames = torch.stack([torch.full((3, 16, 16), i / 9) for i in range(10)])
    path = export.save_gif(tmp_path / "m.gif", frames, size=32, duration_ms=80, latents=torch.randn(10, 4))
    with Image.open(path) as im:
        assert im.n_frames == 10
        assert im.info["duration"] == 80
    assert export.load_latents(export.sidecar_path(path)).shape == (10, 4)


def test_strip_and_grid(tmp_path):
    frames = torch.rand(5, 3, 16, 16)
    with Image.open(export.save_strip(tmp_path / "s.png", frames, size=40)) as im:
        assert im.size == (200, 40)
    with Image.open(export.save_grid(tmp_path / "g.png", frames, nrow=5, padding=0)) as im:
        assert im.size == (80, 16)


def test_unwritable_paths_raise_and_leave_nothing(tmp_path):
    with pytest.raises(export.ExportError, match="does not exist"):
        export.save_face(tmp_path / "missing" / "f.png", torch.rand(3, 8, 8), size=16)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(export.ExportError, match="file.txt"):
        export.save_face(blocker / "f.png", torch.rand(3, 8, 8), size=16)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_raises(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(export.ExportError, match=str(locked)):
            export.save_face(locked / "f.png", torch.rand(3, 8, 8), size=16)
    finally:
        locked.chmod(0o700)


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "face.png"
    target.write_bytes(b"old")

    def broken(self, fp, format=None, **kw):
        fp.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken)
    with pytest.raises(export.ExportError, match=f"no space left on {target}"):
        export.save_face(target, torch.rand(3, 8, 8), size=16)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["face.png"]


def test_load_latents_rejects_garbage(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        export.load_latents(bad)


def test_exports_get_normal_file_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = export.save_face(tmp_path / "f.png", torch.rand(3, 8, 8), size=16)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_folder_that_exists_but_takes_no_new_files_is_named_as_such(tmp_path, monkeypatch):
    import errno
    import tempfile

    from vae.common.atomic import WriteError, atomic_write

    def refused(*args, **kwargs):
        raise OSError(errno.ENOENT, "No such file or directory")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(WriteError, match=f"folder {tmp_path} takes no new files$"):
        with atomic_write(tmp_path / "face.png"):
            pass


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="a Linux /proc is needed")
def test_exporting_into_proc_says_the_folder_takes_no_new_files():
    with pytest.raises(export.ExportError, match="folder /proc takes no new files"):
        export.save_face("/proc/face.png", torch.rand(3, 64, 64), 64, torch.zeros(4), "model")
