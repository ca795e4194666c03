"""The app driven as a person would: pytest-qt, offscreen."""

import threading
from pathlib import Path

import pytest
import torch
from PIL import Image

pytest.importorskip("PySide6")
from PySide6.QtCore import QPoint, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from gui.train_panel import LossPlot, TrainPanel, run_state  # noqa: E402
from gui.widgets import LogView  # noqa: E402
from tests.helpers import redrawn_model, write_good_faces  # noqa: E402
from vae.model import checkpoint  # noqa: E402
from vae.train.run_history import stop_position  # noqa: E402
from vae.train.trainer import DEFAULT_MODEL_RECIPE, StepEvent  # noqa: E402


@pytest.fixture
def window(make_window, tiny_checkpoint):
    return make_window(tiny_checkpoint)


def face_of(win):
    return win.explore.face.image.clone()


def test_window_opens_with_a_face_and_sliders(window):
    assert len(window.explore.sliders) == window.session.model.latent_dim
    assert window.explore.face.pixmap() is not None and not window.explore.face.pixmap().isNull()
    assert "latent 8" in window.facts_label.text()
    assert window.explore.sliders[7].label.text() == "z7·"  # unused dimension flagged


def test_moving_a_slider_changes_the_face_and_undo_restores(window, qtbot):
    before_face = face_of(window)
    before = window.session.state.values
    slider = window.explore.sliders[0].slider
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_PageUp)
    assert window.session.state.values[0] == pytest.approx(0.5)
    assert not torch.equal(face_of(window), before_face)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert torch.equal(window.session.state.values, before)
    assert torch.equal(face_of(window), before_face)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.session.state.values[0] == pytest.approx(0.5)
    qtbot.keyClick(slider, Qt.Key.Key_Up)  # an arrow key is a visible step, not 0.01σ
    assert window.session.state.values[0] == pytest.approx(0.6)


def test_a_clicked_slider_takes_the_keyboard_and_shows_it(window, qtbot):
    slider = window.explore.sliders[1].slider
    qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=slider.rect().center())
    assert slider.hasFocus()
    focused = slider.grab().toImage()
    slider.clearFocus()
    assert slider.grab().toImage() != focused  # the handle's focus ring is gone
    slider.setFocus()
    start = window.session.state.values[1].item()
    qtbot.keyClick(slider, Qt.Key.Key_Down)
    assert window.session.state.values[1].item() == pytest.approx(start - 0.1)


def test_long_slider_session_keeps_none_alive(window):
    """PySide6 6.12.0 dropped a reference to None on every call returning nothing: after enough
    slider moves Python 3.11 aborts ("deallocating None"). The app must not lose references."""
    import sys

    slider = window.explore.sliders[0].slider
    before = sys.getrefcount(None)
    for i in range(200):
        slider.setValue(slider.minimum() + i % 50)
    assert sys.getrefcount(None) > before - 1000  # 6.12.0 lost about 20 per move here


