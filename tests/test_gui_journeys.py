"""Issue 13's findings as a person meets them: quitting, progress and Cancel, messages, Resume, Random with
locks, Reset, feedback, and the polish items (pytest-qt, offscreen)."""

import time
from pathlib import Path

import pytest
import torch
from PIL import Image

pytest.importorskip("PySide6")
from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from gui.train_panel import TrainPanel  # noqa: E402
from tests.helpers import write_good_faces  # noqa: E402
from vae.data.attribute_names import VALUE_NAMES  # noqa: E402
from vae.model import checkpoint  # noqa: E402
from vae.model.latent import typical_latent  # noqa: E402


@pytest.fixture
def prior_checkpoint(tmp_path, tiny_model):
    g = torch.Generator().manual_seed(1)
    a = torch.randn(8, 8, generator=g) * 0.3
    tril = torch.linalg.cholesky(a @ a.T + 0.05 * torch.eye(8))
    prior = {
        "weights": torch.tensor([0.3, 0.7]),
        "mean": torch.stack([torch.full((8,), -1.0), torch.full((8,), 1.0)]),
        "scale_tril": torch.stack([tril, tril]),
    }
    path = tmp_path / "prior.pt"
    checkpoint.save(
        path,
        tiny_model,
        latent_prior=prior,
        latent_kl=torch.linspace(2, 0.5, 8),
        history=[{"epoch": 1, "val_ssim": 0.949125517941139, "val_psnr": 28.97}],
        dataset={"source": "test faces", "count": 10},
    )
    return path


@pytest.fixture
def window(make_window, prior_checkpoint):
    return make_window(prior_checkpoint)


@pytest.fixture
def small_folder(tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 30, size=64)
    return folder


@pytest.fixture
def questions(monkeypatch):
    """Answers every QMessageBox.question with the answer in ``questions.answer``; records the titles."""

    class Questions(list):
        answer = QMessageBox.StandardButton.Yes

    asked = Questions()

    def question(parent, title, text, *args, **kwargs):
        asked.append((title, text))
        return asked.answer

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def start_training(window, folder, out_dir, epochs, qtbot):
    panel = window.train
    panel.set_folder(str(folder))
    panel.epochs.setValue(epochs)
    panel.batch_size.setValue(8)
    panel.latent_dim.setValue(4)
    panel.out_dir.setText(str(out_dir))
    panel.ask_to_load = False
    assert panel.start()
    return panel


def gui_gaps(qtbot, until, timeout):
    """Run the event loop until ``until()``; the longest pause between 10 ms timer ticks, in seconds."""
    ticks = [time.perf_counter()]
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    qtbot.waitUntil(until, timeout=timeout)
    timer.stop()
    ticks.append(time.perf_counter())
    return max(b - a for a, b in zip(ticks, ticks[1:]))


# ---------------------------------------------------------------- 1. quitting while training runs
def test_quit_while_training_asks_stops_at_the_next_step_and_never_blocks(
    window, qtbot, small_folder, tmp_path, questions
):
    panel = start_training(window, small_folder, tmp_path / "run", 500, qtbot)
    qtbot.waitUntil(lambda: bool(panel.plot.x), timeout=120000)
    t0 = time.perf_counter()
    window.close()
    assert time.perf_counter() - t0 < 0.1  # close() returns at once: the GUI thread never waits on the run
    assert questions and questions[0][0] == "Stop training and quit?"
    assert "Training goes on until you answer; then it stops at its next step" in questions[0][1]
    # the run finishes its step and writes last.pt in its own thread; meanwhile the GUI keeps ticking
    # (bounds measured on the shared, loaded 2-core test machine at nice 15: about 1.4 s and 0.14 s)
    longest = gui_gaps(qtbot, lambda: not window.isVisible(), timeout=3000)
    assert time.perf_counter() - t0 < 3.0 and longest < 0.2
    assert panel.last_result.status == "stopped" and not panel.job.busy
    state = checkpoint.load(tmp_path / "run" / "last.pt").training
    assert state["epoch"] * 4 + state["step"] >= 1  # the position was saved: Resume continues from it


def test_a_signal_quits_without_asking_saving_the_run_and_the_work(window, qtbot, small_folder, tmp_path, questions):
    import signal

    window.work_folder = tmp_path / "work"
    panel = start_training(window, small_folder, tmp_path / "run", 500, qtbot)
    qtbot.waitUntil(lambda: bool(panel.plot.x), timeout=120000)
    window.quit_for_signal(signal.SIGTERM)  # logout, or kill: no one to answer a question
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
    assert not questions and panel.last_result.status == "stopped"
    assert checkpoint.load(tmp_path / "run" / "last.pt").training["epoch"] is not None
    assert len(list((tmp_path / "work").glob("*.json"))) == 1  # the explorer's face, kept for the next launch


def test_a_signal_while_the_quit_question_is_open_answers_it(window, qtbot, small_folder, tmp_path, monkeypatch):
    import signal

    panel = start_training(window, small_folder, tmp_path / "run", 500, qtbot)
    qtbot.waitUntil(lambda: bool(panel.plot.x), timeout=120000)
    boxes = modal_questions(monkeypatch)
    QTimer.singleShot(300, lambda: window.quit_for_signal(signal.SIGHUP))  # a terminal closed under the question
    window.close()  # the question, open until the signal answers it
    assert boxes[0].clickedButton() is boxes[0].button(QMessageBox.StandardButton.Yes)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
    assert panel.last_result.status == "stopped"


