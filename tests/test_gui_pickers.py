"""Controls that never move under the pointer (face pickers' source buttons, the direction menu), the reliability
of a direction by example, the elided status bar, the file dialogs' icons, and a picker's encoding across a model
switch (pytest-qt, offscreen)."""

from pathlib import Path

import pytest
import torch

pytest.importorskip("PySide6")
from PySide6.QtCore import QFileInfo  # noqa: E402
from PySide6.QtWidgets import QFileDialog, QFileIconProvider  # noqa: E402

from gui import dialogs  # noqa: E402
from tests.helpers import encoding_released_later  # noqa: E402
from vae.explore import (
    export,  # noqa: E402
    slots,  # noqa: E402
)
from vae.model import checkpoint  # noqa: E402

PNG = Path(__file__).resolve().parents[1] / "docs" / "screenshot_map.png"


@pytest.fixture
def window(make_window, tmp_path, tiny_model):
    g = torch.Generator().manual_seed(5)
    dirs = {
        "glasses": torch.nn.functional.normalize(torch.randn(8, generator=g), dim=0),
        "hair_color:0": torch.nn.functional.normalize(torch.randn(8, generator=g), dim=0),
        "hair_color:1": torch.nn.functional.normalize(torch.randn(8, generator=g), dim=0),
    }
    path = tmp_path / "dirs.pt"
    checkpoint.save(path, tiny_model, directions=dirs, latent_kl=torch.ones(8))
    return make_window(path)


def down(picker) -> list[str]:
    return [key for key, button in picker.buttons.items() if button.isChecked()]


# ---------------------------------------------------------------- face pickers: a button per source
def test_each_source_button_fills_the_picker_from_its_source(window, tmp_path, monkeypatch):
    picker = window.morph.slot_b
    picker.buttons["current"].click()
    assert picker.kind == "current" and torch.equal(picker.latent, window.session.state.values)
    assert down(picker) == ["current"]

    picker.buttons["random"].click()
    first = picker.latent.clone()
    assert picker.kind == "random" and down(picker) == ["random"]
    picker.buttons["random"].click()
    assert not torch.equal(picker.latent, first) and down(picker) == ["random"]

    saved = export.save_latents(tmp_path / "z.json", torch.full((8,), 0.5), "test")
    monkeypatch.setattr(dialogs, "choose", lambda dialog: str(saved))
    picker.buttons["latent"].click()
    assert picker.kind == "latent" and torch.equal(picker.latent, torch.full((8,), 0.5)) and down(picker) == ["latent"]


def test_a_cancelled_or_failed_source_leaves_the_picker_and_its_buttons_as_they_were(window, monkeypatch, warnings):
    picker = window.morph.slot_b
    picker.buttons["random"].click()
    before = picker.latent.clone()
    monkeypatch.setattr(dialogs, "choose", lambda dialog: None)
    for source in ("image", "latent"):
        picker.buttons[source].click()  # the dialog is cancelled
        assert torch.equal(picker.latent, before) and down(picker) == ["random"]
    assert not picker.buttons["dataset"].isEnabled() and "No faces in the Map" in picker.buttons["dataset"].toolTip()
    assert not picker.fill_from_source("dataset")  # no map yet: a message, nothing changes
    assert torch.equal(picker.latent, before) and down(picker) == ["random"]
    assert warnings and "Map" in warnings[-1]


def test_the_map_source_is_offered_once_the_map_has_faces_and_greyed_out_when_they_go(window, qtbot, tmp_path):
    from tests.helpers import write_good_faces

    write_good_faces(tmp_path / "faces", 30, size=64)
    window.arithmetic.add_term()  # a row added while the Map is empty
    pickers = [window.morph.slot_a, window.arithmetic.terms[1].picker, window.arithmetic.terms[-1].picker]
    assert not any(picker.buttons["dataset"].isEnabled() for picker in pickers)
    with qtbot.waitSignal(window.map_panel.settled, timeout=60000):
        assert window.map_panel.load(str(tmp_path / "faces"))
    for picker in pickers:
        assert picker.buttons["dataset"].isEnabled()
        picker.buttons["dataset"].click()
        assert picker.kind == "dataset" and any(torch.equal(picker.latent, mu) for mu in window.map_panel.map.mu)
    window.arithmetic.add_term()  # a row added later knows the Map's faces too
    assert window.arithmetic.terms[-1].picker.buttons["dataset"].isEnabled()
    checkpoint.save(tmp_path / "other.pt", type(window.session.model)(window.session.model.config))
    assert window.load_checkpoint(str(tmp_path / "other.pt"))  # another latent space: the Map's faces are gone
    assert not any(picker.buttons["dataset"].isEnabled() for picker in pickers)


