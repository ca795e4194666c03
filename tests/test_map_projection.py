"""The Map's PCA | t-SNE choice and source switches, driven through the panel's widgets (pytest-qt, offscreen)."""

import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtGui import QFontMetrics

from tests.helpers import write_good_faces
from vae.common.control import Cancelled
from vae.explore.projection import tsne_2d


@pytest.fixture
def panel(qtbot, tiny_checkpoint):
    from gui.map_panel import MapPanel
    from vae.explore.session import ExplorerSession

    widget = MapPanel(ExplorerSession.open(tiny_checkpoint))
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    return widget


@pytest.fixture
def faces(tmp_path):
    folder = tmp_path / "faces"
    write_good_faces(folder, 30, size=64)
    return folder


def load(qtbot, panel, folder) -> None:
    with qtbot.waitSignal(panel.settled, timeout=60000):
        assert panel.load(str(folder))


def shown(panel) -> np.ndarray:
    return np.stack([panel.scatter.data["x"], panel.scatter.data["y"]], axis=1)


def dot_at(panel, k: int, offset=(0, 0)):
    """Where map face ``k``'s dot is drawn, in the plot widget's pixels (shifted by ``offset``)."""
    from PySide6.QtCore import QPointF

    view = panel.plot.getPlotItem().getViewBox()
    scene = view.mapViewToScene(QPointF(float(panel.scatter.data["x"][k]), float(panel.scatter.data["y"][k])))
    return panel.plot.mapFromScene(scene) + QPointF(*offset).toPoint()


