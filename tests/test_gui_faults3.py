"""Faults of the third red team (issue 24) in the app: text from files shown as text, checkpoints checked in full
before the window switches to them, encodings for a model no longer open dropped, exports that leave the user's
files alone, and quitting past an encoder that never ends."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

pytest.importorskip("PySide6")
from PySide6 import QtGui  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QLabel, QMessageBox  # noqa: E402

from gui import dialogs  # noqa: E402
from gui.workers import Job  # noqa: E402
from tests.helpers import encoding_released_later  # noqa: E402
from vae.explore import export  # noqa: E402
from vae.model import checkpoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# What a hostile checkpoint holds, with an image that does not exist: <img src="/dev/zero"> read as HTML would make
# Qt read that "image" until memory runs out, so the tests use one that fails harmlessly when read as HTML.
MARKUP = '<img src="no-such-image.png"><b>bold</b>'
BAD_PRIOR = {"weights": torch.ones(1), "mean": torch.zeros(1, 8), "scale_tril": torch.zeros(1, 3, 3)}  # fails to use


@pytest.fixture
def window(make_window, tiny_checkpoint):
    return make_window(tiny_checkpoint)


@pytest.fixture
def other_checkpoint(tmp_path, tiny_model):
    path = tmp_path / "other.pt"
    checkpoint.save(path, tiny_model, history=[{"epoch": 1, "val_ssim": 0.5}, {"epoch": 2, "val_ssim": 0.6}])
    return path


@pytest.fixture
def boxes(monkeypatch):
    """Every message box shown, as (text format, text), answered No (or OK)."""
    shown = []

    def exec_(box):
        shown.append((box.textFormat(), box.text()))
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return shown


def shown_text(tooltip: str) -> str:
    """What a tooltip displays: Qt reads it as HTML when it looks like HTML."""
    document = QtGui.QTextDocument()
    if QtGui.Qt.mightBeRichText(tooltip):
        document.setHtml(tooltip)
    else:
        document.setPlainText(tooltip)
    return document.toPlainText()


def loads_as(monkeypatch, target: Path, **fields) -> None:
    """``checkpoint.load`` hands back ``target`` with ``fields`` replaced, as a load that let them through would."""
    real_load = checkpoint.load

    def load(path, *args, **kwargs):
        ckpt = real_load(path, *args, **kwargs)
        if Path(path) == Path(target):
            for name, value in fields.items():
                setattr(ckpt, name, value)
        return ckpt

    monkeypatch.setattr(checkpoint, "load", load)


# ---------------------------------------------------------------- 1. markup from files is shown as text
def test_a_dataset_name_in_markup_is_shown_as_text_in_the_status_bars_tooltip(make_window, tmp_path, tiny_model):
    path = tmp_path / "hostile.pt"
    checkpoint.save(path, tiny_model, dataset={"name": MARKUP, "count": 10}, history=[{"epoch": 1, "val_ssim": 0.5}])
    win = make_window(path)
    assert win.facts_label.textFormat() == Qt.TextFormat.PlainText
    assert MARKUP in shown_text(win.facts_label.toolTip())  # the dataset is named in the facts line's tooltip


def test_no_label_or_tooltip_reads_text_from_files_as_html(make_window, tmp_path, tiny_model):
    folder = tmp_path / "<b>runs"
    folder.mkdir()
    path = folder / "model.pt"
    trait = "<i>trait</i>"
    checkpoint.save(
        path,
        tiny_model,
        dataset={"name": MARKUP, "count": 10},
        history=[{"epoch": 1, "val_ssim": 0.5}],
        directions={trait: torch.ones(8) / 8**0.5, "other": -torch.ones(8) / 8**0.5},
    )
    latent_file = folder / "<b>face.json"
    export.save_latents(latent_file, torch.zeros(8))
    win = make_window(path)
    assert win.arithmetic.add_direction(trait) is not None
    picker = win.morph.slot_b
    assert picker.fill_from_source("latent", path=str(latent_file))
    assert picker.caption.text() == latent_file.name and shown_text(picker.caption.toolTip()) == latent_file.name
    items = [win.arithmetic.keep_fixed.item(i) for i in range(win.arithmetic.keep_fixed.count())]
    assert any(trait in shown_text(item.toolTip()) for item in items)
    labels = win.findChildren(QLabel)
    assert any(label.text() == trait for label in labels)  # the applied direction's row
    assert [label.text() for label in labels if label.textFormat() != Qt.TextFormat.PlainText] == []


def test_message_boxes_show_markup_in_paths_as_text(window, tmp_path, boxes, monkeypatch, caplog):
    folder = tmp_path / "<b>x"
    folder.mkdir()
    broken = folder / "broken.pt"
    broken.write_bytes(b"garbage")
    assert not window.load_checkpoint(str(broken))
    assert any("broken.pt: not a checkpoint" in r.getMessage() for r in caplog.records)  # logged too
    target = folder / "face.png"
    target.write_bytes(b"precious")
    monkeypatch.setattr(dialogs, "choose", lambda dialog: str(target))
    window.explore.ask_export()  # "Replace file?" answered No
    assert target.read_bytes() == b"precious"
    assert len(boxes) == 2 and all(fmt == Qt.TextFormat.PlainText and "<b>x" in text for fmt, text in boxes)


# ---------------------------------------------------------------- 2, 3. a checkpoint is checked before the switch
@pytest.mark.parametrize("ssim", ["high", [0.9], {"a": 1}])
def test_a_checkpoint_whose_ssim_is_not_a_number_opens_with_title_and_status_naming_it(
    window, other_checkpoint, monkeypatch, warnings, ssim
):
    loads_as(monkeypatch, other_checkpoint, history=[{"epoch": 1, "val_ssim": ssim}])
    assert window.load_checkpoint(str(other_checkpoint))
    assert window.session.path == other_checkpoint and not warnings
    assert other_checkpoint.name in window.windowTitle()
    assert other_checkpoint.name in window.facts_label.text() and "val SSIM –" in window.facts_label.text()
    assert "Validation SSIM</td><td>–" in window.about_html()


def test_a_checkpoint_that_fails_while_opening_leaves_model_title_and_status_as_they_were(
    window, other_checkpoint, monkeypatch, warnings
):
    model, title, facts = window.session.model, window.windowTitle(), window.facts_label.text()
    loads_as(monkeypatch, other_checkpoint, latent_prior=BAD_PRIOR)
    assert not window.load_checkpoint(str(other_checkpoint))
    assert window.session.model is model and window.windowTitle() == title and window.facts_label.text() == facts
    assert len(warnings) == 1 and str(other_checkpoint) in warnings[0]


def test_a_reloaded_checkpoint_whose_ssim_is_not_a_number_is_shown(window, qtbot, monkeypatch, tiny_model):
    path = window.session.path
    loads_as(monkeypatch, path, history=[{"epoch": k, "val_ssim": "high"} for k in (1, 2, 3)])
    checkpoint.save(path, tiny_model, history=[{"epoch": k, "val_ssim": 0.9} for k in (1, 2, 3)])  # the watcher sees it
    qtbot.waitUntil(lambda: "reloaded" in window.statusBar().currentMessage(), timeout=10000)
    assert "val SSIM –" in window.facts_label.text()


def test_a_reloaded_checkpoint_that_fails_while_opening_leaves_the_model_as_it_was(
    window, qtbot, monkeypatch, tiny_model
):
    path, model, facts = window.session.path, window.session.model, window.facts_label.text()
    loads_as(monkeypatch, path, latent_prior=BAD_PRIOR)
    checkpoint.save(path, tiny_model, history=[{"epoch": k, "val_ssim": 0.9} for k in (1, 2, 3)])
    qtbot.waitUntil(lambda: "cannot be read" in window.statusBar().currentMessage(), timeout=10000)
    assert window.session.model is model and window.facts_label.text() == facts


# ---------------------------------------------------------------- 9. an encoding for a model no longer open
def test_a_pickers_encoding_that_arrives_after_a_switch_to_another_latent_size_is_dropped(
    window, qtbot, monkeypatch, tmp_path
):
    small, release = encoding_released_later(monkeypatch, tmp_path)
    picker = window.morph.slot_a
    assert picker.fill_from_source("image", path=str(tmp_path / "face.png"))
    try:
        assert window.load_checkpoint(str(small))
    finally:
        release.set()
    qtbot.waitUntil(lambda: not picker.encoder.busy, timeout=10000)
    assert picker.latent.numel() == 4 and window.morph.latents.shape[-1] == 4


def test_a_pickers_encoding_that_arrives_after_a_switch_to_the_same_latent_space_is_kept_and_drawn_anew(
    window, qtbot, monkeypatch, tmp_path
):
    from tests.helpers import image_encoding_released_later, redrawn_model

    release = image_encoding_released_later(monkeypatch)
    redrawn = tmp_path / "redrawn.pt"
    checkpoint.save(redrawn, redrawn_model(window.session.model))
    picker = window.morph.slot_a
    assert picker.fill_from_source("image", path=str(tmp_path / "face.png"))
    try:
        assert window.load_checkpoint(str(redrawn)) and window.session.same_latent_space
    finally:
        release.set()
    qtbot.waitUntil(lambda: not picker.encoder.busy, timeout=10000)
    assert torch.equal(picker.latent, torch.ones(8)) and picker.caption.text() == "face.png"
    assert picker.buttons["image"].isChecked() and not picker.thumb.pixmap().isNull()


def test_an_image_encoded_for_the_explorer_across_a_switch_to_the_same_latent_space_is_shown(
    window, qtbot, monkeypatch, tmp_path
):
    from tests.helpers import redrawn_model

    release = threading.Event()

    def encode_file(path, control=None):
        release.wait(60)
        return torch.full((8,), 0.5)

    monkeypatch.setattr(window.session, "encode_file", encode_file)
    redrawn = tmp_path / "redrawn.pt"
    checkpoint.save(redrawn, redrawn_model(window.session.model))
    assert window.explore.encode_path(str(tmp_path / "face.png"))
    try:
        assert window.load_checkpoint(str(redrawn))
    finally:
        release.set()
    qtbot.waitUntil(lambda: not window.explore.encoder.busy, timeout=10000)
    assert torch.equal(window.session.state.values, torch.full((8,), 0.5))


def test_a_failed_image_for_a_kept_face_leaves_its_caption_as_it_was(window, qtbot, tmp_path):
    from gui.widgets import KEPT_CAPTION

    picker = window.morph.slot_a
    with picker.held():
        window.session.state.randomize()  # the explorer moves on while the panel holds A: A keeps its face
    assert picker.caption.text() == KEPT_CAPTION
    kept = picker.latent.clone()
    (tmp_path / "notes.png").write_text("not an image")
    with qtbot.waitSignal(picker.error, timeout=10000):
        picker.fill_from_source("image", path=str(tmp_path / "notes.png"))
    qtbot.waitUntil(lambda: not picker.encoder.busy, timeout=10000)
    assert picker.caption.text() == KEPT_CAPTION and torch.equal(picker.latent, kept)
    assert not any(button.isChecked() for button in picker.buttons.values())


# ---------------------------------------------------------------- 10. an export keeps the user's files
def test_exporting_notes_png_leaves_an_unrelated_notes_json_as_it_was(window, tmp_path):
    notes = tmp_path / "notes.json"
    notes.write_bytes(b'{"my": "notes"}\n')
    for _ in range(2):  # the second export replaces its own latent file
        assert window.explore.export_path(str(tmp_path / "notes.png"), 64)
    assert notes.read_bytes() == b'{"my": "notes"}\n'
    assert export.load_latents(export.sidecar_path(tmp_path / "notes.png"), 8).shape == (1, 8)


def test_an_export_never_replaces_a_file_that_is_not_its_latent_file(window, tmp_path, warnings):
    taken = export.sidecar_path(tmp_path / "face.png")
    taken.write_bytes(b"mine")
    assert not window.explore.export_path(str(tmp_path / "face.png"), 64)
    assert taken.read_bytes() == b"mine" and not (tmp_path / "face.png").exists()
    assert warnings and taken.name in warnings[0]


# ---------------------------------------------------------------- 14. quitting past an encoder that never ends
def test_closing_the_window_does_not_wait_for_ever_for_an_image_that_never_decodes(
    window, qtbot, monkeypatch, tmp_path
):
    release = threading.Event()

    def never_ends(path, control=None):  # a decoder stuck in an endless file, until the test lets it go
        release.wait(60)
        return torch.ones(8)

    monkeypatch.setattr(window.session, "encode_file", never_ends)
    before = window.session.state.values
    try:
        assert window.explore.encode_path(str(tmp_path / "endless.png"))
        assert window.morph.slot_a.fill_from_source("image", path=str(tmp_path / "endless.png"))
        window.close()
        assert window.isVisible()  # it waits a moment for the encoders first
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
    finally:
        release.set()
    qtbot.waitUntil(lambda: not Job.any_running(), timeout=10000)
    assert torch.equal(window.session.state.values, before)  # an abandoned encoding changes nothing


def test_a_job_still_running_at_exit_neither_holds_up_nor_crashes_the_exit():
    script = (
        "import sys, threading\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from gui.workers import Job\n"
        "app = QApplication([])\n"
        "job = Job('endless')\n"
        "job.start(lambda control: threading.Event().wait())\n"
        "sys.exit(3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        check=False,
    )
    assert result.returncode == 3, result.stderr