def test_a_slider_drag_repaints_the_face_its_slider_and_the_readout_not_every_slider(window, qtbot):
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    painted = []

    class PaintSpy(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint:
                painted.append(watched)
            return False

    qtbot.waitExposed(window)
    QApplication.processEvents()
    spy = PaintSpy()
    QApplication.instance().installEventFilter(spy)
    panel = window.explore
    dragged = panel.sliders[0].slider
    others = [s.slider for d, s in panel.sliders.items() if d != 0]
    try:
        dragged.setSliderDown(True)
        for value in (50, 120, -80, 30):
            painted.clear()
            dragged.setValue(value)
            for _ in range(4):  # every repaint the move asked for, and any layout pass those ask for in turn
                QApplication.processEvents()
            assert panel.face in painted and dragged in painted and panel.readout in painted
            assert not any(slider in painted for slider in others)
        assert f"z0 = {dragged.value() / 100:+.2f}σ" in panel.readout.text()
    finally:
        dragged.setSliderDown(False)
        QApplication.instance().removeEventFilter(spy)


def test_the_readout_elides_a_long_line_and_shows_it_whole_in_its_tooltip(window):
    readout = window.explore.readout
    readout.setText("z1 = +0.50σ")
    assert readout.text() == "z1 = +0.50σ" and readout.toolTip() == ""
    long = "z1 · " + "a direction with a long name " * 20 + "= +0.50σ"
    readout.setText(long)
    assert readout.text() == long and "a direction with a long name" in readout.toolTip()


def test_random_changes_face_respects_locks_and_decodes_once(window, qtbot):
    window.session.state.set_dim(2, 1.5)
    qtbot.mouseClick(window.explore.sliders[2].lock, Qt.MouseButton.LeftButton)
    assert 2 in window.session.state.locks
    before_face = face_of(window)
    decodes = window.session.renderer.decodes
    qtbot.mouseClick(window.explore.random_button, Qt.MouseButton.LeftButton)
    assert window.session.renderer.decodes == decodes + 1
    assert window.session.state.values[2] == 1.5
    assert not torch.equal(face_of(window), before_face)
    slider_values = [window.explore.sliders[d].slider.value() for d in range(8)]
    expected = [round(max(-3, min(3, float(v))) * 100) for v in window.session.state.values]
    assert slider_values == expected


def test_shortcuts_random_and_reset(window, qtbot):
    qtbot.keyClick(window, Qt.Key.Key_R)
    assert window.session.state.values.abs().sum() > 0
    qtbot.keyClick(window, Qt.Key.Key_Home)
    assert torch.equal(window.session.state.values, torch.zeros(8))


def test_the_explorers_keys_act_only_while_its_tab_shows_the_face(window, qtbot):
    qtbot.keyClick(window, Qt.Key.Key_R)
    shown = window.session.state.values
    window.tabs.setCurrentWidget(window.morph)
    for key, modifiers in (
        (Qt.Key.Key_R, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_Home, Qt.KeyboardModifier.NoModifier),
        (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier),
    ):
        qtbot.keyClick(window, key, modifiers)
        assert torch.equal(window.session.state.values, shown)  # nothing changes out of sight
    assert not window.undo_action.isEnabled() and not any(a.isEnabled() for a in window.explore_actions)
    window.tabs.setCurrentWidget(window.explore)
    assert window.undo_action.isEnabled() and all(a.isEnabled() for a in window.explore_actions)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not torch.equal(window.session.state.values, shown)


def test_undo_and_redo_on_morph_and_arithmetic_give_back_the_faces(window, qtbot, tmp_path):
    from vae.explore import export

    window.show_panel("morph")
    morph = window.morph
    assert not window.undo_action.isEnabled() and not window.redo_action.isEnabled()  # nothing changed yet
    z = torch.linspace(-1, 1, window.session.model.latent_dim)
    export.save_latents(tmp_path / "kept.json", z)
    assert morph.slot_b.fill_from_source("latent", str(tmp_path / "kept.json"))
    kept = morph.slot_b.latent
    assert morph.slot_b.fill_from_source("random")  # the face from the file is replaced…
    other = morph.slot_b.latent
    assert window.undo_action.isEnabled() and not torch.equal(morph.model.b, kept)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert torch.equal(morph.slot_b.latent, kept) and torch.equal(morph.model.b, kept)  # …and comes back
    assert morph.slot_b.caption.text() == "kept.json" and morph.slot_b.kind == "latent"
    assert "Face B: back to kept.json (Undo)" in window.statusBar().currentMessage()
    assert window.redo_action.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert torch.equal(morph.slot_b.latent, other) and "(Redo)" in window.statusBar().currentMessage()
    window.undo()
    assert morph.slot_a.fill_from_source("random")  # a new choice: nothing left to redo
    assert not window.redo_action.isEnabled()
    window.undo()  # A followed the explorer: Undo makes it follow again
    assert morph.slot_a.kind == "current" and torch.equal(morph.slot_a.latent, window.session.state.values)

    window.show_panel("arithmetic")
    arith = window.arithmetic
    faces = [row.picker.latent for row in arith.terms]
    assert arith.terms[2].picker.fill_from_source("random")
    window.undo()
    assert torch.equal(arith.terms[2].picker.latent, faces[2]) and torch.equal(arith.model.terms[2][1], faces[2])
    arith.terms[0].remove_button.click()  # × on face A: one face fewer…
    assert len(arith.terms) == 2 and window.undo_action.isEnabled()
    window.undo()  # …and back, every face where it was
    assert [torch.equal(row.picker.latent, face) for row, face in zip(arith.terms, faces)] == [True] * 3
    assert len(arith.model.terms) == 3
    arith.preset_button.click()  # the preset replaces every face; Undo gives them back
    assert not torch.equal(arith.terms[1].picker.latent, faces[1])
    window.undo()
    assert torch.equal(arith.terms[1].picker.latent, faces[1]) and torch.equal(arith.model.terms[1][1], faces[1])
    arith.add_term_button.click()
    assert len(arith.terms) == 4
    window.undo()
    assert len(arith.terms) == 3 and len(arith.model.terms) == 3
    window.redo()
    assert len(arith.terms) == 4
    window.show_panel("explore")
    assert window.session.state.can_undo == window.undo_action.isEnabled()


def encode(window, qtbot, path):
    with qtbot.waitSignal(
        window.explore.encoder.running_changed, timeout=30000, check_params_cb=lambda running: not running
    ):
        assert window.explore.encode_path(str(path))


def test_cancelling_an_encoding_while_it_refines_leaves_the_face_as_it_was(window, qtbot, tmp_path, monkeypatch):
    name = write_good_faces(tmp_path / "faces", 1, size=64)[0]
    before = window.session.state.values.clone()
    job = window.explore.encoder
    encode_file = window.session.encode_file

    def encode_until_cancelled(path, control):
        """The refinement waits at its first step until the window's cancel reaches it, however slow the machine."""
        asked = threading.Event()
        control.on_stop(asked.set)
        report = control.progress

        def progress(done, total, what=""):
            report(done, total, what)
            assert asked.wait(30), "the cancel never reached the refinement"

        control.progress = progress
        return encode_file(path, control)

    monkeypatch.setattr(window.session, "encode_file", encode_until_cancelled)
    job.progress.connect(lambda done, total, what, eta: job.cancel())  # at the first refinement step
    with qtbot.waitSignal(job.cancelled, timeout=30000):
        assert window.explore.encode_path(str(tmp_path / "faces" / f"{name}.png"))
    assert torch.equal(window.session.state.values, before)
    assert "encoding cancelled" in window.statusBar().currentMessage()
    assert not window.explore.encode_progress.isVisible()


def test_an_encoding_shows_its_progress_in_the_readouts_place_and_moves_nothing(window, qtbot, tmp_path, monkeypatch):
    name = write_good_faces(tmp_path / "faces", 1, size=64)[0]
    panel = window.explore
    qtbot.waitExposed(window)
    before = {widget: widget.geometry() for widget in (panel.face, panel.slider_box, panel.encode_button)}
    release = threading.Event()
    encode_file = window.session.encode_file

    def encode_when_released(path, control):
        assert release.wait(30), "the test never let the encoding go on"
        return encode_file(path, control)

    monkeypatch.setattr(window.session, "encode_file", encode_when_released)
    assert panel.encode_path(str(tmp_path / "faces" / f"{name}.png"))
    qtbot.waitUntil(lambda: panel.encode_progress.isVisible())
    assert not panel.readout.isVisible()
    assert {widget: widget.geometry() for widget in before} == before
    with qtbot.waitSignal(panel.encoder.running_changed, timeout=30000, check_params_cb=lambda running: not running):
        release.set()
    assert panel.readout.isVisible() and not panel.encode_progress.isVisible()
    assert {widget: widget.geometry() for widget in before} == before


def test_encode_image_sets_sliders_to_its_encoding(window, qtbot, sample_dir):
    path = sorted(sample_dir.glob("*.png"))[0]
    encode(window, qtbot, path)
    mu = window.session.encode_file(path)
    assert torch.allclose(window.session.state.values, mu, atol=1e-4)
    for dim, widget in window.explore.sliders.items():
        assert widget.slider.value() == round(max(-3, min(3, float(mu[dim]))) * 100)


def test_encode_bad_image_reports_error(window, qtbot, tmp_path, warnings):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    before = window.session.state.values
    encode(window, qtbot, bad)
    assert warnings and "bad.png" in warnings[-1]
    assert torch.equal(window.session.state.values, before)
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (200, 200), (0, 0, 0, 0)).save(clear)  # a fully transparent image: no face in it
    encode(window, qtbot, clear)
    assert "clear.png: a blank image (one colour, or fully transparent)" in warnings[-1]
    assert torch.equal(window.session.state.values, before)


