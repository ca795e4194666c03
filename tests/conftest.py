import atexit
import gc
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_PRIVATE = tempfile.mkdtemp(prefix="face-explorer-tests-")  # the app's settings and state: never the user's
atexit.register(shutil.rmtree, _PRIVATE, ignore_errors=True)
os.environ["XDG_CONFIG_HOME"] = os.path.join(_PRIVATE, "config")
os.environ["XDG_STATE_HOME"] = os.path.join(_PRIVATE, "state")

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "shared" / "cartoonset_sample"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets its own dataset cache folder and app log (never the user's), and faces drawn in fp32 on
    every machine (tests/test_inference.py covers the bf16 copy and the measured choice)."""
    monkeypatch.setenv("FACE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FACE_EXPLORER_LOG", str(tmp_path / "face-explorer.log"))
    monkeypatch.setenv("FACE_EXPLORER_DRAW", "fp32")


@pytest.fixture(autouse=True)
def garbage_collected_in_the_main_thread():
    """Each test's garbage is collected here, in the GUI thread. The app's windows turn automatic
    collection off (gui.garbage.GuiThreadGarbageCollector), and a collection in a worker thread
    could destroy Qt objects from an earlier test there."""
    yield
    gc.collect()
    gc.enable()


@pytest.fixture(autouse=True)
def no_worker_pool_left_running():
    """No test may leave a worker pool behind: its manager thread would hold up the interpreter's exit."""
    yield
    managers = [t for t in threading.enumerate() if type(t).__name__ == "_ExecutorManagerThread"]
    for thread in managers:
        thread.join(5)
    assert not [t for t in managers if t.is_alive()], "a worker pool is still running after the test"


@pytest.fixture(autouse=True)
def no_dialog_waits_for_an_answer(monkeypatch):
    """A message box no test expected fails that test instead of waiting for a click for ever.

    Tests that expect a box replace these (``warnings``, ``questions`` or their own patch). An
    unexpected question is answered Yes, so a window closed while it still runs a job stops it. Where Qt is
    not installed (a GPU machine running the core's tests), no dialog can open and there is nothing to guard.
    """
    try:
        from PySide6.QtWidgets import QDialog, QMessageBox
    except ImportError:
        yield
        return

    unexpected = []

    def answer(reply):
        def shown(*args, **kwargs):
            texts = [a for a in args if isinstance(a, str)]
            unexpected.append(" / ".join(texts) or "a dialog")
            return reply

        return shown

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    for name in ("warning", "information", "critical", "about"):
        monkeypatch.setattr(QMessageBox, name, answer(QMessageBox.StandardButton.Ok))
    monkeypatch.setattr(QMessageBox, "exec", lambda box: answer(QMessageBox.StandardButton.Cancel)(box.text()))
    monkeypatch.setattr(QDialog, "exec", lambda dialog: answer(QDialog.DialogCode.Rejected)(dialog.windowTitle()))
    yield
    assert not unexpected, f"unexpected dialogs: {unexpected}"


@pytest.fixture
def tiny_checkpoint(tmp_path, tiny_model):
    """A small checkpoint file with per-dimension KL (two dimensions marked unused)."""
    from vae.model import checkpoint

    kl = torch.linspace(2.0, 0.0, tiny_model.latent_dim)
    path = tmp_path / "tiny.pt"
    checkpoint.save(
        path,
        tiny_model,
        latent_kl=kl,
        history=[{"epoch": 1, "val_ssim": 0.5}],
        dataset={"source": "test faces", "count": 10},
    )
    return path


@pytest.fixture
def tiny_model():
    """A small, seeded 64×64 model (untrained) for fast tests."""
    from vae.model.network import ConvVAE, VAEConfig

    torch.manual_seed(0)
    return ConvVAE(VAEConfig(image_size=64, latent_dim=8, base_channels=8)).eval()


@pytest.fixture
def sample_dir():
    if not SAMPLE_DIR.is_dir():
        pytest.skip("shared/cartoonset_sample is not beside the checkout")
    return SAMPLE_DIR


@pytest.fixture
def warnings(monkeypatch):
    """Collects the texts of warning boxes (``gui.dialogs.warn``) instead of showing them."""
    from PySide6.QtWidgets import QMessageBox

    shown = []
    other_boxes = QMessageBox.exec  # answered as ``no_dialog_waits_for_an_answer`` says

    def exec_(box):
        if box.icon() == QMessageBox.Icon.Warning and box.standardButtons() == QMessageBox.StandardButton.Ok:
            shown.append(box.text())
            return QMessageBox.StandardButton.Ok
        return other_boxes(box)

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return shown


@pytest.fixture
def make_window(qtbot, tmp_path, warnings):
    """Opens the main window on a checkpoint, with settings in a temporary file; the Arithmetic tab holds the rest of
    the face only with ``hold=True`` (a hold runs in the background, and most tests check the unheld sums)."""
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow
    from vae.explore.session import ExplorerSession

    def make(path, hold=False):
        session = ExplorerSession.open(path)
        if not hold:
            session.hold_classifier = None
        win = MainWindow(session, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
        qtbot.addWidget(win)
        win.resize(1280, 800)
        win.show()
        return win

    return make
