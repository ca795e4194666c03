"""Dataset preparation: progress, cancellation, and failures while the cache is written."""

from __future__ import annotations

import errno
import multiprocessing
import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import write_good_faces
from vae.common.atomic import WriteError
from vae.common.control import Cancelled, Control
from vae.data import cache as cache_mod
from vae.data.folder import DataError


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".~"))


def test_progress_reaches_the_total(tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 40)
    seen = []
    data = cache_mod.open_folder(
        folder,
        64,
        workers=2,
        cache_dir=tmp_path / "cache",
        control=Control(progress=lambda done, total, what: seen.append((done, total, what))),
    )
    assert len(data) == 40
    assert seen[-1][:2] == (40, 40) and seen[-1][2] == "preparing faces at 64px"
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)


def test_cancel_while_caching_stops_workers_and_removes_the_partial_cache(tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 120)
    seen = []
    with pytest.raises(Cancelled):
        cache_mod.open_folder(
            folder,
            64,
            workers=2,
            cache_dir=tmp_path / "cache",
            control=Control(should_stop=lambda: bool(seen), progress=lambda done, total, what: seen.append(done)),
        )
    assert seen and seen[-1] < 120
    assert multiprocessing.active_children() == []
    assert not list((tmp_path / "cache" / "datasets").iterdir())
    data = cache_mod.open_folder(folder, 64, workers=2, cache_dir=tmp_path / "cache")  # a later try builds it whole
    assert len(data) == 120


def test_cancel_while_generating_builtin_faces(tmp_path, monkeypatch):
    monkeypatch.setenv("FACE_EXPLORER_CACHE", str(tmp_path / "cache"))
    seen = []
    with pytest.raises(Cancelled):
        cache_mod.open_dataset(
            "builtin",
            64,
            builtin_count=200,
            workers=2,
            control=Control(lambda: len(seen) > 0, lambda done, total, what: seen.append((done, what))),
        )
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
    monkeypatch.setattr("vae.common.atomic.shutil.disk_usage", lambda p: real(p)._replace(free=1000))
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


def _damage_truncate(entry):
    path = entry / "images.u8"
    os.truncate(path, path.stat().st_size - 100)


def _damage_flip(entry):
    path = entry / "images.u8"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage,reason",
    [
        (_damage_truncate, "images.u8 holds"),
        (_damage_flip, "do not match their checksum"),
        (lambda e: (e / "labels.npy").unlink(), "labels.npy or files.txt is missing"),
        (lambda e: (e / "files.txt").unlink(), "labels.npy or files.txt is missing"),
        (lambda e: (e / "files.txt").write_text("a.png\n"), "files.txt lists 1 files, not 20"),
        (lambda e: (e / "meta.json").write_text("{not json"), "meta.json is unreadable"),
        (lambda e: (e / "labels.npy").write_bytes(b"garbage"), "labels.npy or files.txt is missing or unreadable"),
    ],
)
def test_a_damaged_cache_is_reported_and_rebuilt(tmp_path, damage, reason):
    folder = tmp_path / "faces"
    write_good_faces(folder, 20)
    first = cache_mod.open_folder(folder, 64, workers=1, cache_dir=tmp_path / "c")
    expected = first.batch(range(20)).clone()
    damage(first.path)
    messages = []
    again = cache_mod.open_folder(folder, 64, workers=1, cache_dir=tmp_path / "c", control=Control(log=messages.append))
    assert any("is damaged" in m and reason in m for m in messages), messages
    assert again.path == first.path and len(again) == 20 and (again.batch(range(20)) == expected).all()
    quiet = []
    cache_mod.open_folder(folder, 64, workers=1, cache_dir=tmp_path / "c", control=Control(log=quiet.append))
    assert quiet == []  # whole again: reused without a rebuild


