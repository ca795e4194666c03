"""Launch Face Explorer.

    python main.py [--checkpoint PATH] [--screenshot PNG [--panel explore|train|morph|arithmetic|map]]
                   [--map-projection pca|tsne]

With no checkpoint it opens the pretrained default model in resources/: the 128×128 one when it is
there and this machine decodes it fast enough (vae.explore.default_choice), else the 64×64 one. The window (a start-up
card) shows at once and the model loads after it is painted. --screenshot lays the window out at
1280×800, saves it as a PNG and exits (works with QT_QPA_PLATFORM=offscreen). A checkpoint that
cannot be opened, or a Qt that cannot reach the display, prints one line on stderr and exits with code 2.
--map-projection chooses the Map's layout; with --screenshot --panel map the Map's default faces are encoded
and laid out (coloured by hair colour when labelled) before the window is saved.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import sys
import tempfile
from pathlib import Path

from gui.app_info import PANELS
from vae.common.cli_args import SEED_MAX, int_range

SCREENSHOT_SIZE = (1280, 800)
XCB_PACKAGES = (
    "libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 "
    "libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="face-explorer", description="Explore a cartoon-face VAE's latent space.")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="model checkpoint to open (default: the pretrained default_model_128.pt where it is fast "
        "enough here, else default_model.pt)",
    )
    parser.add_argument("--screenshot", type=Path, default=None, help="render the window to this PNG and exit")
    parser.add_argument(
        "--panel",
        choices=PANELS,
        default="explore",
        help="panel to show (with --screenshot)",
    )
    parser.add_argument(
        "--map-projection",
        choices=("pca", "tsne"),
        default=None,
        help="the Map's layout; with --screenshot --panel map it maps the default faces first",
    )
    parser.add_argument(
        "--seed", type=int_range(0, SEED_MAX), default=None, help="start from a random face drawn with this seed"
    )
    return parser


def platform_problem() -> str | None:
    """Why Qt's X11 (xcb) platform plugin cannot start here, in one line, or None.

    Qt aborts the whole process when its platform plugin fails to load; the usual cause on a bare
    Linux is a missing xcb system library, so the plugin is loaded once here to name it first.
    """
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or (platform and not platform.startswith("xcb")):
        return None
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return None
    if not os.environ.get("DISPLAY"):
        return (
            "no display: DISPLAY is not set (run the app inside a desktop session, or set "
            "QT_QPA_PLATFORM=offscreen for --screenshot)"
        )
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        return None
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        missing = str(exc).split(":")[0].strip() if ".so" in str(exc) else str(exc)
        return (
            f"Qt cannot start its X11 platform plugin: {missing} is missing. Install the system libraries "
            f"Qt needs: sudo apt-get install {XCB_PACKAGES}"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = platform_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    from PySide6.QtCore import QEvent, QObject, Qt, QTimer
    from PySide6.QtWidgets import QApplication, QLabel

    from gui import app_info

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(app_info.APP_NAME)
    if args.screenshot is not None:
        return _screenshot(args, app)
    app_info.setup_logging()
    card = QLabel(f"<h2>{app_info.APP_NAME}</h2><p>Loading the model…</p>")
    card.setAlignment(Qt.AlignmentFlag.AlignCenter)
    card.setWindowTitle(app_info.APP_NAME)
    card.resize(420, 200)
    opened = []

    def open_window():  # the slow part (importing torch, reading the checkpoint), once the card is on screen
        if opened:
            return
        opened.append(None)
        opening = open_session(args, last_model=app_info.last_model())
        if opening is None:
            app.exit(2)
            return
        from gui.main_window import MainWindow

        session, note = opening
        opened[0] = MainWindow(session)
        opened[0].work_folder = app_info.work_folder()
        opened[0].take_up_work(explore=args.seed is None)  # a face asked for by --seed comes first
        if args.map_projection:
            opened[0].map_panel.set_projection(args.map_projection)
        opened[0].show()
        opened[0].listen_for_signals()
        logging.getLogger("face_explorer").info("window open on %s", session.path)
        if note:
            session.report(note)
        card.close()

    class FirstPaint(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Paint:
                QTimer.singleShot(50, open_window)  # after the paint has reached the screen
            return False

    painted = FirstPaint(card)
    card.installEventFilter(painted)
    card.show()
    QTimer.singleShot(3000, open_window)  # in case no paint event arrives (a hidden or unmapped card)
    return app.exec()


def open_session(args, last_model: str | None = None):
    """(session, note) for ``--checkpoint``, else for ``last_model`` (the model opened last time, where it still
    opens), else for the default model, with a note on which one opened and why; None after printing why it cannot
    open."""
    import torch

    from vae.explore.default_choice import choose_default
    from vae.explore.session import ExplorerSession
    from vae.model.checkpoint import CheckpointError
    from vae.model.inference import DrawPrecisionError, named_drawing_dtype

    try:
        named_drawing_dtype()  # a wrong $FACE_EXPLORER_DRAW is refused before any model is timed or loaded
        last = _open_last(last_model) if args.checkpoint is None and last_model else None
        if last is not None:
            session, note = last
        elif args.checkpoint is None:
            choice = choose_default()
            logging.getLogger("face_explorer").info("default model: %s", choice.reason)
            session, note = ExplorerSession(choice.checkpoint), choice.reason
            if last_model:
                note = f"{Path(last_model).name}, opened last time, is gone or unreadable: {note}"
        else:
            session, note = ExplorerSession.open(args.checkpoint), None
    except (CheckpointError, DrawPrecisionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if args.seed is not None:
        session.state.randomize(0.8, torch.Generator().manual_seed(args.seed))
    return session, note


def _open_last(path: str):
    """(session, note) for the model opened last time, or None where it is gone or cannot be read (logged)."""
    from gui.main_window import OPEN_ERRORS
    from vae.explore.session import ExplorerSession

    if not Path(path).is_file():
        return None
    try:
        session = ExplorerSession.open(path)
    except OPEN_ERRORS as exc:
        logging.getLogger("face_explorer").warning("the model opened last time cannot be opened: %s", exc)
        return None
    return (
        session,
        f"opened {Path(path).name}, as at your last launch (File → Open a pretrained model goes back to a default)",
    )


def _screenshot(args, app) -> int:
    """Lay the window out at SCREENSHOT_SIZE, save it as ``args.screenshot`` and return the exit code."""
    opening = open_session(args)
    if opening is None:
        return 2
    from PySide6.QtCore import QSettings

    from gui.main_window import MainWindow

    with tempfile.TemporaryDirectory() as scratch:  # the user's settings are neither read nor changed by a screenshot
        window = MainWindow(opening[0], QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat))
        window.resize(*SCREENSHOT_SIZE)
        window.show_panel(args.panel)
        window.show()
        if args.map_projection and args.panel == "map":
            _show_map(window.map_panel, args.map_projection)
        app.processEvents()
        ok = window.grab().save(str(args.screenshot), "PNG")
        window.close()
    if not ok:
        print(f"error: cannot write screenshot {args.screenshot}", file=sys.stderr)
        return 2
    return 0


def _show_map(panel, projection: str) -> None:
    """Encode the Map's default faces and lay them out by ``projection``; returns once they are drawn."""
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    panel.set_colour("hair_color")
    settled = []

    def on_settled() -> None:
        settled.append(True)
        loop.quit()

    panel.settled.connect(on_settled)
    if panel.load_default() and not settled:  # faces the model draws are laid out at once
        loop.exec()
    settled.clear()
    panel.set_projection(projection)  # t-SNE: a job, once these faces are mapped
    if panel.job.busy and not settled:
        loop.exec()
    panel.settled.disconnect(on_settled)


if __name__ == "__main__":
    sys.exit(main())