def test_export_png_of_chosen_size(window, tmp_path):
    out = tmp_path / "face.png"
    window.explore.export_size.setValue(320)
    assert window.explore.export_path(str(out))
    with Image.open(out) as im:
        assert im.size == (320, 320)
    assert (tmp_path / "face.png.json").exists()


def test_save_and_load_latent(window, tmp_path):
    window.session.state.randomize(1.0, torch.Generator().manual_seed(4))
    saved = window.session.state.values
    assert window.explore.save_latent_path(str(tmp_path / "z.json"))
    window.session.state.reset()
    assert window.explore.load_latent_path(str(tmp_path / "z.json"))
    assert torch.allclose(window.session.state.values, saved)


def test_a_latent_file_of_another_length_is_refused_by_name(window, tmp_path, warnings):
    short = tmp_path / "short.json"
    short.write_text('{"latents": [[0.1, 0.2, 0.3]]}')
    before = window.session.state.values
    assert not window.explore.load_latent_path(str(short))
    assert f"{short}: holds latents of 3 values; this model uses {window.session.model.latent_dim}" in warnings[-1]
    assert torch.equal(window.session.state.values, before)


def test_bad_checkpoint_keeps_the_old_model(window, tmp_path, warnings):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"garbage")
    old = window.session
    assert not window.load_checkpoint(str(bad))
    assert window.session is old
    assert warnings and "broken.pt" in warnings[-1]


