"""Atomic file writes: write to a temporary file beside the target, then rename."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator


class WriteError(OSError):
    """A file could not be written; the message names the path and the reason."""


def _existing_ancestor(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _megabytes(n: int) -> str:
    return f"{max(1, round(n / 1e6)):,} MB"


def write_error(path: str | os.PathLike, exc: OSError, need: int | None = None) -> WriteError:
    """A :class:`WriteError` for ``exc`` raised while writing under ``path``, in one line.

    A full disk reads "no space left on <path>: need about N MB"; a read-only place or a folder
    that lies under a file says so.
    """
    path = Path(path)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        needed = f": need about {_megabytes(need)}" if need else ""
        try:
            free = f", {_megabytes(shutil.disk_usage(_existing_ancestor(path)).free)} free"
        except OSError:
            free = ""
        return WriteError(f"no space left on {path}{needed}{free}")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return WriteError(
            f"cannot write {path}: {'read-only file system' if exc.errno == errno.EROFS else 'permission denied'}"
        )
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return WriteError(f"cannot write {path}: a part of that path is a file, not a folder")
    return WriteError(f"cannot write {path}: {exc.strerror or exc}")


def make_folder(path: str | os.PathLike, what: str = "") -> Path:
    """Create ``path`` (and its parents) or raise a one-line :class:`WriteError` naming it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        error = write_error(path, exc)
        raise WriteError(f"{error} ({what})" if what else str(error)) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise WriteError(f"cannot write {path}: permission denied" + (f" ({what})" if what else ""))
    return path


def ensure_space(path: str | os.PathLike, need: int) -> None:
    """Raise a :class:`WriteError` now if the file system holding ``path`` has less than ``need`` bytes free."""
    try:
        free = shutil.disk_usage(_existing_ancestor(Path(path))).free
    except OSError:
        return
    if free < need:
        raise WriteError(f"no space left on {path}: need about {_megabytes(need)}, {_megabytes(free)} free")


def _target_mode(path: Path) -> int:
    """The existing file's permissions, or the usual ones for a new file (0666 less the umask)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


TEMPORARY_PATTERN = ".~*.tmp"  # what atomic_write names its temporary files


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that interrupted :func:`atomic_write` calls left in ``folder``; returns them.

    Only for a folder that no other process writes into now (a run folder whose lock is held).
    """
    removed = []
    for tmp in Path(folder).glob(TEMPORARY_PATTERN):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed.append(tmp)
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", need: int | None = None) -> Iterator[IO]:
    """Yield a file object whose contents replace ``path`` only if the block succeeds.

    On any failure the temporary file is removed and the target is left untouched. The temporary
    name is short (``.~`` and 8 random characters), so any legal file name can be written; ``need``
    (bytes) is quoted when the disk is full.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        reason = "is a file, not a folder" if folder.exists() else "does not exist"
        raise WriteError(f"cannot write {path}: folder {folder} {reason}")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=".~", suffix=".tmp", dir=folder)  # TEMPORARY_PATTERN
    except OSError as exc:
        if exc.errno == errno.ENOENT:  # the folder is there but makes no new files (/proc)
            raise WriteError(f"cannot write {path}: folder {folder} takes no new files") from exc
        raise write_error(path, exc, need) from exc
    try:
        os.fchmod(fd, _target_mode(path))
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise write_error(path, exc, need) from exc
        raise
