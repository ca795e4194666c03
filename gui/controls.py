"""Small widget factories shared by the panels."""

from __future__ import annotations

import math
import re

from PySide6 import QtGui
from PySide6.QtCore import QEvent, QObject, QSignalBlocker, QSize, Qt
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QLabel,
    QListView,
    QListWidget,
    QProxyStyle,
    QSizePolicy,
    QSpinBox,
    QStatusBar,
    QStyle,
    QWidget,
)


class _WheelWhenFocused(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Wheel and not watched.hasFocus():
            event.ignore()  # the wheel scrolls the page this control sits in
            return True
        return False


_WHEEL_FILTER = _WheelWhenFocused()


def wheel_only_when_focused(*widgets: QWidget) -> None:
    """Controls in a scrolled column: the mouse wheel changes them only after a click, never while scrolling past."""
    for widget in widgets:
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        widget.installEventFilter(_WHEEL_FILTER)


def plain_label(text: str = "") -> QLabel:
    """A label that shows its text as it is, never as HTML: a file name, a path or a checkpoint's dataset name
    such as ``<img src="/dev/zero">`` must not be read as markup (Qt would load that "image" for ever)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class TextLine(QWidget):
    """One line of plain text in the app's fixed-width font, elided to fit (the tooltip then shows it whole), that
    repaints itself alone when its text changes: a QLabel's setText asks the whole window to lay itself out
    again, which repaints every slider of a drag."""

    def __init__(self, text: str = "", color: str = "#404040"):
        super().__init__()
        self._text = ""
        self._color = QtGui.QColor(color)
        font = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        if self.font().pointSizeF() > 0:  # the app's size (a font set in pixels has none in points)
            font.setPointSizeF(self.font().pointSizeF())
        self.setFont(font)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._fit_height()
        self.setText(text)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.setAccessibleName(text)
            self._show()

    def _fit_height(self) -> None:
        self.setFixedHeight(self.fontMetrics().height() + 4)

    def _shown(self) -> str:
        return self.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight, max(0, self.width() - 4))

    def _show(self) -> None:
        self.setToolTip(plain_tooltip(self._text) if self._shown() != self._text else "")
        self.update()

    def changeEvent(self, event):
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self._fit_height()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._show()

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self._text) + 4, self.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(40, self.height())

    def paintEvent(self, event):
        painter = QtGui.QPainter(self)
        painter.setPen(self._color)
        painter.drawText(self.rect().adjusted(2, 0, -2, 0), Qt.AlignmentFlag.AlignVCenter, self._shown())


def plain_tooltip(text: str) -> str:
    """``text`` as a tooltip shows it literally (tooltips read anything that looks like HTML as HTML)."""
    rich = QtGui.Qt.mightBeRichText(text)
    return QtGui.Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal) if rich else text


def wrapped_tooltip(text: str) -> str:
    """``text`` as a tooltip that wraps into lines (a plain-text tooltip is one line, however long)."""
    return QtGui.Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)


FOLDER_AT_THE_END = re.compile(r"^(.*? in )(\S*[/\\].*)$")
"""A message that ends with a folder ("wrote face.png and face.png.json in /home/me/faces"): what comes before the
folder is what it says, and the folder is what may lose its middle."""


class ElidedLabel(QLabel):
    """One line of plain text that, when too long for its width, loses its middle to "…" (a message that ends
    with a folder, that folder's middle while the words before it fit); the tooltip then shows it whole. It never
    asks for more width than a short message needs."""

    def __init__(self, text: str = ""):
        super().__init__()
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.full_text = ""
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self._elide()

    def _elide(self) -> None:
        line = self.full_text.replace("\n", " ")
        room = max(0, self.contentsRect().width())  # the margins are not the text's
        metrics = self.fontMetrics()
        shown = metrics.elidedText(line, Qt.TextElideMode.ElideMiddle, room)
        folder = FOLDER_AT_THE_END.match(line)
        if shown != line and folder:
            head, path = folder[1], folder[2]
            cut = max(path.rstrip("/\\").rfind("/"), path.rstrip("/\\").rfind("\\"))
            front, tail = path[:cut], path[cut:]  # the folder's own name, with the separator before it, stays whole
            room_left = room - metrics.horizontalAdvance(head + tail)
            if cut > 0 and room_left >= metrics.horizontalAdvance("…"):
                shown = head + metrics.elidedText(front, Qt.TextElideMode.ElideMiddle, room_left) + tail
        self.setText(shown)
        self.setToolTip(plain_tooltip(self.full_text) if shown != line else "")

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._elide()

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        return QSize(0, super().sizeHint().height())


def elide_status_messages(bar: QStatusBar) -> ElidedLabel:
    """Show ``bar``'s messages in an :class:`ElidedLabel` filling its free width (the bar's own drawing cuts a
    long message off at the right); ``showMessage`` and ``currentMessage`` work as before."""
    label = ElidedLabel()
    label.setContentsMargins(4, 0, 0, 0)
    bar.insertPermanentWidget(0, label, 1)  # its width leaves the bar none to draw the message in itself
    bar.messageChanged.connect(label.set_full_text)
    return label


class _ClampsTypedNumbers:
    """For a spin box: a typed number past its range becomes its nearest end when the edit ends (Qt's own box
    refuses the keystroke that passes it: 4000 typed into a box up to 2048 became 400, 99 typed into a box up to
    2.0 went back to the old value)."""

    def _typed_number(self, text: str) -> float | None:
        digits = text.removeprefix(self.prefix()).removesuffix(self.suffix()).strip()
        return self._number(digits) if self._pattern().fullmatch(digits) else None

    def validate(self, text: str, pos: int):
        state, text, pos = super().validate(text, pos)
        if state == QValidator.State.Invalid and self._typed_number(text) is not None:
            state = QValidator.State.Intermediate  # a number out of range: fixup clamps it when the edit ends
        return state, text, pos

    def fixup(self, text: str) -> str:
        number = self._typed_number(text)
        if number is None:
            return text
        return self.prefix() + self.textFromValue(min(max(number, self.minimum()), self.maximum())) + self.suffix()


class ClampingSpinBox(_ClampsTypedNumbers, QSpinBox):
    """A whole-number spin box that clamps a typed number past its range."""

    def _pattern(self) -> re.Pattern:
        return re.compile(r"[-+]?\d{1,12}", re.ASCII)  # no more digits than any range here

    _number = staticmethod(int)


class ClampingDoubleSpinBox(_ClampsTypedNumbers, QDoubleSpinBox):
    """A decimal spin box that clamps a typed number past its range, written with its locale's decimal point."""

    def _pattern(self) -> re.Pattern:
        point = re.escape(self.locale().decimalPoint())
        return re.compile(rf"[-+]?(\d{{1,12}}({point}\d*)?|{point}\d+)", re.ASCII)

    def _number(self, digits: str) -> float:
        return float(digits.replace(self.locale().decimalPoint(), "."))


def spin_box(minimum: int, maximum: int, value: int, prefix: str = "", suffix: str = "") -> QSpinBox:
    box = ClampingSpinBox()
    box.setRange(minimum, maximum)
    box.setValue(value)
    box.setPrefix(prefix)
    box.setSuffix(suffix)
    return box


def double_spin_box(
    minimum: float, maximum: float, value: float, step: float, decimals: int = 2, prefix: str = ""
) -> QDoubleSpinBox:
    box = ClampingDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setValue(value)
    box.setPrefix(prefix)
    return box


def show_value(box: QSpinBox | QDoubleSpinBox, value: float) -> None:
    """Mirror a model's ``value`` in ``box`` silently, leaving it alone when it already shows it: setting a value
    rewrites the text, and a rewrite while the user types there ("0" → "0.00") would swallow their next keys."""
    if box.value() != value:
        with QSignalBlocker(box):
            box.setValue(value)


def snap_box(text: str, tooltip: str) -> QCheckBox:
    """A "snap to faces" check box, off until :func:`refresh_snap_box` finds a model that can snap."""
    box = QCheckBox(text)
    box.setEnabled(False)
    box.setToolTip(tooltip)
    return box


def refresh_snap_box(box: QCheckBox, can_snap: bool) -> None:
    """A new model: the box is enabled where it has a fitted prior, and on by default (silently).

    A choice the user made holds from one model that can snap to the next.
    """
    with QSignalBlocker(box):
        could_snap = box.isEnabled()
        box.setEnabled(can_snap)
        if not can_snap or not could_snap:
            box.setChecked(can_snap)


class CheckGrid(QListWidget):
    """Check boxes in columns of ``cell`` size that wrap with the width and grow to show every row: inside a scroll
    area, the page scrolls, never the list within it."""

    PADDING = 3

    def __init__(self, cell: QSize):
        super().__init__()
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setGridSize(cell)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setStyleSheet(f"QListWidget {{ padding: {self.PADDING}px; }}")  # the first row clear of the frame
        self.model().rowsInserted.connect(self.fit_height)
        self.model().rowsRemoved.connect(self.fit_height)
        self.fit_height()

    def rows_for(self, width: int) -> int:
        """How many rows the items take at ``width`` px (one when there are none)."""
        inside = width - 2 * (self.frameWidth() + self.PADDING)
        columns = max(1, inside // self.gridSize().width())
        return max(1, math.ceil(self.count() / columns))

    def fit_height(self) -> None:
        """Take the height that shows every row at the present width."""
        rows = self.rows_for(self.width())
        self.setFixedHeight(rows * self.gridSize().height() + 2 * (self.frameWidth() + self.PADDING))

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.fit_height()


class JumpToClickStyle(QProxyStyle):
    """A slider style under which a click on the groove moves the handle there, not a page towards it."""

    def styleHint(self, hint, option=None, widget=None, returnData=None):
        if hint == QStyle.StyleHint.SH_Slider_AbsoluteSetButtons:
            return Qt.MouseButton.LeftButton.value
        return super().styleHint(hint, option, widget, returnData)
