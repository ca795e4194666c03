"""Closing the app keeps the work, and the next launch on a model of the same latent space takes it up."""

from pathlib import Path

import pytest
import torch

pytest.importorskip("PySide6")

from vae.model import checkpoint  # noqa: E402


def make_work(window):
    """Moves in the explorer (with a lock), a morph between two given faces and a weighted sum."""
    g = torch.Generator().manual_seed(4)
    first, second, third = torch.randn(3, window.session.model.latent_dim, generator=g)
    window.session.state.set_values(first)
    window.session.state.set_values(second)
    window.session.state.set_lock(1, True)
    window.morph.model.update(frames=6, mode="lerp")
    window.arithmetic.model.set_terms([(1.0, first), (0.4, third)])
    return first, second, third


def test_closing_keeps_the_work_and_the_next_launch_takes_it_up(make_window, tiny_checkpoint, tmp_path):
    first = make_window(tiny_checkpoint)
    first.work_folder = tmp_path / "state" / "work"
    first_face, second, third = make_work(first)  # while the Morph tab is hidden: its face A has not caught up
    morph_b = first.morph.slot_b.latent
    first.close()
    assert len(list(first.work_folder.glob("*.json"))) == 1

    later = make_window(tiny_checkpoint)
    later.work_folder = first.work_folder
    assert later.take_up_work()
    state = later.session.state
    assert torch.equal(state.values, second) and state.locks == {1} and state.can_undo
    assert torch.equal(later.morph.slot_b.latent, morph_b) and later.morph.slot_b.caption.text() == "random (T=0.8)"
    assert later.morph.slot_a.kind == "current" and torch.equal(later.morph.slot_a.latent, second)  # still follows
    assert torch.equal(later.morph.model.a, second) and torch.equal(later.morph.model.b, morph_b)
    state.undo()  # the history came along
    assert torch.equal(state.values, first_face) and torch.equal(later.morph.slot_a.latent, first_face)
    assert later.morph.frames.value() == 6 and later.morph.mode.currentText() == "lerp"
    assert [row.weight.value() for row in later.arithmetic.terms] == [1.0, 0.4]
    assert torch.equal(later.arithmetic.terms[1].picker.latent, third)

    own = make_window(tiny_checkpoint)  # a launch that chose its own face (--seed) keeps it
    own.work_folder, before = first.work_folder, own.session.state.values
    assert own.take_up_work(explore=False)
    assert torch.equal(own.session.state.values, before) and own.morph.frames.value() == 6
    assert torch.equal(own.morph.model.a, before)  # face A follows this launch's explorer face


def test_the_next_launch_keeps_each_faces_caption_and_the_examples_of_a_trait(make_window, tiny_checkpoint, tmp_path):
    from vae.explore import export
    from vae.explore.slots import FaceSlot

    first = make_window(tiny_checkpoint)
    first.work_folder = tmp_path / "work"
    g = torch.Generator().manual_seed(1)
    face, other, kept = torch.randn(3, first.session.model.latent_dim, generator=g)
    export.save_latents(tmp_path / "smile.json", kept)
    assert first.morph.slot_b.fill_from_source("latent", str(tmp_path / "smile.json"))
    first.session.add_example("with", FaceSlot(face, "0001.png"))
    first.session.add_example("without", FaceSlot(other, "random (T=0.8)"))
    caption = first.morph.slot_b.caption.text()
    assert "smile.json" in caption
    first.show_panel("morph")
    first.morph.timeline.setValue(first.morph.timeline.maximum())
    first.morph.send_button.click()  # face A followed the explorer; sent a frame, it keeps the face it had and says so
    assert first.morph.slot_a.caption.text() == "the explorer's face before Send"
    first.close()

    later = make_window(tiny_checkpoint)
    later.work_folder = first.work_folder
    assert later.take_up_work()
    assert later.morph.slot_b.caption.text() == caption  # the file it came from, not "face B of your last session"
    assert later.morph.slot_a.caption.text() == "the explorer's face before Send"  # not "explorer face": it is not
    assert [slot.label for slot in later.session.examples["with"]] == ["0001.png"]
    assert torch.equal(later.session.examples["without"][0].latent, other)
    assert later.arithmetic.examples.counts["with"].text() == "With the trait: 1"


def test_work_of_another_latent_space_or_damaged_is_left_and_the_app_starts_afresh(
    make_window, tiny_checkpoint, tmp_path, caplog
):
    first = make_window(tiny_checkpoint)
    first.work_folder = tmp_path / "work"
    make_work(first)
    first.close()
    model = type(first.session.model)(first.session.model.config)  # another encoder: other faces
    checkpoint.save(tmp_path / "other.pt", model)
    other = make_window(tmp_path / "other.pt")
    other.work_folder, before = first.work_folder, other.session.state.values
    assert not other.take_up_work() and torch.equal(other.session.state.values, before)
    next(first.work_folder.glob("*.json")).write_text("{ half a file")
    again = make_window(tiny_checkpoint)
    again.work_folder = first.work_folder
    assert not again.take_up_work()
    assert any("not readable saved work" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def test_opening_a_model_of_another_latent_space_keeps_the_work_for_its_return(make_window, tiny_checkpoint, tmp_path):
    window = make_window(tiny_checkpoint)
    window.work_folder = tmp_path / "work"
    first, second, _ = make_work(window)
    morph_b = window.morph.slot_b.latent.clone()
    checkpoint.save(tmp_path / "other.pt", type(window.session.model)(window.session.model.config))
    assert window.load_checkpoint(str(tmp_path / "other.pt"))  # say, a model just trained
    assert not torch.equal(window.session.state.values, second) and not window.session.state.can_undo
    assert "new faces in every tab" in window.statusBar().currentMessage()
    window.session.state.set_values(third := torch.randn(window.session.model.latent_dim))

    assert window.load_checkpoint(str(tiny_checkpoint))  # back: the work made with it, history and all
    state = window.session.state
    assert torch.equal(state.values, second) and state.locks == {1} and state.can_undo
    assert torch.equal(window.morph.slot_b.latent, morph_b)
    assert "your last work with its latent space taken up" in window.statusBar().currentMessage()
    state.undo()
    assert torch.equal(state.values, first)
    assert window.load_checkpoint(str(tmp_path / "other.pt"))  # and the other model's work waited for it too
    assert torch.equal(window.session.state.values, third)


def test_work_that_cannot_be_kept_never_stops_the_app_closing(make_window, tiny_checkpoint, caplog):
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc, a folder where no one can create files")
    window = make_window(tiny_checkpoint)
    window.work_folder = Path("/proc/face-explorer/work")  # no one creates folders in /proc
    assert window.close() and not window.isVisible()
    assert any("keeping the work for the next launch" in r.getMessage() for r in caplog.records)
