"""The decoded atlas and the thumbnails on the Explorer's scatter, driven through the real
window: the Layers menu, the view box's pan and zoom, the opacity, the export.

What is checked is what the user sees: the tiles the layer hands to the screen (and the
screen's pixels for one of them) against decode(z) computed here from the tile's centre, the
level of detail after a zoom, the decodes a pan costs, the thumbnails' images."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PySide6.QtGui import QImage

from latentexplorer.analysis import atlas as atlas_maths
from latentexplorer.gui.explorer import thumbnails_layer
from latentexplorer.gui.widgets.images import to_uint8

WAIT_MS = 20_000


def wait_for_atlas(atlas, qtbot, timeout: int = WAIT_MS) -> None:
    qtbot.waitUntil(lambda: atlas.complete and not atlas.busy, timeout=timeout)


def expected_tile(session, centre: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
    """decode(z) at a tile's centre, computed here: z from the projection's inverse, the hidden
    coordinates from `base` (the data mean without one)."""
    z = session.view.projection.inverse(np.asarray(centre, float), base)
    return to_uint8(session.opened.decode(z)[0])


def assert_tiles_are_decodes(session, atlas, base=None, count: int = 6) -> None:
    tiles = atlas.tiles()
    assert tiles, "no tiles drawn"
    for k in np.linspace(0, len(tiles) - 1, count).astype(int):
        centre, tile = tiles[k]
        expected = expected_tile(session, centre, base)
        assert tile.shape == expected.shape
        # the tiles are decoded in batches: a float may round to the next uint8 level
        assert np.abs(tile.astype(int) - expected.astype(int)).max() <= 1, f"tile at {centre}"


def viewport_pixels(window) -> np.ndarray:
    image = window.scatter.plot.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    rows = np.frombuffer(image.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    return rows[:, : 3 * w].reshape(h, w, 3).astype(int)


def sampled_tile(window, atlas, centre: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The screen's pixel at the middle of each of the tile's image pixels (H×W×3)."""
    screen = viewport_pixels(window)
    rect = atlas.screen_rect_of(centre)
    h, w = shape
    ys = np.floor(rect.top() + (np.arange(h) + 0.5) * (rect.height() - 1) / h).astype(int)
    xs = np.floor(rect.left() + (np.arange(w) + 0.5) * (rect.width() - 1) / w).astype(int)
    return screen[ys][:, xs]


def show_empty_region(window) -> None:
    """A view right of the data: no points or ellipses over the tiles, only the grid lines."""
    xy = window.session.view.xy
    x1 = float(xy[:, 0].max())
    window.scatter.view_box.setRange(xRange=(x1 + 3, x1 + 6), yRange=(0, 3), padding=0)


# --- the atlas ------------------------------------------------------------------------------


