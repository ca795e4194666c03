"""A lock file naming its holder's PID, for run folders and dataset caches.

The file is created with ``O_EXCL``, so only one process holds it. A lock whose holder on this
machine is no longer running is stale: it is removed and taken over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Callable

from .atomic import write_error


class LockHeld(RuntimeError):
    """Another live process holds the lock; the message names it."""


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine; when the system will not say, it counts as running.

    Callers remove a lock or a temporary file only for a process known to be gone, never on a guess.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


class LockFile:
    """``acquire()`` / ``release()`` a lock at ``path``; ``what`` names what it protects in messages."""

    def __init__(self, path: str | os.PathLike, what: str, log: Callable[[str], None] | None = None):
        self.path, self.what = Path(path), what
        self.log = log or (lambda message: None)
        self.held = False

    def holder(self) -> dict | None:
        """The holder recorded in the file ({"pid", "host"}), or None if there is no readable one."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and isinstance(data.get("pid"), int) and isinstance(data.get("host"), str):
            return data
        return None

    def stale(self) -> bool:
        """True if the lock file's holder is gone (a process of this machine that no longer runs)."""
        holder = self.holder()
        if holder is None:  # empty or garbled: its writer died before finishing it, unless it is just being written
            try:
                return time.time() - self.path.stat().st_mtime > 5
            except FileNotFoundError:
                return True
        return holder["host"] == socket.gethostname() and not process_alive(holder["pid"])

    def try_acquire(self) -> bool:
        """Take the lock if it is free or stale; False if a live process holds it."""
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self.stale():
                    return False
                holder = self.holder()
                self.log(f"removed a stale lock {self.path}" + (f" left by PID {holder['pid']}" if holder else ""))
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            except OSError as exc:
                raise write_error(self.path, exc) from exc
            try:
                with os.fdopen(fd, "w") as handle:
                    json.dump({"pid": os.getpid(), "host": socket.gethostname()}, handle)
            except OSError as exc:  # a full disk: leave no empty lock behind
                with contextlib.suppress(OSError):
                    self.path.unlink()
                raise write_error(self.path, exc) from exc
            self.held = True
            return True
        return False

    def acquire(self, timeout: float = 0.0, poll: float = 0.2) -> None:
        """Take the lock, waiting up to ``timeout`` seconds; raises :class:`LockHeld` naming the holder."""
        deadline = time.monotonic() + timeout
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                holder = self.holder()
                who = f"PID {holder['pid']} on {holder['host']}" if holder else "another process"
                raise LockHeld(
                    f"{self.path.parent} is in use by another {self.what} ({who}); wait for it to end, "
                    f"or delete {self.path} if that process is gone"
                )
            time.sleep(poll)

    def release(self) -> None:
        if self.held:
            self.held = False
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
