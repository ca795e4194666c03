"""Issue 26 in the Train tab: a run folder's saved history and previews, the built-in face count, the ETA line."""

import csv
import math

import pytest
from PIL import Image

pytest.importorskip("PySide6")

from gui.dataset_box import QUICK_TRY_COUNT  # noqa: E402
from gui.train_panel import TrainPanel  # noqa: E402
from vae.common.control import Cancelled  # noqa: E402
from vae.data.cache import BUILTIN, BUILTIN_COUNT  # noqa: E402
from vae.train import training_run  # noqa: E402
from vae.train.run_history import STEP_COLUMNS, STEPS_FILE  # noqa: E402
from vae.train.trainer import METRIC_COLUMNS, StepEvent  # noqa: E402


def write_run(folder, epochs=3, per_epoch=4, with_steps=True):
    """A run folder as the trainer leaves it: steps.csv, metrics.csv and one preview per epoch."""
    folder.mkdir(parents=True, exist_ok=True)
    if with_steps:
        with open(folder / STEPS_FILE, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=STEP_COLUMNS)
            writer.writeheader()
            for i in range(epochs * per_epoch):
                loss = 500.0 / (1 + i)
                writer.writerow({"epoch": (i + 1) / per_epoch, "steps": 1, "loss": loss, "recon": loss - 5, "kl": 5})
    with open(folder / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for e in range(1, epochs + 1):
            loss = 400.0 / e
            writer.writerow({"epoch": e, "train_loss": loss, "train_recon": loss - 5, "train_kl": 5, "val_loss": loss})
    for e in range(1, epochs + 1):
        Image.new("RGB", (64, 24), (40 * e, 0, 0)).save(folder / f"epoch_{e:03d}.png")


@pytest.fixture
def panel(qtbot, tmp_path):
    panel = TrainPanel(None, runs_dir=tmp_path / "runs")
    qtbot.addWidget(panel)
    panel.resize(1200, 700)
    panel.show()
    return panel


def test_opening_a_run_folder_draws_its_saved_curve_and_previews(panel, tmp_path):
    write_run(tmp_path / "run")
    panel.out_dir.setText(str(tmp_path / "run"))
    assert panel.plot.x == pytest.approx([(i + 1) / 4 for i in range(12)])  # every saved row, in epochs
    assert panel.plot.val_x == [1, 2, 3] and panel.plot.val_y == pytest.approx([400, 200, 400 / 3])
    assert panel.plot.values["total"][0] == pytest.approx(500)  # the first row as saved, then smoothed
    assert panel.preview.epoch == 3 and panel.preview.position.text() == "epoch 3 of 3"
    assert panel.preview.caption.isVisible() and "reconstructions" in panel.preview.caption.text()  # still said
    panel.out_dir.setText(str(tmp_path / "empty"))  # a folder without a run: nothing from the last one
    assert panel.plot.x == [] and panel.preview.pixmap().isNull() and panel.preview.position.text() == ""
    assert panel.preview.image.text().startswith("No previews yet")


def test_an_older_run_without_step_history_is_drawn_per_epoch_at_the_epochs_middles(panel, tmp_path):
    write_run(tmp_path / "run", with_steps=False)
    panel.out_dir.setText(str(tmp_path / "run"))
    assert panel.plot.x == [0.5, 1.5, 2.5] and panel.plot.values["total"] == [400, 200, 400 / 3]  # not smoothed
    assert panel.plot.val_x == [1, 2, 3]


def test_the_preview_browser_steps_through_the_epochs(panel, qtbot, tmp_path):
    from PySide6.QtCore import Qt

    write_run(tmp_path / "run")
    panel.out_dir.setText(str(tmp_path / "run"))
    browser = panel.preview
    newest = browser.pixmap().toImage()
    assert not browser.forward.isEnabled() and browser.back.isEnabled()
    qtbot.mouseClick(browser.back, Qt.MouseButton.LeftButton)
    assert browser.position.text() == "epoch 2 of 3" and browser.pixmap().toImage() != newest
    qtbot.mouseClick(browser.back, Qt.MouseButton.LeftButton)
    assert browser.position.text() == "epoch 1 of 3" and not browser.back.isEnabled()
    assert browser.pixmap().toImage().pixelColor(2, 2).red() == 40
    browser.add(4, browser.pixmap())  # a new epoch while the user looks at an earlier one: it stays there
    assert browser.position.text() == "epoch 1 of 4"
    qtbot.mouseClick(browser.forward, Qt.MouseButton.LeftButton)
    assert browser.position.text() == "epoch 2 of 4"


def test_the_built_in_face_count_reaches_the_dataset_and_is_remembered(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    panel = TrainPanel(settings, runs_dir=tmp_path / "runs")
    qtbot.addWidget(panel)
    assert panel.builtin_count == BUILTIN_COUNT and panel.dataset.count_box.isEnabled()
    panel.dataset.count_box.setCurrentIndex(panel.dataset.count_box.findData(QUICK_TRY_COUNT))
    assert panel.builtin_count == QUICK_TRY_COUNT and f"{QUICK_TRY_COUNT:,} generated faces" in panel.data_info.text()
    asked = []

    def fake_open_datasets(specs, size, builtin_count, **kwargs):
        asked.append((*specs, builtin_count))
        raise Cancelled()

    monkeypatch.setattr(training_run, "open_datasets", fake_open_datasets)
    panel.out_dir.setText(str(tmp_path / "run"))
    with qtbot.waitSignal(panel.job.cancelled, timeout=10000):
        assert panel.start()
    assert asked == [(BUILTIN, QUICK_TRY_COUNT)]
    assert panel.eta.text() == training_run.NOTHING_TRAINED and panel.progress.value() == 0  # no stale progress
    later = TrainPanel(settings)
    qtbot.addWidget(later)
    assert later.builtin_count == QUICK_TRY_COUNT
    panel.folder_radio.click()
    assert not panel.dataset.count_box.isEnabled()  # the count is of the built-in faces only


def test_the_eta_line_says_estimating_until_the_estimate_is_ready(panel):
    panel.config_running = panel.config()
    panel.job.event.emit(StepEvent(1, 1, 100, 300.0, 290.0, 10.0, 0.0, 50.0, math.nan))  # as a run posts it
    assert panel.eta.text().endswith("ETA estimating…")
    panel.job.event.emit(StepEvent(1, 9, 100, 300.0, 290.0, 10.0, 0.0, 50.0, 4210.0))
    assert panel.eta.text().endswith("ETA 1:10:10")
    assert panel.plot.x == [0.01, 0.09]  # in epochs


def test_the_form_and_train_cli_start_from_the_same_defaults_as_train_config(panel):
    import train_cli
    from vae.train.config import DEFAULT_MODEL_RECIPE, SETTINGS, config_with

    args = vars(train_cli.build_parser().parse_args([]))
    assert {s.name: args[s.name] for s in SETTINGS} == {s.name: s.default() for s in SETTINGS}
    cli = config_with(args, cosine=not args["no_cosine"], flip=args["flip"], init_from=args["init_from"])
    assert cli == panel.config() == DEFAULT_MODEL_RECIPE
    assert panel.epochs.value() == DEFAULT_MODEL_RECIPE.epochs and panel.image_size.currentText() == "64"


def test_a_preview_taller_than_its_space_is_shown_whole(panel, tmp_path, qtbot):
    write_run(tmp_path / "run", epochs=1)
    Image.new("RGB", (64, 400), (0, 90, 0)).save(tmp_path / "run" / "epoch_001.png")
    panel.out_dir.setText(str(tmp_path / "run"))
    qtbot.waitExposed(panel)
    shown, room = panel.preview.pixmap(), panel.preview.image.contentsRect()
    assert 0 < shown.height() <= room.height() and shown.width() <= room.width()
    panel.resize(1200, 900)  # more room: the preview grows with it
    qtbot.waitUntil(lambda: panel.preview.pixmap().height() > shown.height())
