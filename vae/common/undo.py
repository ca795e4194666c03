"""What every undo history shares: its two stacks, and whether each holds a step."""

from __future__ import annotations


class UndoStacks:
    """An undo and a redo stack (``_undo``, ``_redo``: lists, newest last), set by the class that moves through
    them."""

    _undo: list
    _redo: list

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)