def test_opening_a_checkpoint_says_so_with_a_busy_cursor_until_it_ends(window, tmp_path, monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    seen = []
    real_load = checkpoint.load

    def load(path):
        seen.append((window.statusBar().currentMessage(), QApplication.overrideCursor().shape()))
        return real_load(path)

    monkeypatch.setattr(checkpoint, "load", load)
    monkeypatch.setattr(QMessageBox, "exec", lambda box: seen.append(QApplication.overrideCursor()))
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"garbage")
    assert not window.load_checkpoint(str(bad))
    assert seen == [(f"opening {bad}…", Qt.CursorShape.WaitCursor), None]  # the cursor is back for the error box
    assert QApplication.overrideCursor() is None


def test_the_file_menu_opens_each_pretrained_model(window):
    from vae.explore.default_choice import DEFAULT_64, DEFAULT_128

    texts = [action.text() for action in window.default_actions]
    assert texts == ["128 × 128 px (default_model_128.pt)", "64 × 64 px (default_model.pt)"]
    window.default_actions[1].trigger()
    assert window.session.path == DEFAULT_64 and window.session.model.image_size == 64
    assert window.settings.value("model/last") == str(DEFAULT_64.resolve())  # what the next launch opens
    window.default_actions[0].trigger()
    assert window.session.path == DEFAULT_128 and window.session.model.image_size == 128
    assert "default_model_128.pt: the same latent space" in window.statusBar().currentMessage()


def test_a_tabs_status_message_goes_when_another_tab_is_shown(window):
    window.show_status("cannot write /x.png: permission denied")
    window.show_panel("train")
    assert window.statusBar().currentMessage() == ""
    window.send_to_explorer(window.session.state.values + 0.5, "the morph frame")  # switches tab, then says so
    assert window.statusBar().currentMessage().startswith("the morph frame sent to the Explorer")


def test_open_other_checkpoint_rebuilds_sliders(window, tmp_path):
    from vae.model.network import ConvVAE, VAEConfig

    path = tmp_path / "other.pt"
    checkpoint.save(path, ConvVAE(VAEConfig(latent_dim=5, base_channels=4)))
    assert window.load_checkpoint(str(path))
    assert len(window.explore.sliders) == 5 and window.session.state.latent_dim == 5
    message = window.statusBar().currentMessage()  # (a note on speed may follow, on a busy computer)
    assert message.startswith("opened other.pt: another latent space, new faces in every tab")


def test_a_model_opened_by_hand_that_draws_too_slowly_here_says_so(window, tmp_path, monkeypatch):
    from vae.model.network import ConvVAE, VAEConfig

    path = tmp_path / "other.pt"
    checkpoint.save(path, ConvVAE(VAEConfig(latent_dim=5, base_channels=4)))
    monkeypatch.setattr("vae.explore.default_choice.DECODE_BUDGET_MS", 0.0)
    assert window.load_checkpoint(str(path))  # it opens all the same
    message = window.statusBar().currentMessage()
    assert message.startswith("opened other.pt: another latent space") and "ms a face here: sliders will lag" in message
    monkeypatch.setattr("vae.explore.default_choice.DECODE_BUDGET_MS", float("inf"))
    assert window.load_checkpoint(str(path))
    assert "sliders will lag" not in window.statusBar().currentMessage()  # a quick model: nothing to say


def test_dataset_folder_is_remembered(window, tmp_path):
    write_good_faces(tmp_path / "faces", 3, size=64)
    window.open_dataset_folder(str(tmp_path / "faces"))
    assert window.recent_folders()[0] == str(tmp_path / "faces")
    assert "3 images; 3 with a label file (.csv)" in window.train.data_info.text()
    assert window.tabs.currentWidget() is window.train


@pytest.fixture
def small_folder(tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 30, size=64)
    return folder


def _setup_training(window, folder, tmp_path, epochs):
    panel = window.train
    panel.set_folder(str(folder))
    panel.epochs.setValue(epochs)
    panel.batch_size.setValue(8)
    panel.latent_dim.setValue(4)
    panel.out_dir.setText(str(tmp_path / "run"))
    panel.ask_to_load = False
    return panel