def test_an_image_replaced_with_the_same_size_and_mtime_is_noticed(tmp_path):
    folder = tmp_path / "faces"
    names = write_good_faces(folder, 20)
    first = cache_mod.open_folder(folder, 64, workers=1, cache_dir=tmp_path / "c")
    a, b = folder / f"{names[0]}.png", folder / f"{names[1]}.png"
    size = max(a.stat().st_size, b.stat().st_size)
    stat_a = a.stat()
    replacement = folder / "replacement.tmp"
    replacement.write_bytes(b.read_bytes() + bytes(size - b.stat().st_size))  # PNG ignores bytes after IEND
    if a.stat().st_size < size:
        a.write_bytes(a.read_bytes() + bytes(size - a.stat().st_size))
        os.utime(a, ns=(stat_a.st_atime_ns, stat_a.st_mtime_ns))
        first = cache_mod.open_folder(folder, 64, workers=1, cache_dir=tmp_path / "c")
        stat_a = a.stat()
    os.utime(replacement, ns=(stat_a.st_atime_ns, stat_a.st_mtime_ns))
    os.replace(replacement, a)  # same name, size and mtime; new inode
    again = cache_mod.open_folder(folder, 64, workers=1, cache_dir=tmp_path / "c")
    row = again.files.index(a.name)
    assert again.path != first.path
    assert (again.batch([row]) == again.batch([again.files.index(b.name)])).all()


def test_two_processes_building_one_cache_build_it_once(tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "faces"
    write_good_faces(folder, 150, size=128)
    code = (
        "import sys; from vae.data.cache import open_folder; from vae.common.control import Control\n"
        "log = []\n"
        "data = open_folder(sys.argv[1], 64, workers=1, cache_dir=sys.argv[2], control=Control(log=log.append))\n"
        "print(len(data), data.path, 'waited' if any('waiting for another process' in m for m in log) else '')"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(folder), str(tmp_path / "c")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    counts = {out.split()[0] for out, _ in outputs}
    paths = {out.split()[1] for out, _ in outputs}
    assert counts == {"150"} and len(paths) == 1
    entries = sorted(p.name for p in (tmp_path / "c" / "datasets").iterdir())
    assert entries == [Path(paths.pop()).name]  # no second copy, no temporary, no lock left


def test_a_full_disk_while_taking_the_lock_leaves_no_lock(tmp_path, monkeypatch):
    from vae.common import lockfile

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(lockfile.json, "dump", full)
    lock = lockfile.LockFile(tmp_path / "x.lock", "test")
    with pytest.raises(WriteError, match=f"no space left on {tmp_path / 'x.lock'}"):
        lock.try_acquire()
    assert list(tmp_path.iterdir()) == []


def test_caching_the_first_faces_keeps_the_whole_folders_cache(tmp_path, monkeypatch):
    folder, caches = tmp_path / "faces", tmp_path / "cache"
    write_good_faces(folder, 12)
    whole = cache_mod.open_folder(folder, 64, workers=1, cache_dir=caches)
    first = cache_mod.open_folder(folder, 64, workers=1, cache_dir=caches, limit=5)
    assert (len(whole), len(first)) == (12, 5)
    builds = []
    monkeypatch.setattr(cache_mod, "_build", lambda *args, **kwargs: builds.append(args))
    assert len(cache_mod.open_folder(folder, 64, workers=1, cache_dir=caches)) == 12
    assert builds == []  # the whole folder's cache was read back, not rebuilt


def test_a_copied_cache_folder_trains_like_the_images_it_was_made_from(tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 12)
    original = cache_mod.open_folder(folder, 64, workers=1, cache_dir=tmp_path / "cache")
    copy = tmp_path / "elsewhere" / "faces-cache"
    shutil.copytree(original.path, copy)
    shutil.rmtree(folder)  # the machine it is copied to has no images

    data = cache_mod.open_dataset(copy, 64)
    assert data.files == original.files
    assert (data.batch(range(12)) == original.batch(range(12))).all()
    assert data.holdout(3)[1].tolist() == original.holdout(3)[1].tolist()
    assert len(cache_mod.open_dataset(copy, 64, limit=5)) == 5

    with pytest.raises(DataError, match=r"holds 64×64 faces, not 128×128.*--image-size 64"):
        cache_mod.open_dataset(copy, 128)
    with open(copy / "images.u8", "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(DataError, match=r"faces-cache cannot be used: images.u8 holds 100 bytes"):
        cache_mod.open_dataset(copy, 64)


def test_a_cache_folder_of_no_faces_is_refused(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "cs1.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="no usable images"):
        cache_mod.open_folder(folder, 64, workers=1, cache_dir=tmp_path / "cache")
    (entry,) = [p for p in (tmp_path / "cache" / "datasets").iterdir() if cache_mod.is_cache_folder(p)]
    with pytest.raises(DataError, match="holds no faces"):
        cache_mod.open_dataset(entry, 64)
