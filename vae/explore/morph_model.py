"""The Morph tab's state: two faces, how many frames between them, how they blend and play (no Qt)."""

from __future__ import annotations

import torch

from ..common.event import Event
from ..model.latent import morph, ping_pong
from .session import ExplorerSession

MODES = ("slerp", "lerp")
MAX_FRAMES = 120  # the most frames a morph draws (the Morph tab's frame box stops there)


class MorphModel:
    """Faces A and B, the frame count, the blend (``"slerp"``/``"lerp"``), snapping and ping-pong playback.

    Events: ``path_changed()`` once per edit that changes the frames (an end, the count, the mode, snap;
    several at once through :meth:`update`) and ``ping_pong_changed(on)``.
    """

    def __init__(self, session: ExplorerSession, frames: int = 12, mode: str = "slerp", ping_pong: bool = True):
        self.session = session
        self.a: torch.Tensor | None = None
        self.b: torch.Tensor | None = None
        self.frames = frames
        self.mode = mode
        self.snap = False
        self.ping_pong = ping_pong
        self.path_changed = Event("path_changed")
        self.ping_pong_changed = Event("ping_pong_changed")

    def update(self, **changes) -> bool:
        """Change any of ``a``, ``b``, ``frames``, ``mode`` and ``snap`` at once: one ``path_changed`` if any moved;
        returns whether any did."""
        unknown = set(changes) - {"a", "b", "frames", "mode", "snap"}
        if unknown:
            raise TypeError(f"a morph has no {', '.join(sorted(unknown))}")
        if changes.get("mode", self.mode) not in MODES:
            raise ValueError(f"morph mode must be one of {MODES}, got {changes['mode']!r}")
        if int(changes.get("frames", self.frames)) < 2:
            raise ValueError("a morph needs at least 2 frames")
        moved = False
        for key, value in changes.items():
            value = _normalised(key, value)
            if not _same(getattr(self, key), value):
                setattr(self, key, value)
                moved = True
        if moved:
            self.path_changed.emit()
        return moved

    def set_a(self, z: torch.Tensor | None) -> None:
        self.update(a=z)

    def set_b(self, z: torch.Tensor | None) -> None:
        self.update(b=z)

    def set_frames(self, frames: int) -> None:
        self.update(frames=frames)

    def set_mode(self, mode: str) -> None:
        self.update(mode=mode)

    def set_snap(self, snap: bool) -> None:
        self.update(snap=snap)

    def set_ping_pong(self, on: bool) -> None:
        if bool(on) != self.ping_pong:
            self.ping_pong = bool(on)
            self.ping_pong_changed.emit(self.ping_pong)

    @property
    def snapped(self) -> bool:
        """Whether the frames are snapped: asked for, and the model has a fitted prior to snap to."""
        return self.snap and self.session.can_snap

    def latents(self) -> torch.Tensor | None:
        """The (frames, D) latents from A to B, the blends snapped to faces when asked; None until both ends are set."""
        if self.a is None or self.b is None:
            return None
        frames = morph(self.a, self.b, self.frames, self.mode)
        return self.session.snap_morph(frames) if self.snapped else frames

    def order(self, count: int | None = None) -> list[int]:
        """The order frames play in: forward then back with ping-pong, else forward (``count`` defaults to frames)."""
        count = self.frames if count is None else count
        return ping_pong(count) if self.ping_pong else list(range(count))


def _normalised(key: str, value):
    if key in ("a", "b"):
        return None if value is None else torch.as_tensor(value, dtype=torch.float32).reshape(-1).clone()
    return {"frames": int, "snap": bool, "mode": str}[key](value)


def _same(old, new) -> bool:
    if torch.is_tensor(old) or torch.is_tensor(new):
        return torch.is_tensor(old) and torch.is_tensor(new) and old.shape == new.shape and torch.equal(old, new)
    return old == new