def test_the_image_button_encodes_the_chosen_file(window, qtbot, monkeypatch, tmp_path):
    picker = window.arithmetic.terms[1].picker
    monkeypatch.setattr(
        slots, "from_image", lambda session, path, control=None: slots.FaceSlot(torch.full((8,), 0.25), "f.png")
    )
    monkeypatch.setattr(dialogs, "choose", lambda dialog: str(tmp_path / "f.png"))
    with qtbot.waitSignal(picker.encoder.finished, timeout=10000):
        picker.buttons["image"].click()
    assert picker.kind == "image" and down(picker) == ["image"] and picker.caption.text() == "f.png"
    assert torch.equal(picker.latent, torch.full((8,), 0.25))


@pytest.mark.parametrize("where", ["explorer", "picker"])
def test_a_png_opened_as_a_latent_file_gives_a_plain_message(window, monkeypatch, warnings, where):
    monkeypatch.setattr(dialogs, "choose", lambda dialog: str(PNG))
    if where == "explorer":
        window.explore.load_button.click()
    else:
        window.morph.slot_b.buttons["latent"].click()
    assert len(warnings) == 1 and PNG.name in warnings[0]
    assert "codec" not in warnings[0] and "0x89" not in warnings[0] and "Traceback" not in warnings[0]


# ---------------------------------------------------------------- the direction menu
def test_the_direction_menu_adds_the_entry_clicked_and_groups_one_attributes_values(window):
    arith = window.arithmetic
    assert arith.direction_menu_names() == ["glasses", "hair_color:0", "hair_color:1"]
    top = arith.direction_menu.actions()
    assert [a.text() for a in top] == ["+glasses", "hair colour"] and top[1].menu() is not None
    assert [a.text() for a in top[1].menu().actions()] == ["black", "dark brown"]
    top[1].menu().actions()[1].trigger()
    assert [row.name for row in arith.direction_rows] == ["hair_color:1"]
    top[0].trigger()
    assert [row.name for row in arith.direction_rows] == ["hair_color:1", "glasses"]


def test_the_direction_menu_keeps_its_entries_while_open(window, qtbot):
    arith = window.arithmetic
    window.show_panel("arithmetic")
    arith.direction_menu.popup(arith.add_direction_button.mapToGlobal(arith.add_direction_button.rect().bottomLeft()))
    qtbot.waitUntil(arith.direction_menu.isVisible, timeout=2000)
    shown = [(a.text(), a.data()) for a in arith.direction_menu.actions()]
    window.session.add_direction("bright", torch.nn.functional.normalize(torch.ones(8), dim=0))  # arrives meanwhile
    assert [(a.text(), a.data()) for a in arith.direction_menu.actions()] == shown  # nothing moved
    arith.direction_menu.hide()
    arith.direction_menu.aboutToShow.emit()  # opened again: there it is
    assert arith.direction_menu_names() == ["glasses", "hair_color:0", "hair_color:1", "bright"]


# ---------------------------------------------------------------- directions by example: how reliable
def add_examples(window, arith, count: int, spread: float) -> None:
    g = torch.Generator().manual_seed(1)
    trait = torch.zeros(8)
    trait[0] = 1.0
    for kind, sign in (("with", 1.0), ("without", -1.0)):
        for _ in range(count):
            window.session.state.set_values(sign * trait + spread * torch.randn(8, generator=g))
            assert arith.examples.add_explorer_face(kind)


def test_a_direction_from_two_plus_two_faces_is_called_weak(window, qtbot):
    arith = window.arithmetic
    add_examples(window, arith, 2, 0.1)
    assert "So far: weak: only 2 per side" in arith.examples.reliability.text()
    arith.examples.name.setText("few")
    arith.examples.create_button.click()
    text = arith.examples.reliability.text()
    assert text.startswith("“few”: weak: only 2 per side") and "use 8+ per side" in text
    assert "weak: only 2 per side" in window.statusBar().currentMessage()


def test_a_direction_from_eight_clearly_different_faces_a_side_is_called_reliable(window):
    arith = window.arithmetic
    add_examples(window, arith, 8, 0.1)
    arith.examples.name.setText("many")
    arith.examples.create_button.click()
    assert arith.examples.reliability.text() == "“many”: reliable: 16 of 16 examples agree (leave-one-out)"
    assert "many" in window.session.directions


