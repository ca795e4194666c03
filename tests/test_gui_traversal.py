"""The Traversals window and the slider names of the Explore tab (pytest-qt, offscreen)."""

import pytest
import torch
from PIL import Image

pytest.importorskip("PySide6")
from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtGui import QEnterEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui.traversal_dialog import CELL_PX, GAP  # noqa: E402
from vae.explore import (
    export,  # noqa: E402
    traversal,  # noqa: E402
)
from vae.model import checkpoint  # noqa: E402

KL = torch.tensor([0.5, 2.0, 1.0, 3.0, 0.2, 1.5, 0.0, 0.001])  # z6 and z7 unused
ORDER = [3, 1, 5, 2, 0, 4]


@pytest.fixture
def window(make_window, tmp_path, tiny_model):
    glasses = torch.zeros(8)
    glasses[3] = 1.0  # z3 is the glasses axis
    path = tmp_path / "named.pt"
    checkpoint.save(path, tiny_model, latent_kl=KL, directions={"glasses": glasses, "facial_hair": torch.ones(8)})
    return make_window(path)


def open_traversals(window, qtbot):
    qtbot.mouseClick(window.explore.traversals_button, Qt.MouseButton.LeftButton)
    dialog = window.explore.traversals
    qtbot.addWidget(dialog)
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.images is not None, timeout=20000)
    return dialog


def test_rows_are_the_used_dimensions_most_used_first(window, qtbot):
    dialog = open_traversals(window, qtbot)
    assert dialog.dims == ORDER
    assert dialog.height() <= dialog.screen().availableGeometry().height() - 60  # a small screen shows it whole
    assert dialog.values.tolist() == pytest.approx([-3, -2, -1, 0, 1, 2, 3])
    z = window.session.state.values
    cell = dialog.latent_at(0, 6)  # z3 at +3σ
    assert cell[3] == 3.0 and torch.equal(torch.cat([cell[:3], cell[4:]]), torch.cat([z[:3], z[4:]]))
    assert dialog.grid.labels[0] == ("z3", "glasses")
    assert dialog.grid.marks == pytest.approx([float(z[d]) for d in ORDER])  # the face the rows sweep


def test_clicking_a_face_shows_it_in_the_explorer_as_one_undo_step(window, qtbot):
    dialog = open_traversals(window, qtbot)
    before = window.session.state.values
    expected = dialog.latent_at(2, 1)  # z5 at −2σ
    with qtbot.waitSignal(dialog.ready, timeout=20000):  # the rows follow the explorer's new face
        qtbot.mouseClick(dialog.grid, Qt.MouseButton.LeftButton, pos=dialog.grid.cell_rect(2, 1).center())
        assert torch.equal(window.session.state.values, expected)
        assert window.explore.sliders[5].value == pytest.approx(-2.0)
    assert torch.equal(dialog.latent_at(2, 1), expected)
    window.session.state.undo()
    assert torch.equal(window.session.state.values, before)


def test_the_values_header_stays_in_sight_as_the_rows_scroll(window, qtbot):
    dialog = open_traversals(window, qtbot)
    dialog.resize(520, 260)  # fewer rows in sight than the grid has
    qtbot.waitUntil(lambda: dialog.scroll.verticalScrollBar().maximum() > 0)
    grid, bar = dialog.grid, dialog.scroll.verticalScrollBar()
    assert grid.header_top() == 0
    bar.setValue(bar.maximum())
    top = grid.header_top()
    assert top == bar.maximum() > 0  # drawn at the top of what is in sight
    x = grid.cell_rect(0, 0).center().x()
    assert grid.cell_at(x, top + 2) is None  # a click on the header picks no face under it
    below = grid.cell_at(x, grid.cell_rect(len(grid.labels) - 1, 0).center().y())
    assert below == (len(grid.labels) - 1, 0)


def test_more_steps_and_export(window, qtbot, tmp_path):
    dialog = open_traversals(window, qtbot)
    where = dialog.scroll.geometry()
    with qtbot.waitSignal(dialog.ready, timeout=20000):
        dialog.steps.setValue(5)
        assert dialog.job.busy and dialog.note_slot.currentWidget() is dialog.note_slot.progress
        assert dialog.scroll.geometry() == where  # the progress shows in the note's place: no face moves
    assert dialog.note_slot.currentWidget() is dialog.note
    narrow = dialog.width()
    with qtbot.waitSignal(dialog.ready, timeout=20000):
        dialog.steps.setValue(9)  # more columns: the window widens to show them (up to the screen's width)
    assert dialog.width() == min(narrow + 4 * (CELL_PX + GAP), dialog.screen().availableGeometry().width() - 40)
    assert dialog.frameGeometry().right() <= dialog.screen().availableGeometry().right()  # still on the screen
    with qtbot.waitSignal(dialog.ready, timeout=20000):
        dialog.steps.setValue(5)
    out = tmp_path / "traversals.png"
    with qtbot.waitSignal(dialog.exported, timeout=20000):
        assert dialog.export_path(str(out))
    cell = 64 + traversal.PADDING
    assert Image.open(out).size == (traversal.LABEL_WIDTH + 5 * cell + 2, traversal.HEADER_HEIGHT + 6 * cell + 2)
    assert export.sidecar_path(out).exists()
    assert "traversals.png" in window.statusBar().currentMessage()
    assert dialog.face_size.value() == 64 and dialog.face_size.maximum() == traversal.MAX_FACE_SIZE
    assert "64×64 px faces" in dialog.face_size.toolTip()
    dialog.face_size.setValue(128)
    with qtbot.waitSignal(dialog.exported, timeout=20000):
        assert dialog.export_path(str(out))
    cell = 128 + traversal.PADDING
    assert Image.open(out).size == (traversal.LABEL_WIDTH + 5 * cell + 2, traversal.HEADER_HEIGHT + 6 * cell + 2)


def test_an_unwritable_export_is_reported(window, qtbot, tmp_path, warnings):
    dialog = open_traversals(window, qtbot)
    assert dialog.export_path(str(tmp_path / "missing" / "t.png"))
    qtbot.waitUntil(lambda: len(warnings) == 1, timeout=20000)
    assert "missing" in warnings[0] and not (tmp_path / "missing").exists()


def test_slider_names_in_tooltip_and_readout(window, qtbot):
    sliders = window.explore.sliders
    assert sliders[3].toolTip().startswith("z3 · glasses = ") and "raise for glasses" in sliders[3].toolTip()
    assert " · " not in sliders[1].toolTip().split(" = ")[0]  # facial_hair is spread over every axis: no name
    QApplication.sendEvent(sliders[3].slider, QEnterEvent(QPointF(5, 5), QPointF(5, 5), QPointF(5, 5)))
    assert window.explore.readout.text().startswith("z3 · glasses = ")


def test_new_directions_rename_the_sliders(window):
    hair = torch.zeros(8)
    hair[1] = -1.0
    window.session.add_direction("hair_color:8", hair)
    tip = window.explore.sliders[1].toolTip()
    assert tip.startswith("z1 · hair colour = ") and "lower for white" in tip
