"""Help → Keys and mouse: every shortcut of the menus (read from them, so the list stays true) and what the keys
and the mouse do inside the tabs."""

from __future__ import annotations

import html

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMenuBar, QTextBrowser, QVBoxLayout, QWidget

IN_THE_TABS = (
    (
        "Explore",
        (
            ("Click a slider, then ← → ↑ ↓", "move it 0.1σ"),
            ("Page Up / Page Down", "move the clicked slider 0.5σ"),
            ("Home / End on a clicked slider", "take it to −3σ / +3σ"),
            ("The lock under a slider", "keep that value through Random, Reset and Zero all"),
            ("Drop an image on the window", "encode it: the sliders take its face"),
            ("Click a face in Traversals…", "show it in the explorer (one undo step)"),
        ),
    ),
    (
        "Morph",
        (
            ("Drag the timeline, or click a frame", "show that frame"),
            ("Send frame to explorer", "edit the shown frame in the Explore tab"),
        ),
    ),
    (
        "Arithmetic",
        (("Click a direction's strength slider, then ← → / Page Up/Down", "change its strength by 0.1 / 0.5"),),
    ),
    (
        "Map",
        (
            ("Point at a dot", "see that face, its file and its attributes"),
            ("Click a dot", "send its face where the list above the map says (the explorer, Morph A or B, …)"),
            ("Drag / mouse wheel", "pan / zoom the map; the small A in its corner shows every face again"),
        ),
    ),
)


def menu_shortcuts(menu_bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu, action, keys) for every menu action with a shortcut, in menu order."""
    found = []

    def walk(title: str, actions: list[QAction]) -> None:
        for action in actions:
            if action.menu() is not None:
                walk(title, action.menu().actions())
            elif not action.shortcut().isEmpty():
                keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                found.append((title, action.text().replace("&", ""), keys))

    for top in menu_bar.actions():
        if top.menu() is not None:
            walk(top.text().replace("&", ""), top.menu().actions())
    return found


def keys_html(menu_bar: QMenuBar) -> str:
    """The dialog's text: one table, the menus' shortcuts first, then each tab's keys and mouse."""

    def section(title: str, rows, note: str = "") -> str:
        head = f"<tr><td colspan=2><h3>{html.escape(title)}</h3></td></tr>"
        cells = "".join(
            f"<tr><td style='padding-right:14px'><b>{html.escape(keys)}</b></td><td>{html.escape(what)}</td></tr>"
            for keys, what in rows
        )
        tail = f"<tr><td colspan=2><i>{html.escape(note)}</i></td></tr>" if note else ""
        return head + cells + tail

    menus = [(keys, f"{name} ({menu} menu)") for menu, name, keys in menu_shortcuts(menu_bar)]
    note = "R, Home and Shift+Home act on the Explore tab only; on Morph and Arithmetic, undo and redo move the faces."
    parts = [section("Everywhere", menus, note)]
    parts += [section(tab, rows) for tab, rows in IN_THE_TABS]
    return f"<table>{''.join(parts)}</table>"


class KeysDialog(QDialog):
    """A window listing the keys and the mouse's gestures."""

    def __init__(self, menu_bar: QMenuBar, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keys and mouse")
        self.text = QTextBrowser()
        self.text.setHtml(keys_html(menu_bar))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(520, 560)