def test_answering_no_keeps_training_and_the_window(window, qtbot, small_folder, tmp_path, questions):
    questions.answer = QMessageBox.StandardButton.No
    panel = start_training(window, small_folder, tmp_path / "run", 500, qtbot)
    qtbot.waitUntil(lambda: bool(panel.plot.x), timeout=120000)
    window.close()
    assert window.isVisible() and panel.job.busy and not panel.job.stopping
    with qtbot.waitSignal(panel.running_changed, timeout=60000):
        panel.stop()


def modal_questions(monkeypatch) -> list:
    """Questions asked as Qt's own are, each a modal box in its own event loop (the autouse fixture stubs
    exec()); the boxes shown, in order. A box no one answers says No after two minutes."""
    boxes = []

    def modal_question(parent, title, text, *args, **kwargs):
        box = QMessageBox(
            QMessageBox.Icon.Question,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            parent,
        )
        boxes.append(box)
        QTimer.singleShot(120000, box.button(QMessageBox.StandardButton.No).click)  # a user who gives up waiting
        box.setModal(True)
        loop = QEventLoop()
        box.finished.connect(loop.quit)
        box.show()
        loop.exec()
        return box.standardButton(box.clickedButton())

    monkeypatch.setattr(QMessageBox, "question", modal_question)
    return boxes


def test_a_run_that_ends_while_the_quit_question_is_open_still_quits(
    window, qtbot, small_folder, tmp_path, monkeypatch
):
    panel = start_training(window, small_folder, tmp_path / "run", 2, qtbot)
    panel.ask_to_load = True
    qtbot.waitUntil(lambda: bool(panel.plot.x), timeout=120000)
    asked = []

    def answer_when_the_run_has_ended(parent, title, text, *args, **kwargs):
        asked.append(title)
        qtbot.waitUntil(lambda: not panel.job.busy, timeout=120000)  # the user reads the question meanwhile
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer_when_the_run_has_ended)
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=3000)
    assert asked == ["Stop training and quit?"]  # no "Training finished, load it?" on top of the quit question
    assert panel.last_result.status == "finished" and panel.ask_to_load


def test_the_quit_question_answers_itself_when_the_run_ends_meanwhile(
    window, qtbot, small_folder, tmp_path, monkeypatch
):
    panel = start_training(window, small_folder, tmp_path / "run", 3, qtbot)
    qtbot.waitUntil(lambda: bool(panel.plot.x), timeout=120000)
    boxes = modal_questions(monkeypatch)
    window.close()  # returns once the question is answered
    assert [box.windowTitle() for box in boxes] == ["Stop training and quit?"]
    assert boxes[0].clickedButton() is boxes[0].button(QMessageBox.StandardButton.Yes)
    assert panel.last_result.status == "finished"  # the run ended by itself, and the question with it
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=3000)


def test_quit_interrupts_dataset_preparation(window, qtbot, tmp_path, questions):
    from vae.data.cache import cache_root

    panel = window.train
    panel.builtin_count = 4000  # minutes of face generation: quitting must not wait for it
    panel.out_dir.setText(str(tmp_path / "run"))
    assert panel.start()
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=60000)
    assert "generating faces" in panel.eta.text() and "ETA" in panel.eta.text()
    t0 = time.perf_counter()
    window.close()
    longest = gui_gaps(qtbot, lambda: not window.isVisible(), timeout=3000)
    assert time.perf_counter() - t0 < 3.0 and longest < 0.2  # (measured here: 0.6 s and 0.15 s)
    assert "If it still is when you answer, that stops at once and nothing is trained" in questions[0][1]
    assert not any(p.name.endswith(".tmp") for p in cache_root().iterdir())
    assert not (tmp_path / "run" / "last.pt").exists()


def test_quitting_waits_for_a_face_pickers_encoder_too(window, qtbot):
    import threading

    from vae.common.control import Cancelled

    release = threading.Event()

    def encode(control):  # an image still being encoded when the window is closed
        release.wait(60)
        assert control.should_stop()  # closing cancelled it
        raise Cancelled

    picker = window.morph.slot_a
    assert picker.encoder.start(encode)
    try:
        window.close()
        assert window.isVisible()  # the window closes once the encoder's thread has ended, never under it
    finally:
        release.set()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
    assert not picker.encoder.busy


# ---------------------------------------------------------------- 2. long work: quick default, progress, Cancel
def test_map_default_source_is_instant_and_encoding_generated_faces_shows_progress_and_cancels(window, qtbot):
    from gui.map_panel import QUICK_COUNT

    panel = window.map_panel
    choices = [tuple(panel.source.itemData(i)) for i in range(panel.source.count())]
    assert choices[0] == ("drawn", QUICK_COUNT) and tuple(panel.source.currentData()) == choices[0]  # none to make
    quick = choices.index(("builtin", QUICK_COUNT))
    assert QUICK_COUNT <= 2000  # not 20,000 new faces
    panel.source.setCurrentIndex(quick)
    seen = []
    panel.job.progress.connect(lambda done, total, what, eta: seen.append((done, total, what)))
    panel.load_button.click()
    qtbot.waitUntil(lambda: bool(seen) and not panel.job_progress.isHidden(), timeout=60000)
    assert seen[-1][1] == QUICK_COUNT and " / " in panel.job_progress.label.text()
    with qtbot.waitSignal(panel.job.cancelled, timeout=10000):
        panel.job_progress.cancel_button.click()
    assert panel.map is None and "Cancelled" in panel.status.text() and panel.load_button.isEnabled()


