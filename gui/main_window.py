"""The main window: menus, shortcuts, status bar, and the Explore/Train/Morph/Arithmetic/Map panels.

The window owns one :class:`~vae.explore.session.ExplorerSession` for its whole life and hands it to every
panel; panels never see the window. Status messages reach the status bar through the session's
``status`` event; panels' errors reach a message box through their ``error`` signal.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QDialog, QMainWindow, QMessageBox, QTabWidget

from vae.common.interrupts import STOP_SIGNALS, handle
from vae.data.folder import IMAGE_SUFFIXES
from vae.explore import default_choice, saved_work
from vae.explore.session import ExplorerSession
from vae.model.checkpoint import CheckpointError
from vae.model.inference import fastest_decode_ms

from . import app_info, dialogs
from .arithmetic_panel import ArithmeticPanel
from .controls import elide_status_messages, plain_label, plain_tooltip
from .explore_panel import ExplorePanel
from .follow import follow
from .garbage import GuiThreadGarbageCollector
from .keys_dialog import KeysDialog
from .map_panel import MapPanel
from .morph_panel import MorphPanel
from .train_panel import TrainPanel
from .workers import Job

APP_NAME = app_info.APP_NAME
PANELS = app_info.PANELS
MAX_RECENT = 8
log = logging.getLogger("face_explorer")
RELOAD_DELAY_MS = 300  # wait for a checkpoint being replaced to settle before reading it
QUIT_WAIT_MS = 2000  # how long quitting waits for jobs it may abandon (encoding an image) before it closes anyway
QUIT_QUESTION = "Stop training and quit?"


def number(value, spec: str) -> str:
    """``value`` formatted by ``spec``, or "–" when it is not a number (a checkpoint's history may hold anything)."""
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def epochs_text(epochs) -> str:
    """ "1 epoch", "12 epochs"."""
    return f"{epochs} epoch" + ("" if epochs == 1 else "s")


DRAWN_IN = {"bf16": "bf16 (this CPU decodes faster in it)", "fp32": "fp32"}


def format_facts(facts: dict) -> dict[str, str]:
    """The model's facts as people read them: "val SSIM 0.949", "a folder of 20,000 images" (held-out ones included).

    "Last training run" counts the epochs and images of the run that wrote the file: a model refined from another
    was trained for longer, on more faces, before it; for the shipped defaults, trained so in stages, "Trained on"
    says on what.
    """
    trained_on, images = str(facts["dataset"]), number(facts.get("images"), ",")
    psnr = number(facts.get("val_psnr"), ".1f")
    folders = facts.get("folders") or 1
    where = f"a folder of {images} images" if folders == 1 else f"{images} images in {folders} folders"
    last_run = epochs_text(facts["epochs"]) + (f" on {where}" if images != "–" else "")
    if facts.get("shipped"):
        last_run += ": the last of its stages"
        trained_on = app_info.SHIPPED_TRAINING
    elif folders == 1 and images != "–" and str(facts["images"]) not in trained_on:
        trained_on += f" ({where})"
    rows = {
        "Checkpoint": facts["checkpoint"],
        "Trained on": trained_on,
        "Image size": f"{facts['image_size']}×{facts['image_size']} px",
        "Latent dimensions": str(facts["latent_dim"]),
        "Last training run": last_run,
        "Validation SSIM": number(facts["val_ssim"], ".3f"),
        "Validation PSNR": psnr + (" dB" if psnr != "–" else ""),
        "Attribute directions": str(facts["directions"]),
        "Random faces from": facts["random faces from"],
        "Faces drawn in": DRAWN_IN.get(facts.get("faces drawn in"), "fp32"),
    }
    return rows


def facts_line(facts: dict) -> str:
    """The status bar's one line about the model (short, so that messages beside it have room; the About box
    and this line's tooltip say more)."""
    size = facts["image_size"]
    return (
        f"{facts['checkpoint']} · {size}×{size} · latent {facts['latent_dim']} · "
        f"val SSIM {number(facts['val_ssim'], '.3f')}"
    )


OPEN_ERRORS = (CheckpointError, OSError, ValueError, TypeError, RuntimeError)  # a model file that cannot be opened


def open_session(path: str | Path) -> ExplorerSession:
    """The session a checkpoint makes, with everything the window shows of it worked out, so that a checkpoint
    that fails anywhere fails here, before the window's session switches to it."""
    opened = ExplorerSession.open(path)
    facts = opened.facts()
    for shown in (facts_line, format_facts):  # what the status bar and the About box will show of it
        shown(facts)
    return opened


class MainWindow(QMainWindow):
    """Face Explorer's window over one :class:`ExplorerSession`."""

    def __init__(self, session: ExplorerSession, settings: QSettings | None = None):
        super().__init__()
        self.garbage_collector = GuiThreadGarbageCollector(self)
        self.settings = settings or app_info.settings()
        dialogs.use_settings(self.settings)
        self.session = session
        self.work_folder: Path | None = None  # where the work is kept between launches (main.py sets it)
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self._quit_when_idle = False
        self._quit_without_asking = False  # a signal asked the app to end (logout, kill, Ctrl-C in its terminal)
        self.keys_dialog: KeysDialog | None = None

        self.explore = ExplorePanel(session, self.settings)
        self.train = TrainPanel(self.settings, loaded_model_path=lambda: self.session.path)
        self.map_panel = MapPanel(session, self.settings)
        self.morph = MorphPanel(session, self.settings)
        self.arithmetic = ArithmeticPanel(session, self.settings)
        self.tabs = QTabWidget()
        for panel, title in (
            (self.explore, "Explore"),
            (self.train, "Train"),
            (self.morph, "Morph"),
            (self.arithmetic, "Arithmetic"),
            (self.map_panel, "Map"),
        ):
            self.tabs.addTab(panel, title)
        self.setCentralWidget(self.tabs)
        self.status_label = elide_status_messages(self.statusBar())
        self.facts_label = plain_label()
        self.facts_label.setContentsMargins(16, 0, 4, 0)  # apart from the messages on its left
        self.statusBar().addPermanentWidget(self.facts_label)

        for panel in (self.explore, self.train, self.morph, self.arithmetic, self.map_panel):
            panel.error.connect(self.show_error)
        self.train.model_ready.connect(self.load_checkpoint)
        self.train.dataset_used.connect(self.remember_dataset)
        self.morph.send_to_explorer.connect(lambda latent: self.send_to_explorer(latent, "the morph frame"))
        self.arithmetic.send_to_explorer.connect(lambda latent: self.send_to_explorer(latent, "the arithmetic result"))
        self.map_panel.picked.connect(self._map_picked)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.fileChanged.connect(self._model_file_changed)
        self._reload_timer = QTimer(self, singleShot=True, interval=RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self._reload_model)
        self._build_menus()
        follow(
            self,
            (session.status, self.show_status),
            (session.model_changed, self._model_changed),
            (session.history_changed, self._history_changed),
        )
        self._model_changed()
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)

    # ------------------------------------------------------------ menus
    def _action(self, text: str, slot, shortcut=None, menu=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        self.addAction(action)
        return action

    def export_png(self) -> None:
        """File → Export PNG…: what the tab shows (the morph's strip, the arithmetic result), else the explorer's
        face."""
        exports = {self.morph: self.morph.ask_export_strip, self.arithmetic: self.arithmetic.ask_export}
        shown = self.tabs.currentWidget()
        exports.get(shown, lambda: self.explore.ask_export(from_elsewhere=shown is not self.explore))()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action("&Open checkpoint…", self._ask_checkpoint, QKeySequence.StandardKey.Open, file_menu)
        defaults = file_menu.addMenu("Open a &pretrained model")
        self.default_actions = []
        for size, path in ((128, default_choice.DEFAULT_128), (64, default_choice.DEFAULT_64)):
            action = self._action(
                f"{size} × {size} px ({path.name})",
                lambda _=False, p=path: self.load_checkpoint(str(p)),
                None,
                defaults,
            )
            action.setEnabled(path.is_file())
            self.default_actions.append(action)
        self._action("Open &dataset folder…", self._ask_dataset, None, file_menu)
        self.recent_menu = file_menu.addMenu("Recent folders")
        self._action("&Export PNG…", self.export_png, "Ctrl+E", file_menu)
        file_menu.addSeparator()
        self._action("&Quit", self.close, QKeySequence.StandardKey.Quit, file_menu)

        edit_menu = self.menuBar().addMenu("&Edit")  # the Explore tab's face: these act there only
        self.undo_action = self._action("&Undo", self.undo, "Ctrl+Z", edit_menu)
        self.redo_action = self._action("&Redo", self.redo, "Ctrl+Shift+Z", edit_menu)
        edit_menu.addSeparator()
        self.explore_actions = [
            self._action("&Random face", self.explore.randomize, "R", edit_menu),
            self._action("Re&set to the typical face", lambda: self.session.state.reset(), "Home", edit_menu),
            self._action("&Zero all sliders", lambda: self.session.state.zero(), "Shift+Home", edit_menu),
            self._action("Un&lock all sliders", lambda: self.session.state.clear_locks(), None, edit_menu),
        ]
        for action in self.explore_actions:
            action.setStatusTip("acts on the Explore tab's face (greyed out on other tabs)")
        self.undo_action.setStatusTip(
            "the Explore tab's last change, or the last change of the faces on Morph or Arithmetic"
        )
        self.redo_action.setStatusTip("takes back the last Undo, on the Explore, Morph or Arithmetic tab")
        for panel in (self.morph, self.arithmetic):
            panel.history.changed.connect(self._update_edit_actions)
        self.tabs.currentChanged.connect(self._update_edit_actions)
        self.tabs.currentChanged.connect(self.statusBar().clearMessage)  # a tab's message is of no use on another

        help_menu = self.menuBar().addMenu("&Help")
        self._action("&Keys and mouse", self.show_keys, QKeySequence.StandardKey.HelpContents, help_menu)
        self._action("&About Face Explorer", self.show_about, None, help_menu)
        self._refresh_recent()

    def undo(self) -> None:
        """Edit → Undo: the explorer's last change on the Explore tab; on Morph or Arithmetic, the faces before the
        last change of them there come back."""
        shown = self.tabs.currentWidget()
        if shown is self.explore:
            self.session.state.undo()
        elif shown in (self.morph, self.arithmetic) and (said := shown.undo_face()):
            self.show_status(f"{said} (Undo)")

    def redo(self) -> None:
        """Edit → Redo: takes back the last Undo of the tab shown."""
        shown = self.tabs.currentWidget()
        if shown is self.explore:
            self.session.state.redo()
        elif shown in (self.morph, self.arithmetic) and (said := shown.redo_face()):
            self.show_status(f"{said} (Redo)")

    def _history_changed(self, can_undo: bool, can_redo: bool) -> None:
        self._update_edit_actions()

    def _update_edit_actions(self) -> None:
        """The Edit menu acts on the explorer's face, so only while the Explore tab shows it (elsewhere a key such
        as R or Ctrl+Z would change a face out of sight); Undo acts on the faces of the Morph and Arithmetic tabs
        there."""
        shown = self.tabs.currentWidget()
        on_explore = shown is self.explore
        faces = shown.history if shown in (self.morph, self.arithmetic) else None
        state = self.session.state
        self.undo_action.setEnabled(state.can_undo if on_explore else faces is not None and faces.can_undo)
        self.redo_action.setEnabled(state.can_redo if on_explore else faces is not None and faces.can_redo)
        for action in self.explore_actions:
            action.setEnabled(on_explore)

    # ------------------------------------------------------------ model
    def _model_changed(self) -> None:
        session = self.session
        self._history_changed(session.state.can_undo, session.state.can_redo)
        facts = session.facts()
        self.facts_label.setText(facts_line(facts))
        self.facts_label.setToolTip(plain_tooltip(f"Trained on {facts['dataset']} · Help → About for more"))
        self.setWindowTitle(f"{APP_NAME} — {facts['checkpoint']}")
        if self.watcher.files():
            self.watcher.removePaths(self.watcher.files())
        if session.path.exists():
            self.watcher.addPath(str(session.path))

    def load_checkpoint(self, path: str) -> bool:
        """Open a checkpoint; on any failure show why in a message box and keep the current model (its title and
        status bar too): the checkpoint is read and checked in full before the session switches to it."""
        self.statusBar().showMessage(f"opening {path}…")  # loading takes a moment: say so before it starts
        self.statusBar().repaint()
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        error = None
        try:
            opened = open_session(path)
        except CheckpointError as exc:
            error = str(exc)
        except OPEN_ERRORS as exc:
            error = f"{path}: cannot be opened as a checkpoint ({exc.__class__.__name__}: {exc})"
        finally:
            QApplication.restoreOverrideCursor()
            self.statusBar().clearMessage()
        if error:
            log.warning("opening a checkpoint: %s", error)
            self.show_error(error)
            return False
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.save_work()  # this latent space's work waits for its model, in this launch or the next
            kept = self.session.set_checkpoint(opened.checkpoint)
            taken_up = not kept and self.take_up_work()
            ms = fastest_decode_ms(self.session.renderer.model, repeats=3)  # the copy the app draws with
        finally:
            QApplication.restoreOverrideCursor()
        slow = (
            f"; {ms:.0f} ms a face here: sliders will lag (smooth within {default_choice.DECODE_BUDGET_MS:g} ms)"
            if ms > default_choice.DECODE_BUDGET_MS
            else ""
        )
        self.settings.setValue(app_info.LAST_MODEL_KEY, str(Path(path).resolve()))  # the next launch opens it
        name = Path(path).name
        if kept:
            said = f"opened {name}: the same latent space, every tab's faces kept"
        elif taken_up:
            said = f"opened {name}: your last work with its latent space taken up"
        else:
            said = f"opened {name}: another latent space, new faces in every tab"
        self.show_status(said + slow)
        return True

    def _model_file_changed(self, path: str) -> None:
        self._reload_timer.start()  # a checkpoint is replaced by rename: wait for it to settle

    def _reload_model(self) -> None:
        """The loaded model's file changed on disk: read it again so every fact shown is the file's."""
        path = self.session.path
        if not path.exists():
            self.show_status(f"{path} was removed; the model stays loaded")
            return
        try:
            opened = open_session(path)
        except OPEN_ERRORS as exc:
            self.show_status(f"{path} changed but cannot be read ({exc}); the model stays as it was")
            self.watcher.addPath(str(path))
            return
        self.session.set_checkpoint(opened.checkpoint, keep_values=True)
        facts = self.session.facts()
        ssim = number(facts["val_ssim"], ".3f")
        self.show_status(
            f"{path.name} changed on disk: reloaded ({epochs_text(facts['epochs'])}, val SSIM {ssim})"
            if ssim != "–"
            else f"{path.name} changed on disk: reloaded"
        )

    def _ask_checkpoint(self) -> None:
        path = dialogs.ask_open_path(
            self, "checkpoint", "Open checkpoint", dialogs.CHECKPOINT_FILTER, first=str(self.session.path.parent)
        )
        if path:
            self.load_checkpoint(path)

    def _ask_dataset(self) -> None:
        folder = dialogs.ask_folder(self, "dataset", "Open dataset folder")
        if folder:
            self.open_dataset_folder(folder)

    def open_dataset_folder(self, folder: str) -> None:
        """Choose a folder for training (Train panel) and remember it."""
        self.remember_dataset(folder)
        self.train.set_folder(folder)
        self.show_panel("train")

    def remember_dataset(self, folder: str) -> None:
        """Put ``folder`` first in File → Recent folders."""
        recent = [f for f in self.recent_folders() if f != folder]
        self.settings.setValue("recent_folders", [folder] + recent[: MAX_RECENT - 1])
        self._refresh_recent()

    def recent_folders(self) -> list[str]:
        value = self.settings.value("recent_folders") or []
        return [value] if isinstance(value, str) else list(value)

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.recent_folders():
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda checked=False, f=folder: self.open_dataset_folder(f))
        self.recent_menu.setEnabled(bool(self.recent_folders()))

    def send_to_explorer(self, latent, what: str = "the face") -> None:
        """Show ``latent`` in the Explorer (one undo step there) and say so."""
        self.session.state.set_values(latent)
        self.show_panel("explore")
        self.show_status(f"{what} sent to the Explorer (Ctrl+Z brings back the face before)")

    def _map_picked(self, target: str, slot) -> None:
        if target == "explorer":
            self.send_to_explorer(slot.latent, slot.label)
        elif target in ("a", "b"):
            (self.morph.slot_a if target == "a" else self.morph.slot_b).pick(slot, "dataset")
            self.show_status(f"{slot.label} is now morph face {target.upper()} (Undo on the Morph tab takes it back)")
        else:
            try:
                self.session.add_example(target, slot)
            except ValueError as exc:  # a click on a face already picked: said where the clicks are reported
                self.show_status(f"⚠ {exc}")
                return
            count = len(self.session.examples[target])
            self.show_status(
                f"{slot.label} added to the faces {target} the trait ({count} so far; "
                "name the direction in the Arithmetic panel)"
            )

    # ------------------------------------------------------------ work kept between launches
    def save_work(self) -> bool:
        """Keep the explorer's face and history, the morph and the sum in :attr:`work_folder` for the next launch."""
        if self.work_folder is None:
            return False
        pickers = self.morph.pickers() + self.arithmetic.pickers()
        known = [picker.latent is not None for picker in pickers]  # reading a face that follows the explorer from a
        current = [picker.kind == "current" for picker in pickers]  # hidden tab catches it up first
        follows = {"morph": current[:2], "arithmetic": [c for c, k in zip(current[2:], known[2:]) if k]}
        labels = [picker.slot.label if picker.slot is not None else "" for picker in pickers]
        captions = {"morph": labels[:2], "arithmetic": [c for c, k in zip(labels[2:], known[2:]) if k]}
        try:
            work = saved_work.work_of(self.session, self.morph.model, self.arithmetic.model, follows, captions)
            saved_work.save_work(self.work_folder, work)
        except OSError as exc:  # WriteError: the work is lost, the app still closes
            log.warning("keeping the work for the next launch: %s", exc)
            return False
        return True

    def take_up_work(self, explore: bool = True) -> bool:
        """Take up the work kept in :attr:`work_folder` for this model's latent space (``explore``: the explorer's
        face and history too, unless the launch chose a face of its own). Whatever goes wrong, the app starts."""
        if self.work_folder is None:
            return False
        try:
            work = saved_work.read_work(self.work_folder, self.session.model)
            if work is None:
                return False
            if explore:
                kept = work["explore"]
                self.session.state.take_up(kept["values"], kept["locks"], kept["undo"], kept["redo"])
            self.morph.take_up(work["morph"])
            self.arithmetic.take_up(work["arithmetic"])
            self.session.take_up_examples(work["examples"])
        except ValueError as exc:  # a damaged file: the app starts afresh, the log says why
            log.warning("taking up the last session's work: %s", exc)
            return False
        except Exception:  # a bug must not keep the app from opening
            log.exception("taking up the last session's work failed")
            return False
        return True

    # ------------------------------------------------------------ misc
    def show_panel(self, name: str) -> None:
        self.tabs.setCurrentIndex(PANELS.index(name))

    def show_status(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)

    def show_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        dialogs.warn(self, APP_NAME, message)

    def about_html(self) -> str:
        rows = "".join(
            f"<tr><td style='padding-right:12px;color:#505050'>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
            for k, v in format_facts(self.session.facts()).items()
        )
        return (
            f"<h3>{APP_NAME} {app_info.version()}</h3>"
            "<p>Train a variational autoencoder on cartoon faces and explore its latent space.</p>"
            f"<table>{rows}</table>"
            f"<p><b>Dataset</b>: {app_info.DATASET_ATTRIBUTION}</p>"
            f"<p>Log file: <code>{html.escape(str(app_info.log_path()))}</code></p>"
        )

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", self.about_html())

    def show_keys(self) -> None:
        """Help → Keys and mouse: a window that stays open beside the app."""
        if self.keys_dialog is None:
            self.keys_dialog = KeysDialog(self.menuBar(), self)
        self.keys_dialog.show()
        self.keys_dialog.raise_()

    def dragEnterEvent(self, event):
        urls = event.mimeData().urls()
        if urls and Path(urls[0].toLocalFile()).suffix.lower() in IMAGE_SUFFIXES:
            event.acceptProposedAction()

    def dropEvent(self, event):
        path = event.mimeData().urls()[0].toLocalFile()
        if self.explore.encode_path(path):
            self.show_panel("explore")

    # ------------------------------------------------------------ quitting
    def _jobs(self) -> list[Job]:
        """Every background job of the window, the face pickers' encoders included."""
        return self.findChildren(Job)

    def closeEvent(self, event):
        """Never blocks: a running training is stopped at its next step (after asking), other jobs are
        cancelled, and the window closes once every job has ended."""
        busy = [job for job in self._jobs() if job.busy]
        if not busy:
            self.settings.setValue("geometry", self.saveGeometry())
            self.save_work()
            super().closeEvent(event)
            return
        event.ignore()
        if self._quit_when_idle:
            return
        if self.train.running and not self.train.stopping and self._quit_without_asking:
            self.train.stop()  # a signal: a resumable checkpoint at the next step, as Yes would save
        elif self.train.running and not self.train.stopping:
            resumable = "stops at its next step and saves a resumable checkpoint (Train → Resume continues it)"
            what = (
                f"Training goes on until you answer; then it {resumable}."
                if self.train.training_begun
                else "It is preparing its dataset. If it still is when you answer, that stops at once and nothing "
                f"is trained; if training has begun by then, it {resumable}."
            )
            offer, self.train.ask_to_load = self.train.ask_to_load, False  # no "load the new model?" over this
            self.train.running_changed.connect(self._answer_quit_question_when_training_ends)
            try:
                answer = QMessageBox.question(
                    self, QUIT_QUESTION, f"A training run is going. Stop training and quit?\n\n{what}"
                )
            finally:
                self.train.running_changed.disconnect(self._answer_quit_question_when_training_ends)
                self.train.ask_to_load = offer
            if answer != QMessageBox.StandardButton.Yes:
                return
            self.train.stop()
            busy = [job for job in busy if job.busy]  # the run may have ended while the question was open
            if not busy:
                QTimer.singleShot(0, self.close)
                return
        self._quit_when_idle = True
        for job in busy:
            job.cancel()
            job.running_changed.connect(self._close_if_idle)
        QTimer.singleShot(QUIT_WAIT_MS, self, self._abandon_jobs)
        self.show_status("stopping background work before quitting…")
        self.tabs.setEnabled(False)

    def listen_for_signals(self) -> None:
        """SIGTERM, SIGHUP (logout, a closed terminal) and SIGINT (Ctrl-C where it was launched) quit the window as
        :meth:`quit_for_signal` says. Python runs a signal's handler only between its own bytecodes, so a timer gives
        it a moment every 200 ms while Qt waits for events."""
        handle(STOP_SIGNALS, lambda signum, frame: QTimer.singleShot(0, lambda: self.quit_for_signal(signum)))
        self.signal_timer = QTimer(self)
        self.signal_timer.timeout.connect(lambda: None)
        self.signal_timer.start(200)

    def quit_for_signal(self, signum: int) -> None:
        """SIGTERM, SIGHUP or SIGINT: quit as Ctrl+Q and Yes would (a run stops at its next step with a resumable
        checkpoint, the work is kept), without a question no one may be there to answer."""
        log.info("quitting on signal %d", signum)
        self._quit_without_asking = True
        if self._answer_quit_question():  # the question already asked: answered
            return
        box = QApplication.activeModalWidget()
        if isinstance(box, QDialog):
            box.reject()  # a file dialog, say: the close comes once its loop has ended
        QTimer.singleShot(0, self.close)

    def _abandon_jobs(self) -> None:
        """Quitting has waited long enough for work it may drop (an image stuck in its decoder): close without it."""
        for job in self._jobs():
            if job.busy and job.abandonable:
                job.abandon()

    @staticmethod
    def _answer_quit_question() -> bool:
        """Answer Yes to the quit question if it is open; whether it was."""
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.windowTitle() == QUIT_QUESTION:
            box.button(QMessageBox.StandardButton.Yes).click()
            return True
        return False

    def _answer_quit_question_when_training_ends(self, running: bool) -> None:
        """A run that ends while the quit question is open makes the question moot: quit, as asked."""
        if not running:
            self._answer_quit_question()

    def _close_if_idle(self, running: bool) -> None:
        if not running and self._quit_when_idle and not any(job.busy for job in self._jobs()):
            QTimer.singleShot(0, self.close)
