"""Render the README's screenshots of every panel, with the model the app opens by default, at 1280×800.

    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py [--out docs]

The Map panel encodes 600 freshly generated faces (laid out by t-SNE) and the Train panel runs a short
training on them first, so the pictures show what a user sees after using each panel.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui.main_window import MainWindow  # noqa: E402
from vae.data import synth  # noqa: E402
from vae.explore.default_choice import choose_default  # noqa: E402
from vae.explore.session import ExplorerSession  # noqa: E402
from vae.explore.slots import FaceSlot  # noqa: E402


def wait_for(signal) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    loop.exec()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the model the app opens")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["FACE_EXPLORER_CACHE"] = str(tmp / "cache")
        faces = tmp / "generated_faces"  # the Map names the folder: "600 faces of generated_faces"
        synth.generate(faces, 600, seed=4242, size=256)
        session = (
            ExplorerSession.open(args.checkpoint) if args.checkpoint else ExplorerSession(choose_default().checkpoint)
        )
        window = MainWindow(session, QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
        window.resize(1280, 800)
        window.show()
        session = window.session
        session.state.randomize(0.8, torch.Generator().manual_seed(11))
        window.morph.slot_a.set_slot(FaceSlot(session.state.values, "random (T=0.8)"), "random")
        session.state.randomize(0.8, torch.Generator().manual_seed(5))
        window.morph.slot_b.set_slot(FaceSlot(session.state.values, "random (T=0.8)"), "random")
        session.state.set_lock(session.dimension_order[0], True)
        window.morph.timeline.setValue(4)
        arith = window.arithmetic
        arith.preset_analogy()
        if session.checkpoint.directions:
            arith.add_direction("glasses", 1.5)
            arith.set_keep_fixed(["facial_hair"])
            while arith.hold_pending:  # the held face, as the tab shows it a moment later
                wait_for(arith.hold_job.running_changed)
        window.map_panel.load(str(faces))
        wait_for(window.map_panel.settled)
        window.map_panel.set_projection("tsne")  # the README's Map shows the t-SNE layout
        wait_for(window.map_panel.settled)
        window.map_panel.colour.setCurrentIndex(window.map_panel.colour.findData("hair_color"))
        window.map_panel.scatter.sigHovered.emit(window.map_panel.scatter, [window.map_panel.scatter.points()[7]], None)
        train = window.train
        train.set_folder(str(faces))
        train.epochs.setValue(3)
        train.batch_size.setValue(32)
        train.out_dir.setText(str(tmp / "run"))
        train.ask_to_load = False
        train.start()
        wait_for(train.job.running_changed)  # start() has announced the run: this is its end
        app.processEvents()
        for panel in ("explore", "morph", "arithmetic", "map", "train"):
            window.show_panel(panel)
            app.processEvents()
            if not window.grab().save(str(args.out / f"screenshot_{panel}.png")):
                raise SystemExit(f"cannot write {args.out / f'screenshot_{panel}.png'}")
            print(f"wrote {args.out / f'screenshot_{panel}.png'}")
        window.close()


if __name__ == "__main__":
    main()