def test_compute_directions_reports_progress_and_says_what_it_did(window, qtbot, tmp_path):
    write_good_faces(tmp_path / "labelled", 30, size=64)
    arith = window.arithmetic
    progress = []
    arith.from_folder.job.progress.connect(lambda *args: progress.append(args))
    with qtbot.waitSignal(arith.from_folder.job.finished, timeout=60000):
        arith.from_folder.compute_directions_from(str(tmp_path / "labelled"))
    assert progress and progress[-1][2] == "encoding faces"
    assert "glasses" in window.session.directions and "glasses" in arith.direction_menu_names()
    assert "attribute directions from" in window.statusBar().currentMessage()


# ---------------------------------------------------------------- 3. not a checkpoint
@pytest.mark.parametrize(
    "name,content",
    [
        ("README.md", b"# Face Explorer\n\nA readme.\n"),
        ("face.json", b'{"format": "face-explorer-latent", "latents": [[0.1]]}'),
    ],
)
def test_opening_a_file_that_is_not_a_checkpoint_says_so_plainly(window, tmp_path, warnings, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    old_model = window.session.model
    assert not window.load_checkpoint(str(path))
    assert window.session.model is old_model
    assert name in warnings[-1] and "not a" in warnings[-1].lower() and "run code" not in warnings[-1]


def test_opening_a_png_as_a_checkpoint_says_so_plainly(window, tmp_path, warnings):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "face.png")
    assert not window.load_checkpoint(str(tmp_path / "face.png"))
    assert "face.png" in warnings[-1] and "run code" not in warnings[-1]


# ---------------------------------------------------------------- 4. Resume, extend, reuse warning, facts refresh
def test_resume_continues_at_the_right_epoch_and_extend_adds_epochs(window, qtbot, small_folder, tmp_path, monkeypatch):
    panel = start_training(window, small_folder, tmp_path / "run", 1, qtbot)
    qtbot.waitUntil(lambda: not panel.job.busy, timeout=120000)
    assert panel.last_result.epochs_done == 1
    assert "warning: only 30 images: too few to learn faces from" in panel.log_view.toPlainText()
    # a finished run cannot be resumed without extending it
    errors = []
    panel.error.connect(errors.append)
    assert not panel.resume() and "more epochs beside Resume" in errors[-1]
    assert panel.extend.isEnabled() and panel.extend.text() == "to its planned end"
    assert not panel.resume_button.isEnabled() and "finished its 1 epoch: set how many more" in (
        panel.resume_button.toolTip()
    )
    panel.extend.setValue(1)
    assert panel.extend.text() == "then 1 more epoch(s)" and panel.resume_button.isEnabled()
    first_steps, first_validations = list(panel.plot.x), list(panel.plot.val_x)
    assert panel.resume()
    qtbot.waitUntil(lambda: not panel.job.busy, timeout=120000)
    assert "resuming" in panel.log_view.toPlainText() and "at epoch 2" in panel.log_view.toPlainText()
    assert panel.last_result.epochs_done == 2
    # the plot carries on the run's curves: epoch 1's steps and validation point stay, epoch 2's follow them
    assert panel.plot.x[: len(first_steps)] == first_steps and len(panel.plot.x) > len(first_steps)
    assert panel.plot.val_x[:1] == first_validations and len(panel.plot.val_x) == 2
    assert [row["epoch"] for row in checkpoint.load(tmp_path / "run" / "last.pt").history] == [1, 2]
    # after a relaunch the plot starts from the saved epochs: their losses, then the resumed steps
    later = TrainPanel(window.settings)
    qtbot.addWidget(later)
    later.ask_to_load = False
    later.out_dir.setText(str(tmp_path / "run"))
    later.extend.setValue(1)
    with monkeypatch.context() as failing:
        failing.setattr(later, "_launch", lambda *args, **kwargs: False)  # a launch that fails keeps what was set
        assert not later.resume() and later.extend.value() == 1
    assert later.resume()
    assert later.extend.value() == 0 and later.epochs.value() == 3  # the extension is the run's planned end now
    qtbot.waitUntil(lambda: not later.job.busy, timeout=120000)
    steps_per_epoch = len(first_steps)
    assert later.plot.val_x == [1, 2, 3]  # at the epochs' ends
    assert later.plot.x == pytest.approx([(i + 1) / steps_per_epoch for i in range(3 * steps_per_epoch)])


def test_resume_of_a_run_read_with_limit_reads_the_same_faces(window, qtbot, small_folder, tmp_path):
    from vae.model.network import VAEConfig
    from vae.train.trainer import TrainConfig
    from vae.train.training_run import TrainingRun

    config = TrainConfig(model=VAEConfig(latent_dim=4, base_channels=8), epochs=1, batch_size=8, device="cpu")
    TrainingRun(config, [str(small_folder)], tmp_path / "run", limit=20).run()  # as train_cli.py --limit 20 makes it
    panel = window.train
    panel.ask_to_load = False
    panel.out_dir.setText(str(tmp_path / "run"))
    panel.extend.setValue(1)
    errors = []
    panel.error.connect(errors.append)
    assert panel.resume()
    qtbot.waitUntil(lambda: not panel.job.busy, timeout=120000)
    resumed = checkpoint.load(tmp_path / "run" / "last.pt")
    assert not errors and len(resumed.history) == 2 and resumed.dataset["count"] == 20  # not the folder's 30


