"""The app's name, version, dataset attribution and log file (what the About box shows)."""

from __future__ import annotations

import logging
import os
import sys
from importlib import metadata
from pathlib import Path

APP_NAME = "Face Explorer"
PANELS = ("explore", "train", "morph", "arithmetic", "map")  # the window's tabs, in order
DATASET_ATTRIBUTION = (
    "Cartoon Set: An Image Dataset of Random Cartoons — Forrester Cole, Inbar Mosseri, Dilip Krishnan, "
    "Aaron Sarna, Aaron Maschinot, Bill Freeman, Shiraz Fuman (Google). CC-BY 4.0, "
    "<a href='https://google.github.io/cartoonset/'>https://google.github.io/cartoonset/</a>"
)

SHIPPED_TRAINING = (
    "Cartoon Set: 25,471 real faces of cartoonset10k and cartoonset100k in three folders, 1,500 of them held out "
    "to measure it, in stages (README, “The default models”)"
)


def version() -> str:
    try:
        return metadata.version("face-explorer")
    except metadata.PackageNotFoundError:
        return "(development checkout)"


LAST_MODEL_KEY = "model/last"  # the model the user opened last, which the next launch opens


def settings():
    """The app's settings (QSettings, the platform's usual place)."""
    from PySide6.QtCore import QSettings

    return QSettings("FaceExplorer", "FaceExplorer")


def last_model() -> str | None:
    """The path of the model the user opened last (File → Open…), if any."""
    return str(settings().value(LAST_MODEL_KEY, "") or "") or None


def state_folder() -> Path:
    """The user's state folder for the app: $XDG_STATE_HOME/face-explorer, else ~/.local/state/face-explorer."""
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "face-explorer"


def log_path() -> Path:
    """Where the app writes its log: $FACE_EXPLORER_LOG, else face-explorer.log in the user's state folder."""
    env = os.environ.get("FACE_EXPLORER_LOG")
    if env:
        return Path(env).expanduser()
    return state_folder() / "face-explorer.log"


def work_folder() -> Path:
    """Where the work is kept from one launch to the next (the explorer's face and history, the morph, the sum),
    one file per latent space."""
    return state_folder() / "work"


class LogFile(logging.FileHandler):
    """A log file that, when a write fails (a full disk, a vanished folder), says so once on stderr and stops."""

    failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        if not self.failed:
            self.failed = True
            reason = sys.exc_info()[1]
            print(
                f"face-explorer: cannot write the log file {self.baseFilename} ({reason}); "
                "nothing more is written to it",
                file=sys.stderr,
            )

    def close(self) -> None:
        try:
            super().close()
        except OSError:  # what was still buffered cannot be written either; that was said once already
            self.stream = None


def setup_logging() -> Path | None:
    """Send the app's log (background errors with their tracebacks) to :func:`log_path`; None if it cannot be
    written."""
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = LogFile(path, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("face_explorer")
    for old in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:  # one log file at a time
        logger.removeHandler(old)
        old.close()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return path
