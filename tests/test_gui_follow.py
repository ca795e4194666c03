"""A widget follows a model's events while it lives, and is forgotten when Qt deletes it."""

from PySide6.QtWidgets import QLabel, QWidget

from gui.follow import follow
from vae.common.event import Event


def test_a_deleted_widget_is_no_longer_called(qtbot):
    changed = Event("changed")
    parent = QWidget()
    label = QLabel(parent)
    follow(label, (changed, lambda value: label.setText(str(value))))
    changed.emit(3)
    assert label.text() == "3" and len(changed) == 1
    kept = label  # a Python reference outlives the C++ widget
    with qtbot.waitSignal(kept.destroyed, timeout=5000):
        parent.deleteLater()
    assert len(changed) == 0
    changed.emit(4)  # would raise "Internal C++ object already deleted" if still connected