def test_training_run_reports_progress_and_finishes(window, qtbot, small_folder, tmp_path):
    panel = _setup_training(window, small_folder, tmp_path, epochs=1)
    steps = []
    with qtbot.waitSignal(panel.running_changed, timeout=5000):
        panel.start()
    panel.job.event.connect(lambda e: isinstance(e, StepEvent) and steps.append(e))
    with qtbot.waitSignal(panel.running_changed, timeout=120000):
        pass
    assert panel.last_result is not None and panel.last_result.status == "finished"
    assert steps and panel.plot.x and panel.plot.val_x == [1]
    assert panel.progress.value() == panel.progress.maximum()
    assert not panel.preview.pixmap().isNull()
    assert (tmp_path / "run" / "best.pt").exists()
    assert not panel.job.busy
    assert window.recent_folders()[0] == str(small_folder) and window.recent_menu.isEnabled()


def test_the_train_tab_starts_from_the_recipe_of_the_shipped_model(qtbot):
    panel = TrainPanel(None)
    qtbot.addWidget(panel)
    config = panel.config()
    shipped = checkpoint.load(Path(__file__).resolve().parents[1] / "resources" / "default_model.pt").model.config
    assert config.model == shipped  # the same architecture as the default model, full-resolution stage included
    assert (
        (config.beta, config.lr, config.batch_size)
        == (DEFAULT_MODEL_RECIPE.beta, DEFAULT_MODEL_RECIPE.lr, DEFAULT_MODEL_RECIPE.batch_size)
        == (0.02, 1e-3, 64)
    )
    panel.image_size.setCurrentText("128")
    panel.beta.setValue(0.5)
    assert panel.config().model.image_size == 128 and panel.config().beta == 0.5


def test_the_train_tab_remembers_its_settings_for_the_next_launch(window, qtbot, small_folder, tmp_path, monkeypatch):
    panel = _setup_training(window, small_folder, tmp_path, epochs=1)
    panel.lr.setValue(0.0005)
    panel.beta.setValue(0.2)
    with qtbot.waitSignal(panel.running_changed, timeout=5000):
        panel.start()
    with qtbot.waitSignal(panel.running_changed, timeout=120000):
        pass
    later = TrainPanel(window.settings)
    qtbot.addWidget(later)
    assert (later.epochs.value(), later.batch_size.value(), later.latent_dim.value()) == (1, 8, 4)
    assert later.lr.value() == pytest.approx(0.0005) and later.beta.value() == pytest.approx(0.2)
    assert later.folder_radio.isChecked() and later.folder_edit.text() == str(small_folder)
    assert "last run" in later.data_info.text()  # not walked at start-up
    later.describe_folder()
    assert "30 images" in later.data_info.text()
    later.show()
    assert later.out_dir.text() != str(tmp_path / "run")  # that run finished: a new run folder
    window.settings.setValue("train/epochs", "many")  # a hand-edited settings file keeps the default
    assert TrainPanel(window.settings).epochs.value() == 20
    window.settings.remove("train/recipe")  # saved by a version with other defaults (β 1): the recipe's values instead
    older = TrainPanel(window.settings)
    assert older.beta.value() == pytest.approx(DEFAULT_MODEL_RECIPE.beta) and older.batch_size.value() == 64
    assert older.folder_edit.text() == str(small_folder)  # the dataset choice is still remembered
    offered = []

    def answer(box):  # Enter: the default button
        offered.append([b.text() for b in box.buttons()])
        box.defaultButton().click()

    monkeypatch.setattr(QMessageBox, "exec", answer)
    assert panel.ask_reuse(tmp_path / "run", run_state(tmp_path / "run")) == "new"  # Enter never replaces a run
    assert "Start over" in offered[0] and "Resume" not in offered[0]  # the run finished: nothing to resume
    assert "New folder (run-2)" in offered[0]


