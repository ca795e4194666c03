"""Morph, arithmetic and map panels, driven through their widgets (pytest-qt, offscreen)."""

import pytest
import torch
from PIL import Image

pytest.importorskip("PySide6")
from PySide6.QtCore import QPoint, Qt  # noqa: E402

from tests.helpers import write_good_faces  # noqa: E402
from vae.model import checkpoint  # noqa: E402


@pytest.fixture
def directed_checkpoint(tmp_path, tiny_model):
    g = torch.Generator().manual_seed(5)
    dirs = {
        "glasses": torch.nn.functional.normalize(torch.randn(8, generator=g), dim=0),
        "facial_hair": torch.nn.functional.normalize(torch.randn(8, generator=g), dim=0),
    }
    path = tmp_path / "dirs.pt"
    checkpoint.save(path, tiny_model, directions=dirs, latent_kl=torch.ones(8))
    return path


@pytest.fixture
def window(make_window, directed_checkpoint):
    return make_window(directed_checkpoint)


def decode(win, z):
    with torch.no_grad():
        return win.session.model.decode(z.reshape(1, -1))[0].clamp(0, 1)


def test_morph_endpoints_and_timeline(window, qtbot):
    morph = window.morph
    morph.frames.setValue(9)
    a, b = morph.slot_a.latent, morph.slot_b.latent
    assert torch.allclose(morph.images[0], decode(window, a), atol=1e-5)
    assert torch.allclose(morph.images[-1], decode(window, b), atol=1e-5)
    norms = morph.latents.norm(dim=1)
    lo, hi = sorted([a.norm().item(), b.norm().item()])
    assert torch.all(norms >= lo - 1e-4) and torch.all(norms <= hi + 1e-4)
    morph.timeline.setValue(3)
    assert morph.frame_label.text() == "frame 4 of 9"
    assert torch.equal(morph.face.image, morph.images[3])
    assert morph.strip.count() == 9
    morph.frames.setValue(17)  # more frames: the same place along the morph (3 of 8 steps → 6 of 16)
    assert morph.timeline.value() == 6 and morph.frame_label.text() == "frame 7 of 17"


