"""The scatter's raster of points: every point drawn, in its colour, where it is; soft colours
blend; the picture the user sees in the real window matches the session's colours."""

from __future__ import annotations

import numpy as np
import pytest

from latentexplorer.gui.widgets.point_cloud import MARKER_SIZE, colour_weights, rasterise


def picture(points, colours, width=60, height=40) -> np.ndarray:
    points = np.asarray(points, np.float32)
    rgba = np.asarray(colours, np.uint8)
    return rasterise(points[:, 0], points[:, 1], colour_weights(rgba), width, height)


def test_an_isolated_point_is_a_disc_of_its_colour_about_the_marker_size():
    image = picture([[20.5, 15.5]], [[200, 40, 10, 255]])
    assert image[15, 20].tolist() == [200, 40, 10, 255]
    opaque = image[..., 3] == 255
    ys, xs = np.nonzero(opaque)
    assert abs((xs.max() - xs.min() + 1) - MARKER_SIZE) <= 1
    assert abs((ys.max() - ys.min() + 1) - MARKER_SIZE) <= 1
    # round, not square: the disc's corners are empty, its edge antialiased
    assert image[15 - 3, 20 - 3, 3] < 128
    assert ((image[..., 3] > 0) & (image[..., 3] < 255)).any()
    # nothing far away is painted
    assert image[:, 40:].max() == 0 and image[:5].max() == 0


def test_points_on_top_of_each_other_show_their_mean_colour():
    image = picture([[20, 20], [20, 20]], [[255, 0, 0, 255], [0, 0, 255, 255]])
    r, g, b, a = image[20, 20].astype(int)
    assert a == 255 and abs(r - 128) <= 1 and abs(b - 128) <= 1 and g == 0


def test_a_translucent_point_is_fainter_and_keeps_its_colour():
    image = picture([[20, 20], [45, 20]], [[0, 160, 0, 255], [0, 160, 0, 100]])
    solid, faint = image[20, 20].astype(int), image[20, 45].astype(int)
    assert solid[3] == 255 and abs(faint[3] - 100) <= 2
    # premultiplied: the colour over its alpha is the point's colour
    assert abs(faint[1] * 255 / faint[3] - 160) <= 3


def test_points_off_screen_or_not_finite_are_not_drawn_and_do_not_fail():
    image = picture([[-50, 10], [1e12, 3], [np.nan, 5], [30, 20]], [[9, 9, 9, 255]] * 4)
    assert image[20, 30, 3] == 255
    assert image[:, :20].max() == 0