def test_the_layers_menu_switches_on_an_atlas_of_decodes_under_the_points(window, qtbot):
    session, atlas, scatter = window.session, window.map_layers.atlas, window.scatter
    assert not atlas.item.isVisible() and atlas.mosaic() is None
    window.map_layers.actions["atlas"].trigger()
    assert session.layers.is_on("atlas")
    wait_for_atlas(atlas, qtbot)
    assert atlas.item.isVisible() and len(atlas.item) == len(atlas.grid) == len(atlas.tiles())
    assert atlas.item.zValue() < scatter.points.zValue() and atlas.item.zValue() < scatter.contours.zValue()
    assert_tiles_are_decodes(session, atlas)
    for centre, _ in atlas.tiles()[:: max(1, len(atlas.tiles()) // 5)]:
        rect = atlas.screen_rect_of(centre)  # tiles ~48 px apart on screen: one level of the ladder
        assert 48 / 2**0.5 - 1 <= rect.width() <= 48 * 2**0.5 + 1
        assert 48 / 2**0.5 - 1 <= rect.height() <= 48 * 2**0.5 + 1
    # the visible region is covered
    (x0, x1), (y0, y1) = scatter.view_box.viewRange()
    cells = atlas_maths.cells(atlas.grid.in_rows())
    assert cells[:, 0].min() <= x0 and cells[:, 1].max() >= x1
    assert cells[:, 2].min() <= y0 and cells[:, 3].max() >= y1


def test_the_screen_shows_each_tile_as_its_decode_at_the_opacity_chosen(window, qtbot):
    session, atlas = window.session, window.map_layers.atlas
    show_empty_region(window)
    session.layers.set_opacity("atlas", 1.0)
    session.layers.set_enabled("atlas", True)
    wait_for_atlas(atlas, qtbot)
    assert atlas.item.opacity() == 1.0
    (x0, x1), (y0, y1) = window.scatter.view_box.viewRange()
    centre, tile = min(atlas.tiles(), key=lambda t: np.hypot(t[0][0] - (x0 + x1) / 2, t[0][1] - (y0 + y1) / 2))
    expected = expected_tile(session, centre)
    assert np.abs(tile.astype(int) - expected.astype(int)).max() <= 1
    shown = sampled_tile(window, atlas, centre, expected.shape[:2])
    close = np.abs(shown - expected.astype(int)).max(axis=2) <= 3
    assert close.mean() >= 0.85, "the screen does not show the tile's decode"  # grid lines aside

    session.layers.set_opacity("atlas", 0.5)
    assert atlas.item.opacity() == 0.5
    qtbot.wait(20)
    blended = sampled_tile(window, atlas, centre, expected.shape[:2])
    over_white = 0.5 * expected.astype(int) + 0.5 * 255
    assert (np.abs(blended - over_white).max(axis=2) <= 4).mean() >= 0.85


def test_zooming_in_refines_and_panning_reuses_the_decoded_tiles(window, qtbot):
    session, atlas, view_box = window.session, window.map_layers.atlas, window.scatter.view_box
    session.layers.set_enabled("atlas", True)
    wait_for_atlas(atlas, qtbot)
    level, spacing = atlas.grid.level, atlas.grid.spacing
    before = atlas.decoded

    view_box.scaleBy((0.5, 0.5))
    wait_for_atlas(atlas, qtbot)
    assert atlas.grid.level == (level[0] - 1, level[1] - 1)
    assert atlas.grid.spacing == (spacing[0] / 2, spacing[1] / 2)  # finer: more detail per unit
    asked = len(atlas.grid.grown(1))  # the view's tiles and the ring around it
    assert atlas.decoded - before <= 0.85 * asked, "a zoom in reuses every other row and column"
    assert_tiles_are_decodes(session, atlas)

    view_box.scaleBy((2.0, 2.0))  # back out: every tile of the coarser level is decoded
    qtbot.waitUntil(lambda: atlas.grid.level == level, timeout=WAIT_MS)
    assert atlas.complete, "drawn at once from the tiles decoded before"

    wait_for_atlas(atlas, qtbot)
    before = atlas.decoded
    rows, columns = atlas.grid.shape[0], atlas.grid.columns
    view_box.translateBy(x=spacing[0])  # one column: the ring decoded it already
    qtbot.waitUntil(lambda: atlas.grid.columns == (columns[0] + 1, columns[1] + 1), timeout=WAIT_MS)
    assert atlas.complete, "the tiles a short pan shows were decoded with the view before"
    wait_for_atlas(atlas, qtbot)
    assert 0 < atlas.decoded - before <= rows + 4  # only the ring's new column
    assert_tiles_are_decodes(session, atlas)


def test_switching_the_atlas_off_draws_nothing_and_decodes_nothing(window, qtbot):
    session, atlas = window.session, window.map_layers.atlas
    window.map_layers.actions["atlas"].trigger()
    wait_for_atlas(atlas, qtbot)
    window.map_layers.actions["atlas"].trigger()
    assert not session.layers.is_on("atlas")
    assert not atlas.item.isVisible() and len(atlas.item) == 0 and atlas.tiles() == []
    before = atlas.decoded
    window.scatter.view_box.scaleBy((0.25, 0.25))
    qtbot.wait(300)
    assert atlas.decoded == before and not session.tasks.running("atlas")
    assert atlas.mosaic() is None


def test_decoding_never_runs_in_the_gui_thread(window, qtbot, monkeypatch):
    session, atlas, view_box = window.session, window.map_layers.atlas, window.scatter.view_box
    model, threads = session.opened.model, []
    real = model.mean

    def recorded(z):
        threads.append(threading.current_thread())
        return real(z)

    monkeypatch.setattr(model, "mean", recorded)
    session.layers.set_enabled("atlas", True)
    for _ in range(10):  # pans and zooms while tiles compute: one decode at a time, never here
        view_box.translateBy(x=0.3)
        view_box.scaleBy((0.8, 0.8))
        qtbot.wait(5)
    wait_for_atlas(atlas, qtbot)
    assert threads and threading.main_thread() not in threads
    monkeypatch.undo()
    assert_tiles_are_decodes(session, atlas)


def test_the_mosaic_is_the_grid_of_tiles_in_view(window, qtbot, tmp_path):
    from PIL import Image

    session, atlas = window.session, window.map_layers.atlas
    session.layers.set_enabled("atlas", True)
    wait_for_atlas(atlas, qtbot)
    mosaic = atlas.mosaic()
    rows, columns = atlas.grid.shape
    assert mosaic.dtype == np.uint8 and mosaic.shape == (rows * 8, columns * 8, 3)
    top_left = atlas_maths.centres(atlas.grid.in_rows()[:1])[0]
    assert np.abs(mosaic[:8, :8].astype(int) - expected_tile(session, top_left).astype(int)).max() <= 1
    path = window.map_layers.export_atlas(str(tmp_path / "atlas.png"))
    saved = np.asarray(Image.open(path).convert("RGB"))
    factor = saved.shape[0] // mosaic.shape[0]  # enlarged by a whole factor, pixels kept sharp
    assert factor >= 2 and saved.shape == (mosaic.shape[0] * factor, mosaic.shape[1] * factor, 3)
    np.testing.assert_array_equal(saved[::factor, ::factor], mosaic)


def test_more_dimensions_take_the_hidden_coordinates_from_the_selection(sprites_window, qtbot):
    window = sprites_window
    session, atlas = window.session, window.map_layers.atlas
    assert session.opened.latent_dim == 8
    session.layers.set_enabled("atlas", True)
    wait_for_atlas(atlas, qtbot)
    assert_tiles_are_decodes(session, atlas)  # the data mean
    first = {tuple(c): t for c, t in atlas.tiles()}
    session.selection.select(7)
    wait_for_atlas(atlas, qtbot)
    assert_tiles_are_decodes(session, atlas, base=session.opened.mu[7].astype(np.float64))
    changed = [not np.array_equal(t, first[tuple(c)]) for c, t in atlas.tiles() if tuple(c) in first]
    assert any(changed)


def test_what_changed_behind_another_tab_is_drawn_when_the_explorer_shows(sprites_window, qtbot):
    window = sprites_window
    session, atlas = window.session, window.map_layers.atlas
    session.layers.set_enabled("atlas", True)
    wait_for_atlas(atlas, qtbot)
    window.tabs.setCurrentIndex(1)  # the Training tab: the scatter is hidden, nothing decodes
    session.selection.select(3)
    qtbot.wait(100)
    assert not session.tasks.running("atlas")
    window.tabs.setCurrentIndex(0)
    wait_for_atlas(atlas, qtbot)
    assert_tiles_are_decodes(session, atlas, base=session.opened.mu[3].astype(np.float64))


def test_a_conv_decoder_fills_the_atlas(sprites_window, qtbot):
    from latentexplorer.checkpoint import Run
    from latentexplorer.models import build_model

    window = sprites_window
    session, atlas = window.session, window.map_layers.atlas
    like = session.opened.run
    config = replace(like.config.model, architecture="conv")
    torch.manual_seed(0)
    run = Run(folder=Path("conv-decoder"), config=replace(like.config, model=config),
              model=build_model(config).eval(), state={"epoch": 0})
    with qtbot.waitSignal(session.opened.runChanged, timeout=WAIT_MS):
        session.use_model(run, codes=(session.opened.mu, session.opened.logvar))
    session.layers.set_enabled("atlas", True)
    wait_for_atlas(atlas, qtbot)
    assert atlas.tiles()[0][1].shape == (32, 32, 3)
    assert_tiles_are_decodes(session, atlas)


def test_the_sequence_model_draws_its_tiles_as_strokes(strokes_window, qtbot):
    window = strokes_window
    session, atlas = window.session, window.map_layers.atlas
    session.layers.set_enabled("atlas", True)
    qtbot.waitUntil(lambda: len(atlas.tiles()) >= 8, timeout=WAIT_MS)  # a slow decoder: the first batches
    for centre, tile in atlas.tiles()[:8]:
        assert tile.shape == (64, 64, 3)
        assert tile.min() < 100 < tile.max(), "a drawn trajectory, not a blank"
        expected = expected_tile(session, centre)
        assert (np.abs(tile.astype(int) - expected.astype(int)).max(axis=2) <= 1).mean() >= 0.98
    session.layers.set_enabled("atlas", False)  # and the rest is not decoded
    qtbot.waitUntil(lambda: not session.tasks.running("atlas"), timeout=WAIT_MS)


# --- thumbnails -----------------------------------------------------------------------------


def zoom_around(window, centre: np.ndarray, half: float) -> None:
    window.scatter.view_box.setRange(xRange=(centre[0] - half, centre[0] + half),
                                     yRange=(centre[1] - half, centre[1] + half), padding=0)


def test_thumbnails_appear_near_a_few_points_and_go_when_zoomed_out(window, qtbot):
    session, thumbs = window.session, window.map_layers.thumbnails
    window.map_layers.actions["thumbnails"].trigger()
    qtbot.wait(20)
    assert len(thumbs.shown) == 0 and not thumbs.item.isVisible()  # 1,797 points: dots
    xy = session.view.xy
    from scipy.spatial import cKDTree

    distance, _ = cKDTree(xy).query(xy, k=2)
    i = int(np.argmax(distance[:, 1]))  # the most isolated point
    zoom_around(window, xy[i], 0.6 * distance[i, 1])
    qtbot.waitUntil(lambda: len(thumbs.shown) > 0, timeout=5000)
    assert i in thumbs.shown and thumbs.item.isVisible()
    images = thumbs.shown_images()
    for index, image in zip(thumbs.shown, images):
        np.testing.assert_array_equal(image, to_uint8(session.opened.original(int(index))))
    window.scatter.view_box.autoRange()
    qtbot.waitUntil(lambda: len(thumbs.shown) == 0, timeout=5000)
    assert not thumbs.item.isVisible()
    zoom_around(window, xy[i], 0.6 * distance[i, 1])
    qtbot.waitUntil(lambda: len(thumbs.shown) > 0, timeout=5000)
    session.layers.set_enabled("thumbnails", False)
    assert len(thumbs.shown) == 0 and not thumbs.item.isVisible()


def test_thumbnails_are_capped_to_those_nearest_the_centre(window, qtbot, monkeypatch):
    session, thumbs = window.session, window.map_layers.thumbnails
    monkeypatch.setattr(thumbnails_layer, "CAP", 5)
    monkeypatch.setattr(thumbnails_layer, "DENSE", 60)
    monkeypatch.setattr(thumbnails_layer, "THUMB_PX", 6)
    xy = session.view.xy
    from scipy.spatial import cKDTree

    _, near = cKDTree(xy).query(xy[0], k=30)
    lo, hi = xy[near].min(0), xy[near].max(0)
    centre, half = (lo + hi) / 2, float((hi - lo).max()) / 2
    zoom_around(window, centre, half)
    session.layers.set_enabled("thumbnails", True)
    qtbot.waitUntil(lambda: len(thumbs.shown) > 0, timeout=5000)
    (x0, x1), (y0, y1) = window.scatter.view_box.viewRange()
    inside = np.flatnonzero((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1))
    assert 5 < len(inside) <= 60
    assert len(thumbs.shown) == len(thumbs.item) == 5
    px = (xy[inside] - ((x0 + x1) / 2, (y0 + y1) / 2)) / window.scatter.view_box.viewPixelSize()
    nearest = np.sort(inside[np.argsort((px**2).sum(1), kind="stable")[:5]])
    np.testing.assert_array_equal(thumbs.shown, nearest)
