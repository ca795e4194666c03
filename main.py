"""Launch Face Explorer.

    python main.py [--checkpoint PATH] [--screenshot PNG [--panel explore|train|morph|arithmetic|map]]

With no checkpoint it opens the pretrained default model in resources/. --screenshot lays the
window out at 1280×800, saves it as a PNG and exits (works with QT_QPA_PLATFORM=offscreen).
A checkpoint that cannot be opened prints one line on stderr and exits with code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_MODEL = Path(__file__).resolve().parent / "resources" / "default_model.pt"
SCREENSHOT_SIZE = (1280, 800)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="face-explorer", description="Explore a cartoon-face VAE's latent space.")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help=f"model checkpoint to open (default: the pretrained {DEFAULT_MODEL.name})")
    parser.add_argument("--screenshot", type=Path, default=None, help="render the window to this PNG and exit")
    parser.add_argument("--panel", choices=("explore", "train", "morph", "arithmetic", "map"), default="explore",
                        help="panel to show (with --screenshot)")
    parser.add_argument("--seed", type=int, default=None, help="start from a random face drawn with this seed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from vae.checkpoint import CheckpointError
    from vae.session import ExplorerSession

    path = args.checkpoint or DEFAULT_MODEL
    try:
        session = ExplorerSession.open(path)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.seed is not None:
        session.state.randomize(0.8, torch.Generator().manual_seed(args.seed))

    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Face Explorer")
    window = MainWindow(session)
    if args.screenshot is not None:
        window.resize(*SCREENSHOT_SIZE)
        window.show_panel(args.panel)
        window.show()
        app.processEvents()
        if not window.grab().save(str(args.screenshot), "PNG"):
            print(f"error: cannot write screenshot {args.screenshot}", file=sys.stderr)
            return 2
        window.close()
        return 0
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