def test_a_million_points_are_all_drawn():
    rng = np.random.default_rng(0)
    n = 1_000_000
    xy = rng.uniform(0, [400, 300], (n, 2)).astype(np.float32)
    colours = np.zeros((n, 4), np.uint8)
    colours[:, 3] = 255
    colours[: n // 2, 0] = 255  # left half of the list red, right half blue, mixed in space
    colours[n // 2 :, 2] = 255
    image = rasterise(xy[:, 0], xy[:, 1], colour_weights(colours), 400, 300)
    assert (image[..., 3] == 255).all()  # no hole anywhere: no point was dropped
    r, b = image[..., 0].astype(int), image[..., 2].astype(int)
    assert abs(r.mean() - 127.5) < 3 and abs(b.mean() - 127.5) < 3


@pytest.mark.parametrize("mode", ["gmm-soft", "gmm-hard"])
def test_the_window_shows_each_isolated_point_in_its_colour(window, qtbot, mode):
    """Read the real viewport's pixels where the session's isolated points are."""
    from test_explorer import choose_colour_mode, isolated_points

    if mode != window.session.colouring.mode:
        choose_colour_mode(window, qtbot, mode)
    scatter = window.scatter
    window.controls.ellipses.click()  # the contours would cover some points
    assert not scatter.ellipse_items
    grabbed = scatter.plot.viewport().grab().toImage()
    checked = 0
    for i in isolated_points(window)[:20]:
        pos = scatter.widget_pos_of(*window.session.view.xy[i])
        colour = grabbed.pixelColor(int(pos.x()), int(pos.y()))
        expected = window.session.colouring.colours[i].astype(int)
        shown = np.array([colour.red(), colour.green(), colour.blue()])
        # over the white background: shown = α·colour + (1 − α)·white
        alpha = expected[3] / 255
        blended = alpha * expected[:3] + (1 - alpha) * 255
        assert np.abs(shown - blended).max() <= 6, (i, shown, expected)
        checked += 1
    assert checked >= 5


def cloud_in_a_plot(qtbot, xy: np.ndarray, rgba: np.ndarray):
    """A shown 500×400 plot with a PointCloudItem of these points, viewing x −10…10, y −8…8."""
    import pyqtgraph as pg

    from latentexplorer.gui.widgets.point_cloud import PointCloudItem

    plot = pg.PlotWidget(background="w")
    qtbot.addWidget(plot)
    plot.resize(500, 400)
    plot.show()
    qtbot.waitExposed(plot)
    item = PointCloudItem()
    plot.addItem(item)
    item.setData(xy, rgba)
    view = plot.getViewBox()
    view.setRange(xRange=(-10, 10), yRange=(-8, 8), padding=0)
    return plot, view, item


def test_a_pan_moves_the_cached_picture_and_points_stay_under_their_coordinates(qtbot, monkeypatch):
    """Large sets render a margin around the view; a small pan reuses it (no new render),
    a large one renders again. Either way each point is drawn where its coordinates are."""
    import pyqtgraph as pg

    from latentexplorer.gui.widgets import point_cloud

    monkeypatch.setattr(point_cloud, "PAN_MARGIN_FROM", 0)  # margin mode for a few points
    xy = np.array([[0.0, 0.0], [5.0, 3.0], [-4.0, -2.0]])
    rgba = np.array([[220, 30, 30, 255], [30, 160, 30, 255], [30, 30, 220, 255]], np.uint8)
    plot, view, item = cloud_in_a_plot(qtbot, xy, rgba)

    def colours_on_screen() -> list[list[int]]:
        image = plot.viewport().grab().toImage()
        out = []
        for x, y in xy:
            p = plot.mapFromScene(view.mapViewToScene(pg.Point(x, y)))
            c = image.pixelColor(p.x(), p.y())
            out.append([c.red(), c.green(), c.blue()])
        return out

    assert colours_on_screen() == rgba[:, :3].tolist()
    renders = item.renders
    view.translateBy(x=0.5)  # ~12 px: inside the margin
    assert colours_on_screen() == rgba[:, :3].tolist()
    assert item.renders == renders
    view.translateBy(x=8.0)  # far: a new picture
    visible = colours_on_screen()
    assert item.renders == renders + 1
    assert visible[1] == rgba[1, :3].tolist()  # (5, 3) is still in view after the pan


def test_a_small_set_renders_a_margin_from_its_first_pan_so_a_drag_renders_once(qtbot):
    """Below PAN_MARGIN_FROM the first picture covers the viewport only; the first pan at a
    scale renders a margin around it, and the pans after it move that picture."""
    xy = np.random.default_rng(0).normal(0, 3, (2000, 2))
    plot, view, item = cloud_in_a_plot(qtbot, xy, np.array([40, 90, 200, 255], np.uint8))
    plot.viewport().grab()
    renders = item.renders
    first = item._cache.width()
    for _ in range(5):  # a drag: five moves of ~6 px
        view.translateBy(x=0.25)
        plot.viewport().grab()
    assert item.renders == renders + 1
    assert item._cache.width() > first  # the margin is in the picture
    view.scaleBy((0.5, 0.5))  # a zoom: a new scale, the viewport only again
    plot.viewport().grab()
    assert item.renders == renders + 2 and item._cache.width() == first