def test_a_new_run_starts_with_a_clean_status_preview_and_plot(window, qtbot, small_folder, tmp_path):
    panel = start_training(window, small_folder, tmp_path / "first", 1, qtbot)
    qtbot.waitUntil(lambda: not panel.job.busy, timeout=120000)
    assert panel.eta.text() == "finished 1 epoch" and not panel.preview.pixmap().isNull()
    start_training(window, small_folder, tmp_path / "second", 1, qtbot)
    assert panel.eta.text() == "preparing the dataset…" and panel.preview.pixmap().isNull()
    assert panel.plot.x == [] and all(panel.plot.getPlotItem().getViewBox().autoRangeEnabled())
    qtbot.waitUntil(lambda: not panel.job.busy, timeout=120000)


def test_start_on_a_used_run_folder_asks_first(window, qtbot, small_folder, tmp_path, monkeypatch):
    panel = start_training(window, small_folder, tmp_path / "run", 1, qtbot)
    qtbot.waitUntil(lambda: not panel.job.busy, timeout=120000)
    asked = []
    monkeypatch.setattr(panel, "ask_reuse", lambda out_dir, state: asked.append(state) or "cancel")
    before = (tmp_path / "run" / "best.pt").stat().st_mtime_ns
    assert not panel.start()
    assert asked and asked[0]["epoch"] == 1 and not panel.job.busy
    assert (tmp_path / "run" / "best.pt").stat().st_mtime_ns == before
    monkeypatch.setattr(panel, "ask_reuse", lambda out_dir, state: "new")  # a new run beside it instead
    assert panel.start()
    assert panel.out_dir.text() == str(tmp_path / "run-2")
    qtbot.waitUntil(lambda: not panel.job.busy, timeout=120000)
    assert (tmp_path / "run-2" / "best.pt").is_file()
    assert (tmp_path / "run" / "best.pt").stat().st_mtime_ns == before
    panel.out_dir.setText(str(tmp_path / "elsewhere"))  # the status line follows the run folder chosen
    assert panel.eta.text() == "" and panel.progress.value() == 0
    panel.out_dir.setText(str(tmp_path / "run"))
    assert panel.eta.text() == "finished 1 epoch" and panel.progress.value() == panel.progress.maximum()
    errors = []
    panel.error.connect(errors.append)
    (tmp_path / "empty").mkdir()
    panel.set_folder(str(tmp_path / "empty"))  # no images: said first, before any question about the run folder
    asked.clear()
    monkeypatch.setattr(panel, "ask_reuse", lambda out_dir, state: asked.append(state) or "replace")
    assert not panel.start() and not asked and not panel.job.busy
    panel.set_folder(str(small_folder))
    panel.out_dir.setText("/proc/face-explorer-run")  # a place no run can write to: said before any preparation
    assert not panel.start() and not panel.job.busy
    assert "/proc/face-explorer-run: the run's files cannot be written there" in errors[-1]


def test_facts_refresh_when_the_loaded_model_file_changes(window, qtbot, prior_checkpoint, tiny_model):
    assert "0.900" not in window.facts_label.text()
    checkpoint.save(prior_checkpoint, tiny_model, history=[{"epoch": k, "val_ssim": 0.9} for k in (1, 2, 3)])
    qtbot.waitUntil(lambda: "0.900" in window.facts_label.text(), timeout=5000)
    assert "reloaded (3 epochs" in window.statusBar().currentMessage()


# ---------------------------------------------------------------- 5, 6. Random with locks, Reset, Zero all
def test_random_with_locks_keeps_them_and_draws_likely_faces(window, qtbot):
    from vae.model.latent import mixture_log_prob

    session = window.session
    order = session.dimension_order
    for dim in order[:3]:
        qtbot.mouseClick(window.explore.sliders[dim].lock, Qt.MouseButton.LeftButton)
    assert session.state.locks == frozenset(order[:3])
    kept = session.state.values[order[:3]]
    draws = []
    for _ in range(20):
        qtbot.mouseClick(window.explore.random_button, Qt.MouseButton.LeftButton)
        assert torch.equal(session.state.values[order[:3]], kept)
        draws.append(session.state.values)
    session.state.clear_locks()
    free = []
    for _ in range(20):
        window.explore.randomize()
        free.append(session.state.values)
    assert not any(w.lock.isChecked() for w in window.explore.sliders.values())
    locked_lp = mixture_log_prob(session.prior, torch.stack(draws)).mean()
    free_lp = mixture_log_prob(session.prior, torch.stack(free)).mean()
    assert locked_lp > free_lp - 2.0


def test_reset_lands_on_the_typical_face_and_zero_all_on_zero(window, qtbot):
    qtbot.keyClick(window, Qt.Key.Key_R)
    qtbot.keyClick(window, Qt.Key.Key_Home)
    assert torch.equal(window.session.state.values, typical_latent(window.session.prior))
    qtbot.mouseClick(window.explore.zero_button, Qt.MouseButton.LeftButton)
    assert torch.equal(window.session.state.values, torch.zeros(8))
    window.session.state.undo()
    assert torch.equal(window.session.state.values, typical_latent(window.session.prior))


# ---------------------------------------------------------------- 7. feedback
def test_save_latent_and_export_say_what_was_written_where(window, tmp_path):
    assert window.explore.save_latent_path(str(tmp_path / "z.json"))
    assert str(tmp_path / "z.json") in window.statusBar().currentMessage()
    assert window.explore.export_path(str(tmp_path / "f.png"), 128)
    message = window.statusBar().currentMessage()
    assert message == f"wrote f.png (128×128 px from 64 px) and f.png.json in {tmp_path}"