def test_stop_mid_run_leaves_a_resumable_checkpoint(window, qtbot, small_folder, tmp_path):
    panel = _setup_training(window, small_folder, tmp_path, epochs=200)
    assert not panel.resume_button.isEnabled() and "no run to resume" in panel.resume_button.toolTip()
    assert not panel.extend.isEnabled()  # how far to resume means nothing without a run to resume
    panel.start()
    assert not panel.pause_button.isEnabled() and "once training starts" in panel.pause_button.toolTip()
    qtbot.waitUntil(lambda: bool(panel.plot.x), timeout=120000)
    assert panel.pause_button.isEnabled()  # the dataset is ready and training runs: Pause now pauses
    panel.pause_button.click()
    assert panel.eta.text().startswith("paused at epoch ")
    panel._on_event(panel.monitor.last_step)  # a step that ended as Pause was pressed arrives late
    assert panel.eta.text().startswith("paused at epoch ") and "images/s" not in panel.eta.text()
    with qtbot.waitSignal(panel.running_changed, timeout=120000):
        panel.stop()
    assert panel.last_result.status == "stopped"
    state = checkpoint.load(tmp_path / "run" / "last.pt").training
    assert state["epoch"] * 4 + state["step"] >= 1  # 4 steps an epoch: it stopped part-way, position saved
    where = stop_position(state["epoch"], state["step"], 200, 4)
    assert panel.last_result.stopped_at == where
    assert panel.eta.text() == f"stopped {where} · Resume continues from there"
    assert [line for line in panel.log_view.toPlainText().splitlines() if "stopped" in line] == [
        f"stopped {where}; saved {tmp_path / 'run' / 'last.pt'} (resuming continues from it)"
    ]  # one stop message, in the words the eta line uses
    later = TrainPanel(window.settings)  # the next launch offers the stopped run to Resume
    qtbot.addWidget(later)
    assert later.out_dir.text() != str(tmp_path / "run")  # not read at start-up: when the tab is shown
    later.show()
    assert later.out_dir.text() == str(tmp_path / "run") and later.resume_button.isEnabled()
    assert (
        f"{tmp_path / 'run'} holds your last run, stopped {where}: Resume continues it" in later.log_view.toPlainText()
    )
    _train_on_unusable_images(panel, qtbot, tmp_path / "unusable", tmp_path / "aborted")  # no checkpoint written
    third = TrainPanel(window.settings)  # the launch after it still offers the stopped run
    qtbot.addWidget(third)
    third.show()
    assert third.out_dir.text() == str(tmp_path / "run") and third.resume_button.isEnabled()


def test_typing_a_folder_chooses_it_and_the_description_follows_the_choice(window, qtbot, small_folder):
    panel = window.train
    assert panel.builtin_radio.isChecked()
    qtbot.keyClicks(panel.folder_edit, str(small_folder))
    assert panel.folder_radio.isChecked()
    qtbot.keyClick(panel.folder_edit, Qt.Key.Key_Return)
    assert "30 images" in panel.data_info.text()
    panel.builtin_radio.click()  # the tab is not shown here: a click as the button receives it
    assert panel.data_info.text() == panel.dataset.builtin_info()
    panel.folder_radio.click()
    assert "30 images" in panel.data_info.text()


def _train_on_unusable_images(panel, qtbot, folder, out_dir) -> None:
    """Start a run on a folder whose one image is empty, and wait for its error."""
    folder.mkdir()
    (folder / "a.png").write_bytes(b"")
    panel.set_folder(str(folder))
    panel.out_dir.setText(str(out_dir))
    with qtbot.waitSignal(panel.running_changed, timeout=5000):
        panel.start()
    with qtbot.waitSignal(panel.running_changed, timeout=60000):
        pass
    assert "no usable images" in panel.log_view.toPlainText()


def test_training_error_is_reported_and_thread_ends(window, qtbot, tmp_path):
    panel = window.train
    _train_on_unusable_images(panel, qtbot, tmp_path / "empty", tmp_path / "run")
    assert not panel.job.busy and panel.start_button.isEnabled()


def test_the_training_log_keeps_showing_its_newest_line_until_the_user_scrolls_up(qtbot):
    log = LogView()
    qtbot.addWidget(log)
    log.resize(400, 300)
    log.show()
    for i in range(200):
        log.append_line(f"epoch {i}")
    bar = log.verticalScrollBar()
    assert bar.value() == bar.maximum() > 0
    log.resize(400, 120)  # the window made smaller: the newest line stays in view
    log.append_line("epoch 200")
    assert bar.value() == bar.maximum()
    bar.triggerAction(bar.SliderAction.SliderPageStepSub)  # the user scrolls up to read
    reading = bar.value()
    log.append_line("epoch 201")
    log.resize(400, 100)
    assert bar.value() == reading < bar.maximum()
    bar.triggerAction(bar.SliderAction.SliderToMaximum)  # and back down: it follows again
    log.append_line("epoch 202")
    assert bar.value() == bar.maximum()