def point_at(qtbot, panel, k: int, offset=(0, 0)) -> None:
    """The pointer moved over map face ``k`` (or ``offset`` pixels beside it): the move event the window
    system sends (QTest's mouseMove only moves the cursor on the offscreen platform)."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()  # the view's range follows a new layout once events run, as on screen
    viewport = panel.plot.viewport()
    at = QPointF(dot_at(panel, k, offset))
    move = QMouseEvent(
        QEvent.Type.MouseMove,
        at,
        QPointF(viewport.mapToGlobal(at)),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, move)


def loneliest(panel) -> tuple[int, float]:
    """The map face whose dot lies farthest from any other, and that distance in screen pixels."""
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()  # the view's range as drawn
    xy = shown(panel)
    width, height = panel.plot.getPlotItem().getViewBox().viewPixelSize()
    apart = np.hypot((xy[:, None, 0] - xy[None, :, 0]) / width, (xy[:, None, 1] - xy[None, :, 1]) / height)
    np.fill_diagonal(apart, np.inf)
    k = int(np.argmax(apart.min(1)))
    return k, float(apart[k].min())


def choose(panel, projection: str) -> None:
    panel.projection.setCurrentIndex(panel.projection.findData(projection))


def test_the_top_ticks_label_is_not_cut_by_the_widgets_edge(qtbot, panel, faces):
    load(qtbot, panel, faces)
    axis = panel.plot.getPlotItem().getAxis("left")
    half_a_label = QFontMetrics(axis.font()).height() / 2
    top = panel.plot.mapFromScene(panel.plot.getPlotItem().vb.sceneBoundingRect().topLeft()).y()
    assert top >= half_a_label  # the top tick's label, centred on the plot's top edge, fits inside the widget


def test_the_faces_the_model_draws_are_shown_when_the_tab_first_shows_no_click_needed(qtbot, tiny_checkpoint):
    from gui.map_panel import QUICK_COUNT, MapPanel
    from vae.explore.session import ExplorerSession

    widget = MapPanel(ExplorerSession.open(tiny_checkpoint))
    qtbot.addWidget(widget)
    assert widget.map is None  # nothing is drawn for a tab nobody looks at
    widget.show()
    assert widget.map is not None and widget.map.drawn and len(shown(widget)) == QUICK_COUNT
    assert "faces the model draws at random" in widget.status.text()


def test_a_map_of_the_faces_the_model_draws_shows_each_as_drawn_and_sends_its_latent(qtbot, panel):
    from gui.map_panel import QUICK_COUNT

    assert tuple(panel.source.currentData()) == ("drawn", QUICK_COUNT)  # a model that learnt from other faces
    with qtbot.waitSignal(panel.settled, timeout=60000):
        panel.load_button.click()
    assert len(shown(panel)) == QUICK_COUNT and panel.map.drawn and not panel.colour.isEnabled()
    assert "faces the model draws at random" in panel.status.text()
    assert "redraws generated ones" not in panel.status.text()
    latents = panel.map.mu
    spread = latents.std(0) / panel.session.state.prior["scale_tril"].diagonal(dim1=-2, dim2=-1).mean(0)
    assert spread.min() > 0.3  # drawn over the prior, not one face
    k = loneliest(panel)[0]
    point_at(qtbot, panel, k)
    assert panel.preview_label.text() == f"random face {k + 1}" and panel.drawn.isHidden()
    picked = []
    panel.picked.connect(lambda target, slot: picked.append((target, slot)))
    panel.pick(k)
    assert picked and torch.equal(picked[0][1].latent, latents[k]) and picked[0][1].label == f"random face {k + 1}"


def test_faces_the_model_drew_stay_for_its_latent_space_and_give_way_to_another_models_draws(
    qtbot, panel, faces, tmp_path
):
    from tests.helpers import redrawn_model, two_cluster_prior
    from vae.model import checkpoint

    session = panel.session
    checkpoint.save(tmp_path / "redrawn.pt", redrawn_model(session.model), latent_prior=two_cluster_prior())
    other_model = type(session.model)(session.model.config)
    checkpoint.save(tmp_path / "other.pt", other_model, latent_prior=two_cluster_prior(centre=1.0))
    panel.load_button.click()
    first = panel.map
    session.load(tmp_path / "redrawn.pt")  # the same latent space: the same faces, drawn by the new decoder
    assert panel.map is first and np.allclose(shown(panel), first.xy.numpy())
    session.load(tmp_path / "other.pt")  # another: this model's own draws, at once
    assert panel.map.drawn and torch.equal(panel.map.mu, drawn_map_of(session)) and panel.drawn.isHidden()
    assert not torch.allclose(panel.map.mu, first.mu)
    load(qtbot, panel, faces)  # a folder: the face as drawn shows beside its image again
    assert not panel.map.drawn and not panel.drawn.isHidden()


def test_a_source_picked_is_mapped_at_once_and_a_folder_mapped_stays_a_choice(qtbot, panel, faces, tmp_path):
    from tests.helpers import redrawn_model
    from vae.model import checkpoint

    load(qtbot, panel, faces)
    drawn = panel._source_index(("drawn", 1000))
    with qtbot.waitSignal(panel.settled, timeout=60000):
        panel.source.setCurrentIndex(drawn)
        panel.source.activated.emit(drawn)  # as a click on the entry
    assert panel.map.drawn and panel.source.currentIndex() == drawn
    assert panel._source_index((str(faces), 0)) >= 0  # the folder mapped before is still offered
    checkpoint.save(tmp_path / "redrawn.pt", redrawn_model(panel.session.model))
    panel.session.load(tmp_path / "redrawn.pt")
    assert panel._source_index((str(faces), 0)) >= 0  # and after a model switch


def test_a_source_picked_while_the_map_works_waits_and_the_choice_goes_back(qtbot, panel, faces, monkeypatch):
    monkeypatch.setattr("gui.map_panel.tsne_2d", slow_tsne)
    load(qtbot, panel, faces)
    choose(panel, "tsne")
    assert panel.job.busy
    reported = []
    panel.session.status.connect(reported.append)
    drawn = panel._source_index(("drawn", 1000))
    panel.source.setCurrentIndex(drawn)
    panel.source.activated.emit(drawn)
    assert not panel.map.drawn and panel.source.currentData() == (str(faces), 0)
    assert reported and "still working" in reported[-1]
    with qtbot.waitSignal(panel.job.cancelled, timeout=10000):
        panel.job_progress.cancel_button.click()


def drawn_map_of(session):
    from gui.map_panel import QUICK_COUNT
    from vae.explore.latent_map import drawn_map

    return drawn_map(session.state.prior, QUICK_COUNT).mu


def test_a_model_of_the_same_latent_space_keeps_the_map_and_another_clears_it(qtbot, panel, faces, tmp_path):
    from tests.helpers import redrawn_model
    from vae.model import checkpoint

    load(qtbot, panel, faces)
    latent_map, points = panel.map, shown(panel).copy()
    session = panel.session
    checkpoint.save(tmp_path / "redrawn.pt", redrawn_model(session.model))
    session.load(tmp_path / "redrawn.pt")
    assert panel.map is latent_map and np.array_equal(shown(panel), points)
    checkpoint.save(tmp_path / "other.pt", type(session.model)(session.model.config))
    session.load(tmp_path / "other.pt")
    assert panel.map is None and not panel.scatter.data.size


def test_faces_being_mapped_at_a_switch_to_the_same_latent_space_are_mapped_and_another_space_stops_them(
    qtbot, panel, faces, tmp_path, monkeypatch
):
    import gui.map_panel
    from tests.helpers import redrawn_model
    from vae.model import checkpoint

    release, real_build_map = threading.Event(), gui.map_panel.build_map

    def build_map_released_later(*args, **kwargs):
        release.wait(60)
        return real_build_map(*args, **kwargs)

    monkeypatch.setattr(gui.map_panel, "build_map", build_map_released_later)
    session = panel.session
    checkpoint.save(tmp_path / "redrawn.pt", redrawn_model(session.model))
    checkpoint.save(tmp_path / "other.pt", type(session.model)(session.model.config))
    for path, kept in (("redrawn.pt", True), ("other.pt", False)):
        assert panel.load(str(faces))
        session.load(tmp_path / path)
        assert ("Encoding" in panel.status.text()) == kept  # else the job is asked to stop, the map cleared
        assert panel.source.currentData() == ((str(faces), 0) if kept else tuple(panel.source.itemData(0)))
        with qtbot.waitSignal(panel.settled, timeout=60000):
            release.set()
        release.clear()
        assert (panel.map is not None) == kept and (len(shown(panel)) == 30) == kept
    assert "Map a set of faces" in panel.status.text()  # the switch asked the job to stop: no "Cancelled"


def test_tsne_is_drawn_from_the_job_and_both_layouts_come_back_from_the_cache(qtbot, panel, faces):
    load(qtbot, panel, faces)
    pca = shown(panel)
    assert np.allclose(pca, panel.map.xy.numpy()) and panel.plot.getAxis("bottom").labelText == "principal component 1"
    starts = []
    panel.job.started.connect(lambda: starts.append(1))
    with qtbot.waitSignal(panel.settled, timeout=60000):
        choose(panel, "tsne")
        assert panel.job.busy and np.array_equal(shown(panel), pca)  # PCA stays up while t-SNE runs
    expected = tsne_2d(panel.map.mu.numpy())
    assert np.allclose(shown(panel), expected) and not np.allclose(shown(panel), pca)
    assert panel.plot.getAxis("bottom").labelText == "t-SNE axis 1" and "t-SNE" in panel.status.text()
    panel.colour.setCurrentIndex(panel.colour.findData("hair_color"))
    assert len({brush.color().name() for brush in panel.scatter.data["brush"]}) > 1 and panel.legend.isVisible()
    assert np.allclose(shown(panel), expected)
    with qtbot.assertNotEmitted(panel.job.started):
        choose(panel, "pca")
        assert not panel.job.busy and np.array_equal(shown(panel), pca)
        choose(panel, "tsne")
        assert not panel.job.busy and np.allclose(shown(panel), expected)
    assert starts == [1]


def slow_tsne(latents, control, **options):
    """A t-SNE that never ends on its own: it reports progress until it is asked to stop."""
    while not control.should_stop():
        control.progress(1, 750, "t-SNE")
        time.sleep(0.01)
    raise Cancelled()


def test_cancel_stops_tsne_and_leaves_the_pca_map(qtbot, panel, faces, monkeypatch):
    monkeypatch.setattr("gui.map_panel.tsne_2d", slow_tsne)
    load(qtbot, panel, faces)
    reported = []
    panel.session.status.connect(reported.append)
    pca = shown(panel)
    choose(panel, "tsne")
    qtbot.waitUntil(lambda: not panel.job_progress.isHidden() and "t-SNE" in panel.job_progress.label.text())
    assert not panel.load_button.isEnabled()
    with qtbot.waitSignal(panel.job.cancelled, timeout=10000):
        panel.job_progress.cancel_button.click()
    assert panel.projection.currentData() == "pca" and panel.layouts.projection == "pca"
    assert panel.layouts.get(panel.map.face_set, "tsne") is None and np.array_equal(shown(panel), pca)
    assert panel.load_button.isEnabled() and "PCA" in panel.status.text()
    assert reported == ["t-SNE cancelled: the map is laid out by PCA"]


def test_switching_to_pca_while_tsne_runs_stops_it_and_shows_pca_at_once(qtbot, panel, faces, monkeypatch):
    monkeypatch.setattr("gui.map_panel.tsne_2d", slow_tsne)
    load(qtbot, panel, faces)
    choose(panel, "tsne")
    assert panel.job.busy
    with qtbot.waitSignal(panel.job.cancelled, timeout=10000):
        choose(panel, "pca")
        assert np.array_equal(shown(panel), panel.map.xy.numpy())
    assert not panel.job.busy and panel.projection.currentData() == "pca"


def test_a_source_switch_clears_the_previous_face(qtbot, panel, faces, tmp_path):
    load(qtbot, panel, faces)
    k, _ = loneliest(panel)
    point_at(qtbot, panel, k)  # the pointer over a face
    assert panel.preview.image is not None and panel.preview_label.text().startswith("cs")
    sent = panel.map.slot(k).latent
    assert torch.equal(panel.drawn.image, panel.session.render(sent))  # beside it, the face a click sends
    panel.source.setCurrentIndex(panel.source.count() - 1)
    assert panel.preview.image is None and panel.preview_label.text() == "Point at a face"
    point_at(qtbot, panel, k)
    write_good_faces(tmp_path / "other", 20, seed=4, size=64)
    load(qtbot, panel, tmp_path / "other")
    assert panel.preview.image is None and len(panel.map) == 20


def test_a_failed_tsne_says_why_and_falls_back_to_pca(qtbot, panel, faces, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no openTSNE here")

    monkeypatch.setattr("gui.map_panel.tsne_2d", broken)
    load(qtbot, panel, faces)
    with qtbot.waitSignal(panel.error, timeout=10000) as error:
        choose(panel, "tsne")
    assert "no openTSNE here" in error.args[0] and "no openTSNE here" in panel.status.text()
    assert panel.projection.currentData() == "pca" and np.array_equal(shown(panel), panel.map.xy.numpy())


@pytest.mark.parametrize(
    "learnt_from, coloured, projection",
    [("test faces", False, "tsne"), ("generated", True, "tsne"), ("test faces", False, "pca")],
)
def test_the_screenshot_waits_for_the_tsne_map_of_the_default_faces(
    tmp_path, tiny_model, monkeypatch, learnt_from, coloured, projection
):
    """The default faces: those the model draws (no labels to colour by), or for a model that learnt from the
    built-in faces, generated faces coloured by their labels."""
    import main
    from gui.main_window import MainWindow
    from vae.data.cache import BUILTIN_SOURCE
    from vae.model import checkpoint

    source = BUILTIN_SOURCE if learnt_from == "generated" else learnt_from
    tiny_checkpoint = checkpoint.save(tmp_path / "tiny.pt", tiny_model, dataset={"source": source, "count": 10})
    monkeypatch.setattr("gui.map_panel.QUICK_COUNT", 24)
    at_grab = []

    def grab(window):
        shown_map = window.map_panel
        colours = {brush.color().name() for brush in shown_map.scatter.data["brush"]}
        at_grab.append((shown_map.shown_projection(), len(shown_map.scatter.data), len(colours) > 1))
        return MainWindow.__mro__[1].grab(window)

    monkeypatch.setattr(MainWindow, "grab", grab)
    out = tmp_path / "map.png"
    argv = ["--checkpoint", str(tiny_checkpoint), "--panel", "map", "--map-projection", projection]
    assert main.main([*argv, "--screenshot", str(out)]) == 0  # returns: a map laid out at once does not hang it
    assert at_grab == [(projection, 24, coloured)]  # laid out as asked, every face
    with Image.open(out) as image:
        assert image.size == (1280, 800)


def test_picking_folder_asks_for_it_at_once_and_names_it_in_the_choices(qtbot, panel, faces, monkeypatch):
    chosen = []
    monkeypatch.setattr("gui.map_panel.ask_folder", lambda *args: chosen.pop() if chosen else None)
    folder_item = panel.source.count() - 1
    assert panel.source.itemText(folder_item) == "Folder…"
    panel.source.setCurrentIndex(folder_item)
    panel.source.activated.emit(folder_item)  # cancelled: the choice goes back
    assert panel.source.currentIndex() == 0 and not panel.job.busy
    chosen.append(str(faces))
    panel.source.setCurrentIndex(folder_item)
    with qtbot.waitSignal(panel.settled, timeout=60000):
        panel.source.activated.emit(folder_item)
    assert panel.source.currentText() == "faces" and panel.source.itemText(panel.source.count() - 1) == "Folder…"
    assert panel.status.text().startswith(f"{len(panel.map)} faces of faces, laid out by PCA")


def test_a_new_layout_clears_the_face_pointed_at_before_the_points_moved(qtbot, panel, faces):
    load(qtbot, panel, faces)
    point_at(qtbot, panel, loneliest(panel)[0])
    assert panel.preview.image is not None
    with qtbot.waitSignal(panel.settled, timeout=60000):
        choose(panel, "tsne")
    assert panel.preview.image is None and panel.preview_label.text() == "Point at a face"
    point_at(qtbot, panel, loneliest(panel)[0], offset=(1, 0))
    panel.redraw()  # drawn again as laid out (a new colouring): no point moved, the face stays
    assert panel.preview.image is not None


def test_generated_faces_on_a_model_of_other_faces_are_said_to_be_redrawn_roughly(qtbot, panel, faces):
    from vae.data.cache import BUILTIN

    load(qtbot, panel, faces)  # a folder: nothing to say
    assert "redraws generated ones roughly" not in panel.status.text()
    panel._mapped = (BUILTIN, len(panel.map))  # as if these were the built-in faces, the model's "test faces" not
    panel._describe()
    assert panel.status.text().startswith(f"{len(panel.map)} generated faces, laid out by PCA")
    assert panel.status.text().endswith("This model learnt from other faces and redraws generated ones roughly.")


def test_a_failed_or_cancelled_encoding_leaves_the_choice_and_the_words_on_the_faces_still_mapped(
    qtbot, panel, faces, tmp_path
):
    load(qtbot, panel, faces)
    shown_text = panel.status.text()
    (tmp_path / "empty").mkdir()
    with qtbot.waitSignal(panel.error, timeout=60000):
        panel.load(str(tmp_path / "empty"))
    qtbot.waitUntil(lambda: not panel.job.busy, timeout=10000)
    assert panel.source.currentText() == "faces" and len(panel.map) == 30
    choose(panel, "tsne")
    qtbot.waitUntil(lambda: panel.status.text().startswith("30 faces of faces, laid out by t-SNE"), timeout=60000)
    assert shown_text.startswith("30 faces of faces, laid out by PCA")


def test_pointing_near_a_dot_shows_its_face_and_a_click_there_sends_it(qtbot, panel, faces):
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtWidgets import QApplication

    from gui.map_panel import SNAP_PX

    load(qtbot, panel, faces)
    k, apart = loneliest(panel)  # nothing else within the snap
    assert apart / 2 > SNAP_PX + 2  # room to point beside it and too far from it
    xy = shown(panel)
    point_at(qtbot, panel, k, offset=(7, 0))  # beside the dot, not on it
    assert panel.preview.image is not None and panel.preview_label.text() == panel.describe_point(k)
    assert len(panel.ring.data) == 1 and panel.ring.data["x"][0] == xy[k, 0]  # ringed
    QApplication.sendEvent(panel.plot.viewport(), QEvent(QEvent.Type.Leave))  # the pointer leaves the plot
    assert len(panel.ring.data) == 0
    point_at(qtbot, panel, k, offset=(SNAP_PX + 2, 0))  # nearer this dot than any other, and too far from it
    assert len(panel.ring.data) == 0 and panel.preview_label.text() == panel.describe_point(k)  # the face stays
    picked = []
    panel.picked.connect(lambda target, slot: picked.append(slot))
    qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=dot_at(panel, k, (0, 7)))
    assert [slot.label for slot in picked] == [panel.map.slot(k).label]
