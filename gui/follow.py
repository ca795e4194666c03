"""A widget follows the events of a Qt-free model for as long as it lives."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject

from vae.common.event import Event


def follow(widget: QObject, *connections: tuple[Event, Callable]) -> None:
    """Connect each ``(event, callback)``, and disconnect them all when ``widget`` is destroyed.

    Weak references would not do: Qt deletes a widget's C++ side first, and a callback on a widget whose
    Python wrapper is still referenced would then run on a deleted object.
    """
    undo = [event.connect(callback) for event, callback in connections]
    widget.destroyed.connect(lambda: [disconnect() for disconnect in undo])