def test_event_loop_keeps_ticking_while_training(window, qtbot, small_folder, tmp_path):
    import time

    panel = _setup_training(window, small_folder, tmp_path, epochs=2)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    panel.start()
    with qtbot.waitSignal(panel.running_changed, timeout=120000):
        pass
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(gaps) > 20
    assert max(gaps) < 0.1, f"GUI stalled for {max(gaps) * 1000:.0f} ms"


def test_screenshot_command(tmp_path, tiny_checkpoint, monkeypatch):
    import main

    out = tmp_path / "shot.png"
    assert main.main(["--checkpoint", str(tiny_checkpoint), "--screenshot", str(out), "--panel", "train"]) == 0
    with Image.open(out) as im:
        assert im.size == (1280, 800)


def test_bad_checkpoint_on_command_line_exits_2(tmp_path, capsys):
    import main

    bad = tmp_path / "x.pt"
    bad.write_bytes(b"12")
    assert main.main(["--checkpoint", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "x.pt" in err


def test_start_up_card_is_painted_before_the_model_loads(qapp, monkeypatch):
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QLabel

    import main

    painted, seen = [], []

    class Paints(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint and isinstance(watched, QLabel) and watched.isWindow():
                painted.append(watched.text())
            return False

    spy = Paints()
    QApplication.instance().installEventFilter(spy)

    def open_session(args, last_model=None):
        seen.append(list(painted))
        return None

    monkeypatch.setattr(main, "open_session", open_session)
    try:
        assert main.main([]) == 2
    finally:
        QApplication.instance().removeEventFilter(spy)
    assert len(seen) == 1 and any("Loading the model" in text for text in seen[0])


def test_dropping_an_image_encodes_it(window, qtbot, sample_dir):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    path = sorted(sample_dir.glob("*.png"))[1]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(
        QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    window.show_panel("train")
    drop = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(window.explore.encoder.finished, timeout=30000):
        window.dropEvent(drop)
    assert torch.allclose(window.session.state.values, window.session.encode_file(path), atol=1e-4)
    assert window.tabs.currentWidget() is window.explore


def test_the_loss_plot_legend_matches_its_points_before_any_data(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    assert plot.val.scatter.opts["brush"].color().name() == "#ff7f0e"  # the legend's marker, drawn at once
    total, recon = plot.curves["total"], plot.curves["recon"]
    assert recon.zValue() > total.zValue()  # a thin reconstruction line inside the wide, pale total band
    assert total.opts["pen"].widthF() >= 4 * recon.opts["pen"].widthF() and total.opts["pen"].color().alpha() < 255
    assert plot.getPlotItem().getAxis("bottom").labelText == "epoch"


def test_the_loss_plot_reads_plain_epochs_in_a_first_epoch(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    for step in range(1, 40):
        plot.add_step(step / 1000, 3000.0 / step, 2000.0 / step, 10.0)
    plot.getPlotItem().getViewBox().autoRange()
    for side in ("bottom", "left"):
        axis = plot.getPlotItem().getAxis(side)
        assert axis.autoSIPrefixScale == 1.0 and "(x" not in axis.labelString()  # no "epoch (x0.001)"


def test_the_loss_plot_starts_at_epoch_0_from_its_first_step(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(400, 300)
    plot.add_step(0.01, 300.0, 250.0, 50.0)  # one point: padding alone would centre it, from about −0.4
    plot.getPlotItem().getViewBox().autoRange()
    assert plot.getPlotItem().getViewBox().viewRange()[0][0] == 0
    for step in range(1, 40):
        plot.add_step(step, 3000.0 / step, 2000.0 / step, 10.0)
    plot.getPlotItem().getViewBox().autoRange()
    plot.clear_data()  # a new run: no axes of the last run's 39 epochs and thousands of loss
    assert plot.getPlotItem().getViewBox().viewRange() == [[0, 1], [0, 1]]


@pytest.fixture
def collections():
    """(generation, whether in the main thread) of each garbage collection that starts during the test."""
    import gc
    import threading

    started = []

    def record(phase, info):
        if phase == "start":
            started.append((info["generation"], threading.current_thread() is threading.main_thread()))

    gc.callbacks.append(record)
    yield started
    gc.callbacks.remove(record)


def test_garbage_is_collected_in_the_gui_thread_only(window, qtbot, collections):
    import threading

    def make_cycles():  # far more than one generation's threshold of cyclic garbage
        for _ in range(50_000):
            cycle = []
            cycle.append(cycle)

    worker = threading.Thread(target=make_cycles)
    collections.clear()  # from here on
    worker.start()
    worker.join()
    assert collections == []  # nothing collected in the worker thread
    qtbot.waitUntil(lambda: bool(collections), timeout=5000)  # the window's timer collects it
    assert all(in_main for _, in_main in collections)


def test_a_full_collection_waits_while_a_job_runs(window, qtbot, collections):
    import gc
    import threading

    from gui import garbage
    from gui.workers import Job

    def generations():
        return [generation for generation, _ in collections]

    collector = window.garbage_collector
    release = threading.Event()
    job = Job("waits", window)
    job.start(lambda control: release.wait(60))
    try:
        for _ in range(gc.get_threshold()[2] + 1):  # each collection of generation 1 counts towards a full one
            gc.collect(1)
        assert gc.get_count()[2] > collector.thresholds[2]
        collector.last_full_collection -= garbage.FULL_COLLECTION_GAP_S + 1  # a minute since the last one
        collections.clear()
        collector.collect_due()
        assert 2 not in generations()  # held while the job runs
        collector.last_full_collection -= garbage.FULL_COLLECTION_GAP_WHILE_A_JOB_RUNS_S  # five minutes, job or not
        collector.collect_due()
        assert generations()[-1] == 2
        release.set()
        qtbot.waitUntil(lambda: not Job.any_running(), timeout=30000)  # this job, and any an earlier test left ending
        for _ in range(gc.get_threshold()[2] + 1):  # after the wait: a window an earlier test left may collect in it
            gc.collect(1)
        collections.clear()
        collector.collect_due()
        assert 2 not in generations()  # at most one a minute
        collector.last_full_collection -= garbage.FULL_COLLECTION_GAP_S
        collector.collect_due()
        assert generations()[-1] == 2
    finally:
        release.set()


def test_a_job_deleted_while_its_thread_runs_does_not_count_as_running_after_it_ends(qtbot):
    import threading

    import shiboken6
    from PySide6.QtCore import QObject

    from gui.workers import Job

    owner = QObject()
    release = threading.Event()
    job = Job("orphaned", owner)
    job.start(lambda control: release.wait(60))
    assert Job.any_running()
    shiboken6.delete(owner)  # e.g. a panel row removed while its encoder runs
    del job
    release.set()
    qtbot.waitUntil(lambda: not Job.any_running(), timeout=10000)


def test_opening_a_model_that_shares_the_latent_space_keeps_the_face_and_says_so(window, tmp_path, qtbot):
    slider = window.explore.sliders[1].slider
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_PageUp)
    face = window.session.state.values.clone()
    checkpoint.save(tmp_path / "redrawn.pt", redrawn_model(window.session.model))
    assert window.load_checkpoint(str(tmp_path / "redrawn.pt"))
    assert torch.equal(window.session.state.values, face)
    assert "redrawn.pt: the same latent space, every tab's faces kept" in window.statusBar().currentMessage()


def test_a_model_of_the_same_latent_space_keeps_the_morph_and_arithmetic_faces_and_draws_them_anew(
    window, tmp_path, qtbot
):
    morph, arith = window.morph, window.arithmetic
    assert morph.slot_b.fill_from_source("random")
    b, frames = morph.slot_b.latent.clone(), morph.images.clone()
    terms = [row.picker.latent.clone() for row in arith.terms]
    result = arith.face.image.clone()
    checkpoint.save(tmp_path / "redrawn.pt", redrawn_model(window.session.model))
    assert window.load_checkpoint(str(tmp_path / "redrawn.pt"))
    assert torch.equal(morph.slot_b.latent, b) and morph.slot_b.kind == "random"
    assert not torch.equal(morph.images, frames)  # the same path, drawn by the new decoder
    assert all(torch.equal(row.picker.latent, z) for row, z in zip(arith.terms, terms, strict=True))
    assert not torch.equal(arith.face.image, result)

    other = type(window.session.model)(window.session.model.config)  # an encoder of its own: another latent space
    checkpoint.save(tmp_path / "other.pt", other)
    assert window.load_checkpoint(str(tmp_path / "other.pt"))
    assert "other.pt: another latent space, new faces in every tab" in window.statusBar().currentMessage()
    assert not torch.equal(morph.slot_b.latent, b)  # a fresh random B
    assert not any(torch.equal(row.picker.latent, z) for row, z in zip(arith.terms[1:], terms[1:], strict=False))


def test_a_face_sent_to_the_explorer_is_said_in_the_status_bar(window):
    window.arithmetic.send_result()
    assert torch.equal(window.session.state.values, window.arithmetic.result)
    assert window.statusBar().currentMessage().startswith("the arithmetic result sent to the Explorer")
    window.session.state.undo()
    assert not torch.equal(window.session.state.values, window.arithmetic.result)