def test_typing_a_frame_count_applies_it_once_typed_and_a_click_on_the_timeline_goes_there(window, qtbot):
    morph = window.morph
    window.show_panel("morph")
    morph.frames.setValue(12)
    morph.frames.setFocus()
    morph.frames.selectAll()
    qtbot.keyClicks(morph.frames, "60")
    assert morph.model.frames == 12  # nothing drawn for the "6" on the way
    qtbot.keyClick(morph.frames, Qt.Key.Key_Return)
    assert morph.model.frames == 60 and morph.strip.count() == 60
    morph.timeline.setValue(0)
    groove = morph.timeline.rect()
    qtbot.mouseClick(
        morph.timeline, Qt.MouseButton.LeftButton, pos=QPoint(groove.width() * 3 // 4, groove.center().y())
    )
    assert 40 <= morph.timeline.value() <= 48  # where it was clicked, not a page (10 frames) from the start


def test_lerp_mode_and_send_frame_to_explorer(window, qtbot):
    morph = window.morph
    morph.mode.setCurrentText("lerp")
    mid = morph.latents[len(morph.latents) // 2]
    a, b = morph.slot_a.latent, morph.slot_b.latent
    t = (len(morph.latents) // 2) / (len(morph.latents) - 1)
    assert torch.allclose(mid, (1 - t) * a + t * b, atol=1e-5)
    window.show_panel("morph")
    item = morph.strip.item(4)
    rect = morph.strip.visualItemRect(item)
    qtbot.mouseClick(morph.strip.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    frame = morph.latents[4].clone()
    morph.send_button.click()
    assert torch.allclose(window.session.state.values, frame)
    assert window.tabs.currentWidget() is window.explore


def test_play_advances_the_timeline(window, qtbot):
    morph = window.morph
    morph.fps.setValue(60)
    morph.toggle_play()
    qtbot.waitUntil(lambda: morph.timeline.value() >= 3, timeout=3000)
    morph.toggle_play()
    assert not morph.timer.isActive() and morph.play_button.text() == "Play"


def test_gif_export_has_every_frame_and_the_duration(window, qtbot, tmp_path):
    morph = window.morph
    morph.frames.setValue(6)
    morph.loop.setChecked(False)
    morph.fps.setValue(20)
    with qtbot.waitSignal(morph.job.finished, timeout=30000):
        assert morph.export_gif(str(tmp_path / "m.gif"))
    with Image.open(tmp_path / "m.gif") as im:
        assert im.n_frames == 6 and im.info["duration"] == 50
    assert (tmp_path / "m.gif.json").exists()
    with qtbot.waitSignal(morph.job.finished, timeout=30000):
        assert morph.export_strip(str(tmp_path / "s.png"), size=40)
    with Image.open(tmp_path / "s.png") as im:
        assert im.size == (240, 40)


def test_a_second_export_while_one_runs_says_it_is_busy(window, qtbot, tmp_path):
    morph = window.morph
    morph.frames.setValue(60)
    with qtbot.waitSignal(morph.job.finished, timeout=60000):
        assert morph.export_gif(str(tmp_path / "first.gif"), size=512)
        assert not morph.export_gif(str(tmp_path / "second.gif"))
        assert "still being written" in window.statusBar().currentMessage()
    assert (tmp_path / "first.gif").exists() and not (tmp_path / "second.gif").exists()
    assert "first.gif" in window.statusBar().currentMessage()


def test_scrolling_past_the_arithmetic_controls_changes_none_of_them(window, qtbot):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    arith = window.arithmetic
    window.show_panel("arithmetic")
    row = arith.add_direction("glasses", 1.0)
    controls = [arith.add_direction_button, row.slider, arith.terms[0].weight]
    before = [arith.direction_menu_names(), row.slider.value(), arith.terms[0].weight.value()]

    def wheel(widget):
        centre = QPointF(widget.rect().center())
        event = QWheelEvent(
            centre,
            QPointF(widget.mapToGlobal(centre.toPoint())),
            QPoint(0, 0),
            QPoint(0, -120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(widget, event)

    for widget in controls:
        wheel(widget)
    assert [arith.direction_menu_names(), row.slider.value(), arith.terms[0].weight.value()] == before
    assert [r.name for r in arith.direction_rows] == ["glasses"]
    row.slider.setFocus()
    qtbot.waitUntil(row.slider.hasFocus, timeout=2000)
    wheel(row.slider)  # once clicked (focused), the wheel adjusts it as usual
    assert row.slider.value() != before[1]


def test_the_keep_fixed_list_shows_every_row_so_only_the_page_scrolls(qtbot):
    from PySide6.QtCore import QSize

    from gui.controls import CheckGrid

    grid = CheckGrid(QSize(100, 20))
    qtbot.addWidget(grid)
    grid.addItems([f"trait {i}" for i in range(7)])
    grid.resize(2 * 100 + 2 * (grid.frameWidth() + grid.PADDING) + 10, grid.height())  # two columns: four rows
    grid.show()
    qtbot.waitExposed(grid)
    assert grid.rows_for(grid.width()) == 4 and grid.verticalScrollBar().maximum() == 0
    last = grid.visualItemRect(grid.item(6))
    assert grid.viewport().rect().contains(last)  # the last row is in sight without scrolling the list
    two_columns = grid.height()
    grid.resize(150, grid.height())  # one column: seven rows, and a list as tall as they are
    qtbot.waitUntil(lambda: grid.height() > two_columns)
    qtbot.waitUntil(lambda: grid.viewport().rect().contains(grid.visualItemRect(grid.item(6))))
    assert grid.visualItemRect(grid.item(6)).top() == 6 * 20 and grid.verticalScrollBar().maximum() == 0
    grid.addItem("one more")
    assert grid.rows_for(grid.width()) == 8 and grid.height() == two_columns + 4 * 20


def test_arithmetic_result_equals_hand_computation(window):
    arith = window.arithmetic
    arith.preset_analogy()
    a, b, c = (row.picker.latent for row in arith.terms)
    arith.terms[1].weight.setValue(0.6)
    arith.terms[2].weight.setValue(-0.6)
    expected = a + 0.6 * (b - c)
    assert torch.allclose(arith.result, expected, atol=1e-6)
    assert torch.allclose(arith.face.image, decode(window, expected), atol=1e-5)


@pytest.mark.parametrize("typed,expected", [("0.5", 0.5), ("1.5", 1.5), ("-0.25", -0.25), ("2", 2.0)])
def test_a_weight_typed_key_by_key_is_the_weight_used(window, qtbot, typed, expected):
    arith = window.arithmetic
    window.show_panel("arithmetic")
    arith.preset_analogy()
    box = arith.terms[1].weight
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box.lineEdit(), typed)  # each key is a valueChanged the panel mirrors back while typing
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Return)
    assert box.value() == pytest.approx(expected) and arith.model.terms[1][0] == pytest.approx(expected)


@pytest.fixture
def holding_window(make_window, directed_checkpoint):
    return make_window(directed_checkpoint, hold=True)


def test_arithmetic_shows_the_sum_at_once_then_the_held_face(holding_window, qtbot):
    arith = holding_window.arithmetic
    assert arith.hold_box.isEnabled() and arith.hold_box.isChecked()  # on by default where it can hold
    arith.add_direction("glasses", 1.5)
    plain = arith.model.result()
    assert torch.equal(arith.result, plain) and arith.formula.text().endswith("holding the rest…")
    qtbot.waitUntil(lambda: arith.formula.text().endswith("the rest held") and not arith.hold_job.busy)
    assert not torch.allclose(arith.result, plain)
    assert torch.allclose(arith.face.image, decode(holding_window, arith.result), atol=1e-5)
    arith.hold_box.click()  # off: the plain sum again, at once
    assert torch.equal(arith.result, plain) and "held" not in arith.formula.text() and not arith.model.hold


def test_quick_edits_end_on_the_hold_of_the_last_one(holding_window, qtbot):
    arith = holding_window.arithmetic
    row = arith.add_direction("glasses", 0.5)
    for value in (80, 120, 160):
        row.slider.setValue(value)
    qtbot.waitUntil(lambda: arith.formula.text().endswith("the rest held") and not arith.hold_job.busy)
    assert not arith.hold_pending  # every hold started for an earlier edit has ended, and was dropped
    total, result, applied = arith.model.hold_inputs()
    assert applied == ["glasses"] and "+ 1.6·[" in arith.formula.text()
    assert torch.allclose(arith.result, holding_window.session.hold_edit(total, result, applied), atol=1e-5)


def test_a_failed_hold_is_reported_and_the_sum_stays(holding_window, qtbot, warnings, monkeypatch):
    def out_of_memory(*args):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(holding_window.session, "hold_edit", out_of_memory)
    arith = holding_window.arithmetic
    arith.add_direction("glasses", 1.0)
    qtbot.waitUntil(lambda: bool(warnings) and not arith.hold_job.busy)
    assert "could not hold the rest of the face: out of memory" in warnings[0]
    assert torch.equal(arith.result, arith.model.result()) and arith.formula.text().endswith(
        "the rest not held (see the message)"
    )


def test_a_hold_that_ends_after_the_faces_were_removed_is_dropped(holding_window, qtbot):
    arith = holding_window.arithmetic
    arith.add_direction("glasses", 1.0)
    *others, last_row = list(arith.terms)
    for row in others:
        row.remove_button.click()
    shown = arith.result.clone()  # the last face's sum, its hold started and not yet delivered
    assert arith.hold_pending
    last_row.remove_button.click()  # no face left while the hold runs: no result to replace
    assert arith.model.result() is None
    qtbot.waitUntil(lambda: not arith.hold_pending)
    assert torch.equal(arith.result, shown) and not arith.formula.text().endswith("the rest held")


def test_without_the_hold_classifier_the_box_is_off_and_says_why(window):
    box = window.arithmetic.hold_box
    assert not box.isEnabled() and not box.isChecked() and "hold_classifier.pt" in box.toolTip()
    window.arithmetic.add_direction("glasses", 1.0)
    assert not window.arithmetic.hold_job.busy


def test_direction_strength_moves_along_it(window):
    arith = window.arithmetic
    base = arith.result.clone()
    row = arith.add_direction("glasses", 0.0)
    row.slider.setValue(150)
    d = window.session.checkpoint.directions["glasses"]
    assert torch.allclose(arith.result - base, 1.5 * d, atol=1e-5)
    arith.set_keep_fixed(["facial_hair"])
    hair = window.session.checkpoint.directions["facial_hair"]
    assert abs((arith.result - base) @ hair) < 1e-5
    assert ((arith.result - base).norm() - 1.5).abs() < 1e-5


def test_an_applied_direction_cannot_also_be_kept_fixed(window):
    arith = window.arithmetic
    base = arith.result.clone()
    arith.set_keep_fixed(["glasses", "facial_hair"])
    item = arith.keep_fixed.item(arith.keep_fixed.count() - 2)
    assert item.data(Qt.ItemDataRole.UserRole) == "glasses" and item.flags() & Qt.ItemFlag.ItemIsEnabled
    row = arith.add_direction("glasses", 1.0)
    assert not item.flags() & Qt.ItemFlag.ItemIsEnabled and "applied above" in item.toolTip()
    assert arith.kept_names() == ["facial_hair"]
    glasses = window.session.checkpoint.directions["glasses"]
    assert (arith.result - base) @ glasses > 0.5  # applied, not cancelled by keeping it fixed
    row.remove_button.click()
    assert item.flags() & Qt.ItemFlag.ItemIsEnabled and item.checkState() == Qt.CheckState.Checked
    assert arith.kept_names() == ["glasses", "facial_hair"]


def test_send_result_to_explorer_and_export(window, tmp_path):
    arith = window.arithmetic
    window.show_panel("arithmetic")
    face_a = arith.terms[0].picker
    assert face_a.buttons["current"].isChecked() and face_a.kind == "current"
    before = face_a.latent.clone()
    result = arith.result.clone()
    arith.send_button.click()
    assert torch.allclose(window.session.state.values, arith.result)
    # A followed the explorer; it keeps its face, so the result stays put, and no longer claims to be live
    assert torch.equal(face_a.latent, before) and torch.equal(arith.result, result)
    assert not any(button.isChecked() for button in face_a.buttons.values())
    assert face_a.caption.text() == "the explorer's face before Send"
    window.explore.random_button.click()  # a later explorer change leaves it alone too
    assert torch.equal(face_a.latent, before)
    face_a.buttons["current"].click()  # chosen again: it follows again
    assert torch.equal(face_a.latent, window.session.state.values)
    assert [key for key, button in face_a.buttons.items() if button.isChecked()] == ["current"]
    assert arith.export_path(str(tmp_path / "r.png"), size=128)
    with Image.open(tmp_path / "r.png") as im:
        assert im.size == (128, 128)


def test_unlabelled_model_offers_to_compute_directions(qtbot, make_window, tiny_checkpoint, tmp_path, monkeypatch):
    win = make_window(tiny_checkpoint)
    arith = win.arithmetic
    notice = arith.from_folder.no_directions
    assert not notice.isHidden() and "no attribute directions" in notice.text()
    assert not arith.add_direction_button.isEnabled()
    write_good_faces(tmp_path / "labelled", 30, size=64)
    with qtbot.waitSignal(arith.from_folder.job.finished, timeout=60000):
        arith.from_folder.compute_directions_from(str(tmp_path / "labelled"))
    assert "glasses" in win.session.checkpoint.directions
    assert arith.add_direction_button.isEnabled() and "glasses" in arith.direction_menu_names()
    from PySide6.QtWidgets import QMessageBox

    from tests.test_directions import labels_tsv_folder

    labels_tsv_folder(tmp_path / "table")  # real labels in a labels.tsv: the copies of the Cartoon Set that have them
    write_good_faces(tmp_path / "bare", 5, size=64)
    for label_file in (tmp_path / "bare").glob("*.csv"):
        label_file.unlink()
    asked, errors = [], []  # the model has directions now: replacing them is asked first, and Cancel keeps them
    arith.from_folder.error.connect(errors.append)
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Cancel
    )
    monkeypatch.setattr(arith.from_folder, "compute_directions_from", lambda folder: pytest.fail("replaced unasked"))
    monkeypatch.setattr("gui.directions_box.ask_folder", lambda *a, **k: str(tmp_path / "bare"))
    arith.from_folder.compute_button.click()  # a folder without labels: said at once, nothing asked
    assert not asked and len(errors) == 1 and "has no labels to compute directions from" in errors[0]
    monkeypatch.setattr("gui.directions_box.ask_folder", lambda *a, **k: str(tmp_path / "table"))
    arith.from_folder.compute_button.click()
    assert asked and f"This model has {len(win.session.directions)} attribute directions" in asked[0]
    monkeypatch.undo()
    with qtbot.waitSignal(arith.from_folder.job.finished, timeout=60000):
        arith.from_folder.compute_directions_from(str(tmp_path / "table"))
    assert set(win.session.checkpoint.directions) >= {"glasses", "hair_color:0", "face shape: 2"}


def test_map_has_a_point_per_validation_face_and_click_loads_it(window, qtbot, tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 60, size=64)
    panel = window.map_panel
    with qtbot.waitSignal(panel.job.finished, timeout=60000):
        panel.load(str(folder))
    latent_map = panel.map
    from vae.explore.latent_map import map_indices

    expected = map_indices(latent_map.cache)
    assert list(latent_map.indices) == list(expected) and len(panel.scatter.data) == len(expected)
    panel.colour.setCurrentIndex(panel.colour.findData("glasses"))
    panel.pick(0)
    assert torch.allclose(window.session.state.values, latent_map.mu[0])
    panel.target.setCurrentIndex(panel.target.findData("b"))
    panel.pick(len(latent_map) - 1)
    assert torch.allclose(window.morph.slot_b.latent, latent_map.mu[-1])
    assert window.morph.slot_a.fill_from_source("dataset")


def test_the_next_launch_maps_the_same_folder_by_the_same_projection_and_exports_at_the_same_sizes(
    make_window, directed_checkpoint, qtbot, tmp_path
):
    folder = tmp_path / "faces"
    write_good_faces(folder, 30, size=64)
    first = make_window(directed_checkpoint)
    with qtbot.waitSignal(first.map_panel.job.finished, timeout=60000):
        first.map_panel.load(str(folder))
    first.map_panel.set_projection("tsne")
    qtbot.waitUntil(lambda: not first.map_panel.job.busy, timeout=60000)
    first.explore.export_size.setValue(1024)
    first.morph.export_size.setValue(128)
    first.close()

    again = make_window(directed_checkpoint)  # the same settings file: the next launch
    assert again.map_panel.layouts.projection == "tsne" and again.map_panel.projection.currentData() == "tsne"
    assert again.explore.export_size.value() == 1024 and again.morph.export_size.value() == 128
    assert again.arithmetic.export_size.value() == 512  # never changed: its own default
    with qtbot.waitSignal(again.map_panel.job.finished, timeout=60000):
        again.show_panel("map")  # the folder mapped last time, mapped again as the tab first shows
    assert again.map_panel._mapped == (str(folder), 0)
    qtbot.waitUntil(lambda: not again.map_panel.job.busy, timeout=60000)  # its t-SNE layout
    with qtbot.waitSignal(again.map_panel.job.finished, timeout=60000):
        assert again.map_panel.load("builtin", 40)
    third = make_window(directed_checkpoint)  # built-in faces mapped last: the first choice again, no folder
    assert not third.map_panel._last_folder


def test_the_map_colours_a_folder_by_its_labels_tsv(window, qtbot, tmp_path, monkeypatch):
    from tests.test_directions import labels_tsv_folder

    labels_tsv_folder(tmp_path / "table", 30)
    panel = window.map_panel
    with qtbot.waitSignal(panel.job.finished, timeout=60000):
        panel.load(str(tmp_path / "table"))
    offered = [panel.colour.itemData(i) for i in range(panel.colour.count())]
    assert panel.colour.isEnabled() and offered == [None, "face_shape", "glasses", "hair_color"]  # by their names
    panel.colour.setCurrentIndex(panel.colour.findData("hair_color"))
    legend = [label.text for _, label in panel.legend.items]
    assert legend == ["black", "brown"]
    from gui import attributes

    brushes = {tuple(b.color().getRgb()[:3]) for b in panel.scatter.data["brush"]}  # the Cartoon Set's hair colours
    assert brushes == {attributes.colour("hair_color", 0), attributes.colour("hair_color", 3)}
    words = panel.describe_point(0).splitlines()
    assert words[1].startswith("hair colour: ") and {w.split(":")[0] for w in words[1:]} == {
        "hair colour",
        "face shape",
        "glasses",
    }
    assert panel._faces_text() == "30 faces of table"  # all of them: no more than a map shows
    monkeypatch.setattr("gui.map_panel.MAX_POINTS", 30)  # a folder larger than a map: its first files are shown
    assert panel._faces_text() == "30 faces of table (its first files: a map shows at most that many)"


def test_removing_rows_updates_the_result(window):
    arith = window.arithmetic
    arith.preset_analogy()
    a, b, _ = (row.picker.latent for row in arith.terms)
    direction = arith.add_direction("glasses", 1.0)
    direction.remove_button.click()
    arith.terms[2].remove_button.click()
    assert len(arith.terms) == 2 and not arith.direction_rows
    assert torch.allclose(arith.result, a + b, atol=1e-6)


def test_morph_and_arithmetic_panels_mirror_their_models(window):
    morph = window.morph
    morph.model.update(frames=5, mode="lerp")
    assert morph.frames.value() == 5 and morph.mode.currentText() == "lerp" and morph.strip.count() == 5
    assert torch.equal(morph.latents, morph.model.latents())
    morph.model.set_ping_pong(False)
    assert not morph.loop.isChecked()
    arith = window.arithmetic
    arith.model.set_weight(1, 0.5)
    assert arith.terms[1].weight.value() == 0.5 and torch.allclose(arith.result, arith.model.result())
    arith.model.set_kept(["glasses"])
    assert arith.keep_fixed.item(0).checkState() == Qt.CheckState.Checked
    assert arith.model.apply("glasses", 0.5) and [row.name for row in arith.direction_rows] == ["glasses"]
    assert arith.direction_rows[0].slider.value() == 50 and arith.kept_names() == []
    arith.model.remove_term(0)
    assert len(arith.terms) == 2 and "+ 0.5·[glasses]" in arith.formula.text()


def test_a_jobs_progress_names_its_eta_only_once_it_is_known(qtbot):
    from gui.widgets import JobProgress
    from gui.workers import Job

    progress = JobProgress(Job("a job"))
    qtbot.addWidget(progress)
    slotted = JobProgress(Job("another"), hide_when_idle=False)  # a JobSlot shows it: alone, no window of its own
    qtbot.addWidget(slotted)
    assert not slotted.isVisible()
    progress.show_progress(3, 50, "refining", float("nan"))
    assert progress.label.text() == "refining: 3 / 50"
    progress.show_progress(10, 50, "refining", 75.0)
    assert progress.label.text() == "refining: 10 / 50 · ETA 1:15"
    progress.show_progress(50, 50, "refining", 0.0)
    assert progress.label.text() == "refining: 50 / 50"


def test_a_direction_applied_already_is_greyed_out_in_the_add_direction_menu(window):
    arith = window.arithmetic
    assert arith.add_direction("glasses", 1.0) is not None
    arith.direction_menu.aboutToShow.emit()  # the menu fills as it opens
    entries = {action.data(): action for action in arith.direction_menu.actions() if not action.menu()}
    assert not entries["glasses"].isEnabled()
    assert all(action.isEnabled() for name, action in entries.items() if name != "glasses")
    arith.direction_rows[0].remove_button.click()  # its row's ✕
    arith.direction_menu.aboutToShow.emit()
    assert all(action.isEnabled() for action in arith.direction_menu.actions() if not action.menu())