def test_a_long_export_message_keeps_the_file_names(window, qtbot, tmp_path):
    window.resize(900, 500)
    window.show()
    qtbot.waitExposed(window)
    folder = tmp_path / ("a_long_folder_name_" * 8) / "faces"
    folder.mkdir(parents=True)
    assert window.explore.export_path(str(folder / "my_face.png"), 128)
    label = window.status_label
    shown = label.text()
    assert shown.startswith("wrote my_face.png (128×128 px from 64 px) and my_face.png.json in ")
    assert "…" in shown and shown.endswith("_name_/faces")  # the folder loses its middle, and keeps its own name
    assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width() + 1
    head = "wrote my_face.png (128×128 px from 64 px) and my_face.png.json in "
    for width in range(label.fontMetrics().horizontalAdvance(head) - 40, label.width(), 7):
        label.resize(width, label.height())
        shown = label.text()  # the folder keeps its own name, or the whole message loses its middle
        assert not shown.startswith(head) or shown.endswith("/faces")


def test_a_long_status_message_loses_its_middle_never_its_end(window, qtbot, tmp_path):
    window.resize(700, 500)
    window.show()
    qtbot.waitExposed(window)
    path = tmp_path / ("a_long_folder_name_" * 6) / "saved_latent.json"
    window.show_status(f"wrote {path}")
    label = window.status_label
    for width in range(300, 340):  # wherever the cut falls between letters
        label.resize(width, label.height())
        shown = label.text()
        assert "…" in shown and shown.endswith("saved_latent.json")  # the file's name, whole, to its last letter
        assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width() + 1  # Qt's rounding
    assert str(path) in label.toolTip()


# ---------------------------------------------------------------- polish
def test_dialogs_start_in_the_last_folder_of_their_kind(window, tmp_path, monkeypatch):
    from gui import dialogs

    starts = []
    chosen = tmp_path / "pictures" / "me.png"
    chosen.parent.mkdir()

    def fake_choose(dialog):
        starts.append(dialog.directory().absolutePath())
        return str(chosen)

    monkeypatch.setattr(dialogs, "choose", fake_choose)
    assert dialogs.ask_open_path(window, "image", "x", dialogs.IMAGE_FILTER) == str(chosen)
    dialogs.ask_open_path(window, "image", "x", dialogs.IMAGE_FILTER)
    dialogs.ask_open_path(window, "latent", "x", dialogs.LATENT_FILTER)
    assert starts[1] == str(chosen.parent) and starts[2] != str(chosen.parent)
    assert "work/main" not in starts[0]


def test_a_save_folder_that_cannot_be_written_is_not_remembered(window, tmp_path, monkeypatch):
    from gui import dialogs

    good, bad = tmp_path / "out", Path("/proc")  # no one creates files in /proc, root included
    if not bad.is_dir():
        pytest.skip("needs /proc, a folder where no one can create files")
    good.mkdir()
    answers = iter([str(good / "a.png"), str(bad / "b.png")])
    monkeypatch.setattr(dialogs, "choose", lambda dialog: next(answers))
    assert dialogs.ask_save_path(window, "x", "f.png", "PNG (*.png)", ".png") == str(good / "a.png")
    assert dialogs.ask_save_path(window, "x", "f.png", "PNG (*.png)", ".png") == str(bad / "b.png")
    assert dialogs.last_folder("export") == str(good)


def test_a_save_name_keeps_an_image_suffix_it_has_and_else_gets_the_chosen_filters(window, monkeypatch, tmp_path):
    from gui import dialogs

    def answer(name, name_filter=None):
        def fake_choose(dialog):
            if name_filter:
                dialog.selectNameFilter(name_filter)
            return str(tmp_path / name)

        monkeypatch.setattr(dialogs, "choose", fake_choose)
        return dialogs.ask_save_path(window, "x", "f.png", dialogs.STILL_FILTER, ".png")

    assert answer("big.jpg") == str(tmp_path / "big.jpg")
    assert answer("big.WebP") == str(tmp_path / "big.WebP")
    assert answer("big") == str(tmp_path / "big.png")
    assert answer("big", "JPEG image (*.jpg *.jpeg)") == str(tmp_path / "big.jpg")
    assert answer("big.tif") == str(tmp_path / "big.tif.png")
    monkeypatch.setattr(dialogs, "choose", lambda dialog: str(tmp_path / "big.jpg"))
    window.explore.ask_export()
    with Image.open(tmp_path / "big.jpg") as exported:
        assert exported.format == "JPEG" and exported.size == (window.explore.export_size.value(),) * 2
    assert (tmp_path / "big.jpg.json").is_file() and not (tmp_path / "big.jpg.png").exists()


def test_face_picker_shows_what_it_holds_and_follows_the_explorer(window, qtbot):
    picker = window.morph.slot_a
    assert picker.buttons["current"].isChecked() and picker.caption.text() == "explorer face"
    window.session.state.set_dim(0, 2.5)
    assert torch.equal(picker.latent, window.session.state.values)  # live, not a stale copy
    picker.buttons["random"].click()  # choosing applies at once: no Set button
    assert picker.kind == "random" and picker.caption.text().startswith("random")
    assert [key for key, button in picker.buttons.items() if button.isChecked()] == ["random"]
    first = picker.latent.clone()
    picker.buttons["random"].click()  # again: another random face, and the button stays down
    assert not torch.equal(picker.latent, first) and picker.buttons["random"].isChecked()
    window.session.state.set_dim(0, -1.0)
    assert not torch.equal(picker.latent, window.session.state.values)


