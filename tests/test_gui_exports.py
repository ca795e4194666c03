"""Export sizes in the panels: the GIF size is chosen like the PNG size, and the model's own size is said."""

import json

import pytest
from PIL import Image

pytest.importorskip("PySide6")
from PySide6.QtGui import QAction  # noqa: E402


@pytest.fixture
def window(make_window, tiny_checkpoint):
    return make_window(tiny_checkpoint)


def test_the_gif_and_strip_take_the_size_box(window, qtbot, tmp_path):
    morph = window.morph
    morph.frames.setValue(3)
    morph.loop.setChecked(False)
    morph.export_size.setValue(128)
    with qtbot.waitSignal(morph.job.finished, timeout=30000):
        assert morph.export_gif(str(tmp_path / "m.gif"))
    with Image.open(tmp_path / "m.gif") as im:
        assert im.size == (128, 128)
    with qtbot.waitSignal(morph.job.finished, timeout=30000):
        assert morph.export_strip(str(tmp_path / "s.png"))
    with Image.open(tmp_path / "s.png") as im:
        assert im.size == (3 * 128, 128)


def test_size_boxes_say_the_models_own_size(window):
    for box in (window.explore.export_size, window.morph.export_size):
        assert "64×64 px" in box.toolTip()
        assert box.singleStep() == 64 and box.maximum() >= 1024
        assert box.toolTip().startswith("<p>")  # rich text, so the tooltip wraps instead of running off the screen


def test_a_typed_size_past_the_largest_is_the_largest(window, qtbot):
    from PySide6.QtCore import Qt

    box = window.explore.export_size
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "4000")
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert box.value() == box.maximum()  # not 400, the keystroke that passed the range kept
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "1")
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert box.value() == box.minimum()


def test_a_typed_temperature_past_the_highest_is_the_highest(window, qtbot):
    from PySide6.QtCore import QLocale, Qt

    box = window.explore.temperature
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "99")
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert box.value() == box.maximum() == 2.0  # not the old 0.80, silently
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "1.5")
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert box.value() == 1.5
    box.setLocale(QLocale(QLocale.Language.German))  # a decimal comma: "9,5" is a number past the range too
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "9,5")
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert box.value() == 2.0


@pytest.mark.parametrize("typed", ["", "--5", "²", "9" * 5000, "abc"])
def test_a_size_box_cleared_or_given_no_number_keeps_its_value(window, qtbot, typed):
    from PySide6.QtCore import Qt

    box = window.explore.export_size
    box.setValue(512)
    box.lineEdit().selectAll()
    box.lineEdit().del_()
    box.lineEdit().insert(typed)
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert box.value() == 512  # the value before, as Qt's own box keeps it; never the minimum


def test_the_save_dialog_title_and_status_say_how_the_face_was_enlarged(window, monkeypatch, tmp_path):
    titles = []

    def fake_choose(dialog):
        titles.append(dialog.windowTitle())
        return str(tmp_path / "face.png")

    monkeypatch.setattr("gui.dialogs.choose", fake_choose)
    window.explore.export_size.setValue(1024)
    window.explore.ask_export()
    assert titles == ["Export PNG (the model draws 64 px faces, enlarged ×16 to 1024 px with crisp edges)"]
    with Image.open(tmp_path / "face.png") as im:
        assert im.size == (1024, 1024)
    assert "1024×1024 px from 64 px" in window.statusBar().currentMessage()


def test_the_face_is_shown_crisp_once_it_stops_changing(qtbot):
    import torch

    from gui.widgets import FaceView

    view = FaceView()
    qtbot.addWidget(view)
    view.resize(300, 300)
    image = torch.zeros(3, 64, 64)
    image[:, 16:48, 16:48] = 1.0  # a white square on black: its edges show how it was enlarged
    view.set_image(image)
    assert not view.crisp
    smooth = view.pixmap().toImage()
    qtbot.waitUntil(lambda: view.crisp, timeout=3000)
    assert view.pixmap().toImage() != smooth
    view.set_image(image * 0.5)  # a new face (a slider drag): fast first, crisp again when it settles
    assert not view.crisp
    qtbot.waitUntil(lambda: view.crisp, timeout=3000)


def test_file_export_png_exports_what_the_tab_shows(window, monkeypatch):
    asked = []
    for panel, name in (
        (window.explore, "ask_export"),
        (window.morph, "ask_export_strip"),
        (window.arithmetic, "ask_export"),
    ):
        monkeypatch.setattr(panel, name, lambda panel=panel, **how: asked.append((panel, how)))
    action = next(a for a in window.findChildren(QAction) if a.text() == "&Export PNG…")
    for panel in (window.morph, window.arithmetic, window.map_panel, window.explore):
        window.tabs.setCurrentWidget(panel)
        action.trigger()
    assert asked == [  # the Map shows no one face: the explorer's, and its dialog says so
        (window.morph, {}),
        (window.arithmetic, {}),
        (window.explore, {"from_elsewhere": True}),
        (window.explore, {"from_elsewhere": False}),
    ]
    titles = []
    monkeypatch.undo()
    monkeypatch.setattr("gui.explore_panel.ask_save_path", lambda parent, title, *rest: titles.append(title))
    window.tabs.setCurrentWidget(window.map_panel)
    action.trigger()
    assert titles[0].startswith("Export the Explore tab's face (")


def test_the_arithmetic_result_is_exported_at_the_panels_own_size(window, tmp_path):
    arith = window.arithmetic
    arith.export_size.setValue(128)
    assert arith.export_path(str(tmp_path / "sum.png"))
    assert Image.open(tmp_path / "sum.png").size == (128, 128)
    assert "128×128 px" in window.statusBar().currentMessage()
    sidecar = json.loads((tmp_path / "sum.png.json").read_text())
    assert sidecar["recipe"]["formula"] == arith.formula.text()  # how the result was made, as the tab shows it
    assert len(sidecar["recipe"]["faces"]) == len(arith.terms) and sidecar["latents"][0] == arith.result.tolist()


def test_an_export_or_latent_that_cannot_be_written_or_read_is_shown_and_logged_once(
    window, tmp_path, warnings, caplog
):
    missing = tmp_path / "no such folder"
    assert not window.explore.export_path(str(missing / "face.png"))
    assert not window.arithmetic.export_path(str(missing / "sum.png"))
    assert not window.explore.save_latent_path(str(missing / "face.json"))
    assert len(warnings) == 3 and all("cannot write" in text and "does not exist" in text for text in warnings)
    assert not window.morph.slot_a.fill_from_source("latent", str(missing / "face.json"))  # a face that cannot be read
    logged = [r.getMessage() for r in caplog.records if r.name == "face_explorer" and r.levelname == "WARNING"]
    assert [line.split(":")[0] for line in logged] == ["export", "export", "save latent", "Face A from latent"]
    assert all(str(missing) in line for line in logged) and not missing.exists()