def test_eight_faces_a_side_that_do_not_differ_in_the_trait_are_called_weak(window):
    arith = window.arithmetic
    add_examples(window, arith, 8, 3.0)  # noise swamps the trait
    assert "weak" in arith.examples.reliability.text()


# ---------------------------------------------------------------- the status bar
def test_a_long_status_message_loses_its_middle_and_shows_whole_in_the_tooltip(window, qtbot):
    label = window.status_label
    long = "start " + "x" * 400 + " the end"
    window.show_status(long)
    assert window.statusBar().currentMessage() == long
    assert label.text().startswith("start") and label.text().endswith("the end") and "…" in label.text()
    assert label.toolTip() == long and label.width() < window.width()
    window.show_status("short")
    assert label.text() == "short" and label.toolTip() == ""
    window.statusBar().clearMessage()
    assert label.text() == ""


# ---------------------------------------------------------------- file dialogs read no file for an icon
def test_every_file_dialog_gets_an_icon_provider_that_reads_no_file(window, monkeypatch, tmp_path):
    made = []
    monkeypatch.setattr(dialogs, "choose", lambda dialog: made.append(dialog))
    dialogs.ask_open_path(window, "image", "x", dialogs.IMAGE_FILTER)
    dialogs.ask_folder(window, "dataset", "x")
    dialogs.ask_save_path(window, "x", "f.png", "PNG (*.png)", ".png")
    assert len(made) == 3 and all(isinstance(d.iconProvider(), dialogs.PlainIconProvider) for d in made)
    assert made[1].fileMode() == QFileDialog.FileMode.Directory
    assert made[2].acceptMode() == QFileDialog.AcceptMode.AcceptSave
    wanted = dialogs.FILE_DIALOG_SIZE.boundedTo(window.screen().availableSize())  # as large as the screen allows
    assert wanted.width() > 632 and all(d.width() >= wanted.width() and d.height() >= wanted.height() for d in made)
    disguised = tmp_path / "notes.dat"  # a PNG by its content: only reading it tells
    disguised.write_bytes(PNG.read_bytes()[:256])
    assert "PNG" in QFileIconProvider().type(QFileInfo(str(disguised)))  # Qt's own provider reads it
    provider = made[0].iconProvider()
    assert provider.type(QFileInfo(str(disguised))) == "DAT file"
    assert not provider.icon(QFileInfo(str(disguised))).isNull() and provider.type(QFileInfo(str(tmp_path))) == "Folder"


# ---------------------------------------------------------------- issue 25: an encoding for a model no longer open
def test_a_pickers_encoding_arriving_after_a_switch_to_another_latent_size_changes_nothing(
    window, qtbot, monkeypatch, tmp_path
):
    small, release = encoding_released_later(monkeypatch, tmp_path)
    monkeypatch.setattr(dialogs, "choose", lambda dialog: str(tmp_path / "face.png"))
    morph = window.morph
    morph.slot_b.buttons["image"].click()
    assert morph.slot_b.encoder.busy and morph.slot_b.caption.text().startswith("encoding")
    try:
        assert window.load_checkpoint(str(small))
    finally:
        release.set()
    qtbot.waitUntil(lambda: not morph.slot_b.encoder.busy, timeout=10000)
    qtbot.waitUntil(lambda: not morph.slot_b.caption.text().startswith("encoding"), timeout=10000)
    assert morph.slot_b.latent.numel() == 4 and morph.slot_b.kind == "random" and down(morph.slot_b) == ["random"]
    assert morph.latents.shape[-1] == 4 and not morph.slot_b.caption.text().startswith("encoding")
    morph.rebuild()


def test_open_checkpoint_starts_in_the_open_models_folder_until_another_folder_is_used(window, monkeypatch, tmp_path):
    from PySide6.QtCore import QSettings

    from gui import dialogs

    store = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    monkeypatch.setattr(dialogs, "_store", lambda settings: store)
    opened_in = []
    monkeypatch.setattr(dialogs, "choose", lambda dialog: opened_in.append(dialog.directory().absolutePath()))
    window._ask_checkpoint()
    assert opened_in == [str(window.session.path.parent)]
    dialogs.remember_folder("checkpoint", str(tmp_path / "x.pt"), None)
    window._ask_checkpoint()
    assert opened_in[-1] == str(tmp_path)
