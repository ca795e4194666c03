"""Dataset preparation: progress, cancellation, and failures while the cache is written."""

from __future__ import annotations

import errno
import multiprocessing
import os

import pytest

from tests.helpers import write_good_faces
from vae import cache as cache_mod
from vae.atomic import WriteError
from vae.cache import Cancelled


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".~"))


def test_progress_reaches_the_total(tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 40)
    seen = []
    data = cache_mod.open_folder(folder, 64, workers=2, cache_dir=tmp_path / "cache",
                                 progress_cb=lambda done, total, what: seen.append((done, total, what)))
    assert len(data) == 40
    assert seen[-1][:2] == (40, 40) and "preprocessing faces" in seen[-1][2]
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)


def test_cancel_while_caching_stops_workers_and_removes_the_partial_cache(tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 120)
    seen = []
    with pytest.raises(Cancelled):
        cache_mod.open_folder(folder, 64, workers=2, cache_dir=tmp_path / "cache",
                              progress_cb=lambda done, total, what: seen.append(done), should_stop=lambda: bool(seen))
    assert seen and seen[-1] < 120
    assert multiprocessing.active_children() == []
    assert not list((tmp_path / "cache" / "datasets").iterdir())
    data = cache_mod.open_folder(folder, 64, workers=2, cache_dir=tmp_path / "cache")  # a later try builds it whole
    assert len(data) == 120


def test_cancel_while_generating_builtin_faces(tmp_path, monkeypatch):
    monkeypatch.setenv("FACE_EXPLORER_CACHE", str(tmp_path / "cache"))
    seen = []
    with pytest.raises(Cancelled):
        cache_mod.open_dataset("builtin", 64, builtin_count=200, workers=2,
                               progress_cb=lambda done, total, what: seen.append((done, what)),
                               should_stop=lambda: len(seen) > 0)
    assert seen and seen[-1][0] < 200 and seen[-1][1] == "generating faces"
    assert multiprocessing.active_children() == []
    assert list((tmp_path / "cache").iterdir()) == []  # the half-written built-in folder is gone


class FullDisk:
    """A file object that raises ENOSPC once ``room`` bytes have been written."""

    def __init__(self, handle, room):
        self.handle, self.room = handle, room

    def write(self, data):
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


def test_full_disk_while_caching_is_an_error_not_a_crash(tmp_path, monkeypatch):
    folder = tmp_path / "faces"
    write_good_faces(folder, 60)
    monkeypatch.setattr(cache_mod, "open", lambda *a, **k: FullDisk(open(*a, **k), 64 * 64 * 3 * 25), raising=False)
    with pytest.raises(WriteError, match=r"no space left on .*cache.*need about \d+ MB"):
        cache_mod.open_folder(folder, 64, workers=2, cache_dir=tmp_path / "cache")
    assert multiprocessing.active_children() == []
    assert not list((tmp_path / "cache" / "datasets").iterdir())


def test_too_little_free_space_is_refused_before_any_work(tmp_path, monkeypatch):
    folder = tmp_path / "faces"
    write_good_faces(folder, 20)
    real = cache_mod.shutil.disk_usage
    monkeypatch.setattr("vae.atomic.shutil.disk_usage", lambda p: real(p)._replace(free=1000))
    with pytest.raises(WriteError, match=r"no space left on .*need about 1 MB, 1 MB free"):
        cache_mod.open_folder(folder, 64, workers=1, cache_dir=tmp_path / "cache")
    assert leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize("kind", ["under a file", "read-only", "read-only file system"])
def test_unwritable_cache_folder_is_a_one_line_error(tmp_path, kind, monkeypatch):
    folder = tmp_path / "faces"
    write_good_faces(folder, 4)
    if kind == "read-only" and os.geteuid() == 0:
        pytest.skip("permissions do not stop root")
    if kind == "read-only file system":
        place = tmp_path / "mounted"

        def read_only(*args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")

        monkeypatch.setattr(cache_mod, "open", read_only, raising=False)
        expected = "read-only file system"
    elif kind == "under a file":
        (tmp_path / "file").write_text("x")
        place = tmp_path / "file" / "cache"
        expected = "is a file, not a folder"
    else:
        place = tmp_path / "ro"
        place.mkdir()
        place.chmod(0o500)
        expected = "permission denied"
    try:
        with pytest.raises(WriteError, match=expected) as info:
            cache_mod.open_folder(folder, 64, workers=1, cache_dir=place)
    finally:
        if kind == "read-only":
            place.chmod(0o700)
    assert "\n" not in str(info.value) and str(place) in str(info.value)