def test_filmstrip_click_shows_the_frame_without_changing_tabs(window, qtbot):
    morph = window.morph
    window.show_panel("morph")
    rect = morph.strip.visualItemRect(morph.strip.item(4))
    qtbot.mouseClick(morph.strip.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert morph.timeline.value() == 4 and window.tabs.currentWidget() is morph
    frame = morph.latents[4].clone()
    morph.send_button.click()
    assert torch.allclose(window.session.state.values, frame)


def test_map_legend_hover_words_and_clean_state_on_a_new_model(window, qtbot, tmp_path, tiny_checkpoint):
    write_good_faces(tmp_path / "faces", 40, size=64)
    panel = window.map_panel
    with qtbot.waitSignal(panel.job.finished, timeout=60000):
        panel.load(str(tmp_path / "faces"))
    panel.colour.setCurrentIndex(panel.colour.findData("hair_color"))
    names = [label.text for _, label in panel.legend.items]
    assert names and all(not n.isdigit() for n in names)
    assert set(names) <= set(VALUE_NAMES["hair_color"])
    text = panel.describe_point(0)
    assert text.startswith("cs") and "hair colour:" in text
    window.load_checkpoint(str(tiny_checkpoint))  # the same encoder: the same points
    assert panel.map is not None and panel.scatter.data.size == 40 and panel.preview.image is None
    checkpoint.save(tmp_path / "other.pt", type(window.session.model)(window.session.model.config))
    window.load_checkpoint(str(tmp_path / "other.pt"))  # another latent space: a clean state
    assert panel.map is None and not panel.scatter.data.size and panel.preview.image is None
    assert panel.colour.count() == 1 and not panel.colour.isEnabled()
    assert panel.colour.currentText() == "no labels to colour by"  # greyed out, and says why


def test_slider_readout_shows_the_value_under_the_pointer(window, qtbot):
    widget = window.explore.sliders[window.session.dimension_order[0]]
    widget.slider.setValue(125)
    widget.slider.hovered.emit(True)
    assert f"z{widget.dim} = +1.25σ" in window.explore.readout.text()
    widget.slider.hovered.emit(False)
    window.explore.randomize()  # the value moves while no slider is pointed at: no stale figure stays
    assert "σ" not in window.explore.readout.text()


def test_slider_readout_shows_a_value_beyond_the_sliders_reach_as_it_is(window, qtbot):
    dim = window.session.dimension_order[0]
    widget = window.explore.sliders[dim]
    values = window.session.state.values.clone()
    values[dim] = 4.39
    window.session.state.set_values(values)
    widget.slider.hovered.emit(True)
    assert widget.slider.value() == widget.slider.maximum()  # the slider sits at its end
    assert f"z{dim} = +4.39σ (beyond the slider's ±3σ)" in window.explore.readout.text()
    widget.slider.setValue(150)  # dragged back within reach: the value is the slider's again
    assert float(window.session.state.values[dim]) == pytest.approx(1.5)
    assert f"z{dim} = +1.50σ ·" in window.explore.readout.text()


def test_home_and_end_move_a_focused_slider_to_its_ends_and_leave_the_rest_of_the_face(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    dim = window.session.dimension_order[2]
    widget = window.explore.sliders[dim]
    before = window.session.state.values.clone()
    widget.slider.setFocus()
    qtbot.waitUntil(widget.slider.hasFocus)
    qtbot.keyClick(widget.slider, Qt.Key.Key_Home)
    values = window.session.state.values
    assert float(values[dim]) == pytest.approx(-3.0)
    others = [d for d in range(len(values)) if d != dim]
    assert torch.equal(values[others], before[others])  # not "Reset to the typical face"
    qtbot.keyClick(widget.slider, Qt.Key.Key_End)
    assert float(window.session.state.values[dim]) == pytest.approx(3.0)


def test_slider_readout_follows_the_keyboard_focus(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    widget = window.explore.sliders[window.session.dimension_order[3]]
    widget.slider.setFocus()
    qtbot.waitUntil(widget.slider.hasFocus)
    qtbot.keyClick(widget.slider, Qt.Key.Key_PageUp)  # +0.5σ
    assert f"z{widget.dim} = {widget.value:+.2f}σ" in window.explore.readout.text() and widget.value != 0
    other = window.explore.sliders[window.session.dimension_order[5]]
    other.slider.hovered.emit(True)  # the pointer rests on another slider
    assert f"z{other.dim} = " in window.explore.readout.text()
    qtbot.keyClick(widget.slider, Qt.Key.Key_PageUp)  # the keys move the focused one: its value shows
    assert f"z{widget.dim} = {widget.value:+.2f}σ" in window.explore.readout.text()
    widget.lock.setFocus()  # its lock toggle: the readout no longer names a slider the keys do not move
    qtbot.waitUntil(lambda: "σ" not in window.explore.readout.text())


def test_about_shows_formatted_figures_version_attribution_and_log(window):
    from gui import app_info

    text = window.about_html()
    assert "0.949" in text and "0.949125" not in text
    assert app_info.version() in text and "Forrester Cole" in text and "CC-BY 4.0" in text
    assert str(app_info.log_path()) in text


def test_the_facts_count_the_folder_not_the_faces_trained_on():
    from gui.main_window import format_facts

    facts = {
        "checkpoint": "m.pt",
        "dataset": "Cartoon Set",
        "images": 8000,
        "image_size": 64,
        "latent_dim": 32,
        "epochs": 3,
        "val_ssim": None,
        "val_psnr": None,
        "directions": 0,
        "random faces from": "N(0, I)",
    }
    assert format_facts(facts)["Trained on"] == "Cartoon Set (a folder of 8,000 images)"  # held-out faces included
    assert format_facts(facts)["Last training run"] == "3 epochs on a folder of 8,000 images"
    assert format_facts({**facts, "dataset": "8000 faces"})["Trained on"] == "8000 faces"
    shipped = format_facts({**facts, "shipped": True})  # its last stage's data is not all it learnt from
    assert shipped["Trained on"].startswith("Cartoon Set: 25,471 real faces")
    assert shipped["Last training run"] == "3 epochs on a folder of 8,000 images: the last of its stages"
    assert format_facts(facts)["Faces drawn in"] == "fp32"
    assert format_facts({**facts, "faces drawn in": "bf16"})["Faces drawn in"].startswith("bf16 (this CPU")


def test_help_lists_every_menu_shortcut_and_the_tabs_keys(window, qtbot):
    window.show_keys()
    dialog = window.keys_dialog
    qtbot.waitUntil(dialog.isVisible)
    text = dialog.text.toPlainText()
    for shortcut in ("Ctrl+E", "Ctrl+Z", "Shift+Home", "F1"):  # read from the menus, so a new one is listed too
        assert shortcut in text
    assert "Export PNG… (File menu)" in text and "Random face (Edit menu)" in text
    assert "Page Up / Page Down" in text and "Drop an image on the window" in text
    window.show_keys()  # a second call shows the same window
    assert window.keys_dialog is dialog


def test_a_model_refined_on_several_folders_says_its_last_run_was_one_stage():
    from gui.main_window import format_facts

    facts = {
        "checkpoint": "m.pt",
        "dataset": "Cartoon Set (real faces)",
        "images": 17000,
        "folders": 2,
        "image_size": 64,
        "latent_dim": 32,
        "epochs": 1,
        "val_ssim": 0.9,
        "val_psnr": 29.0,
        "directions": 0,
        "random faces from": "N(0, I)",
    }
    rows = format_facts(facts)
    assert rows["Trained on"] == "Cartoon Set (real faces)"  # not "a folder of": the name says what it is
    assert rows["Last training run"] == "1 epoch on 17,000 images in 2 folders"
    assert "Epochs" not in rows
    shipped = format_facts({**facts, "shipped": True})["Last training run"]
    assert shipped.startswith("1 epoch on 17,000 images in 2 folders: the last of its stages")


def test_only_the_apps_own_default_models_say_they_were_trained_in_stages(tmp_path):
    from vae.explore.default_choice import DEFAULT_64
    from vae.explore.session import ExplorerSession

    assert ExplorerSession.open(DEFAULT_64).facts()["shipped"]
    (tmp_path / "copy.pt").write_bytes(DEFAULT_64.read_bytes())
    assert not ExplorerSession.open(tmp_path / "copy.pt").facts()["shipped"]


def test_the_status_line_leaves_the_dataset_to_its_tooltip():
    from gui.main_window import facts_line

    facts = {"checkpoint": "m.pt", "dataset": "Cartoon Set", "image_size": 64, "latent_dim": 32, "val_ssim": 0.9}
    assert facts_line({**facts, "epochs": 12}) == "m.pt · 64×64 · latent 32 · val SSIM 0.900"


def test_the_facts_label_names_the_dataset_in_its_tooltip(window):
    assert window.facts_label.toolTip().startswith(f"Trained on {window.session.facts()['dataset']}")


@pytest.mark.parametrize("bug", [KeyError, ValueError])
def test_background_errors_carry_the_exception_and_log_the_traceback(qtbot, caplog, bug):
    from gui.workers import Job

    def fail(control):
        raise bug("broken on purpose")

    job = Job("test")
    with qtbot.waitSignal(job.errored, timeout=5000) as blocker:
        job.start(fail)
    assert isinstance(blocker.args[0], bug)  # a plain ValueError is a bug too, not bad input
    assert any(r.exc_info and r.levelname == "ERROR" and "test failed" in r.getMessage() for r in caplog.records)


def test_bad_input_in_a_background_job_is_one_warning_line_named_after_the_job(qtbot, caplog):
    from gui.workers import Job
    from vae.data.folder import ImageLoadError

    def unreadable(control):
        raise ImageLoadError("/tmp/bad.png: not a readable image")

    job = Job("encode image")
    with qtbot.waitSignal(job.errored, timeout=5000) as blocker:
        job.start(unreadable)
    assert isinstance(blocker.args[0], ImageLoadError)  # the user is told, as before
    [record] = [r for r in caplog.records if r.name == "face_explorer"]
    assert record.levelname == "WARNING" and not record.exc_info
    assert record.getMessage() == "encode image: /tmp/bad.png: not a readable image"


def test_keep_fixed_names_values_as_people_do(make_window, tmp_path, tiny_model):
    dirs = {
        "hair_color:0": torch.nn.functional.normalize(torch.randn(8), dim=0),
        "glasses": torch.nn.functional.normalize(torch.randn(8), dim=0),
    }
    checkpoint.save(tmp_path / "d.pt", tiny_model, directions=dirs)
    win = make_window(tmp_path / "d.pt")
    names = [win.arithmetic.keep_fixed.item(i).text() for i in range(win.arithmetic.keep_fixed.count())]
    assert names == ["hair colour: black", "+glasses"]


def test_a_map_click_on_a_face_already_an_example_says_so_in_the_status_bar_not_a_box(window, warnings):
    from gui.map_panel import DRAWN

    assert window.map_panel.load(DRAWN, 50)
    slot = window.map_panel.map.slot(7)
    window._map_picked("with", slot)
    window._map_picked("without", slot)
    assert [s.label for s in window.session.examples["with"]] == [slot.label] and not window.session.examples["without"]
    assert not warnings and "already among the faces with the trait" in window.statusBar().currentMessage()


def test_direction_by_example_from_explorer_faces_and_map(window, qtbot, warnings):
    arith = window.arithmetic
    session = window.session
    session.state.set_values(torch.full((8,), 1.0))
    assert "Add a face with the trait and one without" in arith.examples.create_button.toolTip()  # why it is grey
    assert arith.examples.add_explorer_face("with")
    assert not arith.examples.add_explorer_face("without")  # the same face cannot both have and lack the trait
    assert "already among the faces with the trait" in warnings[-1]
    assert arith.examples.counts["without"].text() == "Without it: 0"
    session.state.set_values(torch.full((8,), -1.0))
    assert arith.examples.add_explorer_face("without")
    assert arith.examples.create_button.isEnabled() and "Fit a direction" in arith.examples.create_button.toolTip()
    arith.examples.name.setText("bright")
    with qtbot.waitSignal(arith.examples.created):
        arith.examples.create_button.click()
    assert "bright" in session.directions
    assert arith.direction_menu_names()[-1] == "bright"
    assert [row.name for row in arith.direction_rows] == ["bright"]
    assert torch.allclose(session.directions["bright"], torch.full((8,), 8**-0.5))
    assert "bright" in window.statusBar().currentMessage()


def test_arithmetic_snaps_its_result_to_the_nearest_faces_when_the_model_has_a_fitted_prior(window, tmp_path):
    from vae.model.latent import SNAP_NOISE, compose, denoise_to_prior
    from vae.model.network import ConvVAE, VAEConfig

    arith = window.arithmetic
    arith.preset_analogy()
    assert arith.snap.isEnabled() and arith.snap.isChecked()
    terms = [(row.weight.value(), row.picker.latent) for row in arith.terms]
    raw = compose(terms)
    snapped = denoise_to_prior(raw, window.session.prior, SNAP_NOISE, nearest=True)
    assert torch.allclose(arith.result, snapped, atol=1e-5)
    assert not torch.allclose(arith.result, raw, atol=1e-3) and "snapped" in arith.formula.text()
    direction = torch.nn.functional.normalize(torch.randn(8), dim=0)
    window.session.add_direction("smile", direction)
    arith.add_direction("smile", 2.0)
    assert torch.allclose(
        arith.result, snapped + 2.0 * direction, atol=1e-5
    )  # the edit applies in full, after the snap
    arith.snap.setChecked(False)
    assert torch.allclose(arith.result, raw + 2.0 * direction, atol=1e-5) and "snapped" not in arith.formula.text()
    arith.send_button.click()
    assert torch.allclose(window.session.state.values, arith.result)

    window.session.load(str(window.session.path))  # another model that can snap: the user's choice holds
    assert arith.snap.isEnabled() and not arith.snap.isChecked()
    smaller = tmp_path / "smaller.pt"
    checkpoint.save(smaller, ConvVAE(VAEConfig(latent_dim=4, base_channels=4)))
    assert window.load_checkpoint(str(smaller))  # no fitted prior, and a smaller latent: nothing stale is recomputed
    assert not arith.snap.isEnabled() and not arith.snap.isChecked() and arith.result.shape == (4,)
    assert window.load_checkpoint(str(window.session.path.parent / "prior.pt"))
    assert arith.snap.isEnabled() and arith.snap.isChecked() and arith.result.shape == (8,)


def test_morph_snaps_the_frames_between_its_ends_to_faces_when_the_model_has_a_fitted_prior(window, tmp_path):
    from vae.model.latent import morph as morph_path
    from vae.model.latent import snap_path
    from vae.model.network import ConvVAE, VAEConfig

    morph = window.morph
    morph.frames.setValue(9)
    assert morph.snap.isEnabled() and morph.snap.isChecked()
    a, b = morph.slot_a.latent, morph.slot_b.latent
    raw = morph_path(a, b, 9, morph.mode.currentText())
    assert torch.allclose(morph.latents, snap_path(raw, window.session.prior, nearest=True), atol=1e-5)
    assert not torch.allclose(morph.latents[4], raw[4], atol=1e-3)  # the middle is drawn to faces
    assert torch.equal(morph.latents[[0, -1]], raw[[0, -1]])  # the chosen faces stay
    assert torch.allclose(morph.latents[0], a, atol=1e-5) and torch.allclose(morph.latents[-1], b, atol=1e-5)
    middle = morph.images[4].clone()
    morph.snap.setChecked(False)
    assert torch.allclose(morph.latents, raw) and not torch.equal(morph.images[4], middle)
    morph.timeline.setValue(4)
    morph.send_button.click()
    assert torch.allclose(window.session.state.values, raw[4])  # what is shown is what is sent

    window.session.load(str(window.session.path))  # another model that can snap: the user's choice holds
    assert morph.snap.isEnabled() and not morph.snap.isChecked()
    smaller = tmp_path / "smaller.pt"
    checkpoint.save(smaller, ConvVAE(VAEConfig(latent_dim=4, base_channels=4)))
    assert window.load_checkpoint(str(smaller))
    assert not morph.snap.isEnabled() and not morph.snap.isChecked() and morph.latents.shape[1] == 4
    assert window.load_checkpoint(str(window.session.path.parent / "prior.pt"))
    assert morph.snap.isEnabled() and morph.snap.isChecked()
    assert torch.allclose(
        morph.latents,
        snap_path(morph_path(morph.slot_a.latent, morph.slot_b.latent, 9), window.session.prior, nearest=True),
        atol=1e-5,
    )
