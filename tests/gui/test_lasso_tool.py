"""The lasso on the scatter, driven through the real widgets: Alt+drag or the toolbar toggle
draws a loop, the points inside are selected and counted, shaded, exported, offered as a
group for attribute vectors, and cleared with Escape."""

from __future__ import annotations

import csv

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QFileDialog
from test_explorer import (
    click,
    drag,
    screen_positions,
    two_isolated_far_apart,
    view_xy_at,
)
from test_explorer import point_of_item as item_pixel

from latentexplorer.analysis.lasso import points_in_polygon
from latentexplorer.bundled import bundled_run
from latentexplorer.gui.state.previews import InterpolationPreview

LEFT = Qt.MouseButton.LeftButton
ALT = Qt.KeyboardModifier.AltModifier
NONE = Qt.KeyboardModifier.NoModifier


def send(widget, kind: QEvent.Type, pos: QPoint, button, buttons, modifiers) -> None:
    local = QPointF(pos)
    QApplication.sendEvent(widget, QMouseEvent(kind, local, QPointF(widget.mapToGlobal(local)),
                                               button, buttons, modifiers))


def loop_around(window, centre_px: np.ndarray, radius_px: float, n: int = 24) -> list[QPoint]:
    """Pixels of a wobbly closed loop around a point of the viewport (as a hand draws it)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = radius_px * (1 + 0.25 * np.sin(3 * t))
    return [QPoint(round(centre_px[0] + r_ * np.cos(a)), round(centre_px[1] + r_ * np.sin(a)))
            for r_, a in zip(r, t)]


def draw_loop(qtbot, window, pixels: list[QPoint], modifiers=ALT) -> None:
    """Press at the first pixel, move through the others (letting pyqtgraph see each move),
    release at the last, holding `modifiers` throughout."""
    viewport = window.scatter.plot.viewport()
    send(viewport, QEvent.Type.MouseButtonPress, pixels[0], LEFT, LEFT, modifiers)
    for q in pixels[1:]:
        send(viewport, QEvent.Type.MouseMove, q, Qt.MouseButton.NoButton, LEFT, modifiers)
        qtbot.wait(12)  # > 10 ms: pyqtgraph drops moves closer than its rate limit
    send(viewport, QEvent.Type.MouseButtonRelease, pixels[-1], LEFT, Qt.MouseButton.NoButton, modifiers)
    qtbot.wait(20)


def busy_centre(window) -> np.ndarray:
    """The viewport pixel at the middle of the points."""
    return np.median(screen_positions(window), axis=0)


def lasso_in_the_middle(window, qtbot, modifiers=ALT) -> tuple[list[QPoint], np.ndarray]:
    session = window.session
    pixels = loop_around(window, busy_centre(window), 60.0)
    with qtbot.waitSignal(session.selection.lassoChanged, timeout=3000) as changed:
        draw_loop(qtbot, window, pixels, modifiers)
    return pixels, changed.args[0]


def test_an_alt_drag_selects_the_points_inside_the_loop_and_shows_how_many(window, qtbot):
    session, scatter = window.session, window.scatter
    tool = scatter.lasso
    assert tool.count.text() == "" and not tool.export_button.isEnabled()
    pixels, carried = lasso_in_the_middle(window, qtbot)
    # the loop drawn is the pixels the mouse went through, in view coordinates
    polygon = tool.polygon
    sent = np.array([view_xy_at(window, q) for q in pixels])
    assert len(polygon) >= len(pixels) - 2
    assert all(np.abs(sent - v).sum(axis=1).min() < 1e-9 for v in polygon)
    expected = points_in_polygon(session.view.xy, polygon)
    assert 20 < len(expected) < len(session.view.xy) // 2
    np.testing.assert_array_equal(session.selection.lasso_indices, expected)
    np.testing.assert_array_equal(carried, expected)
    assert tool.count.text() == f"{len(expected):,} selected"
    assert tool.export_button.isEnabled() and tool.clear_button.isEnabled()
    # what the user saw: the points on screen inside the loop's pixels (a few on its edge
    # aside, where the pixel positions are rounded)
    on_screen = points_in_polygon(screen_positions(window), np.array([[q.x(), q.y()] for q in pixels], float))
    assert len(np.setxor1d(on_screen, expected)) <= max(2, len(expected) // 50)
    assert session.selection.selected == -1  # a lasso is not a click
    # the loop stays drawn, and the selected points are shaded where they are
    assert tool.outline.isVisible()
    np.testing.assert_allclose(tool.shade.xy, session.view.xy[expected].astype(np.float32))
    assert tool.shade.isVisible()


def test_hidden_groups_are_left_out_of_a_lasso(window, qtbot):
    session = window.session
    hidden = int(session.colouring.legend()[0][0])
    session.colouring.toggle_group(hidden)
    visible = session.colouring.visible()
    assert not visible.all()
    (x0, y0), (x1, y1) = session.view.xy.min(0) - 1, session.view.xy.max(0) + 1
    n = session.selection.set_lasso(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    assert n == visible.sum()
    np.testing.assert_array_equal(session.selection.lasso_indices, np.flatnonzero(visible))


def test_the_toggle_turns_a_plain_drag_into_a_lasso_and_a_click_still_selects(window, qtbot):
    session, scatter = window.session, window.scatter
    tool = scatter.lasso
    a, b = two_isolated_far_apart(window)
    # toggle off: a drag from a point interpolates, as before
    drag(qtbot, window, item_pixel(window, a), item_pixel(window, b))
    assert isinstance(window.preview.preview, InterpolationPreview)
    assert len(session.selection.lasso_indices) == 0
    qtbot.mouseClick(tool.toggle, LEFT)
    assert tool.active and tool.toggle.isChecked()
    # toggle on: a plain drag, even from a point, draws a loop
    session.selection.clear()
    start = np.array([item_pixel(window, a).x(), item_pixel(window, a).y()], float)
    pixels = loop_around(window, start + (40, 0), 40.0)
    pixels = [item_pixel(window, a), *pixels, item_pixel(window, a)]
    with qtbot.waitSignal(session.selection.lassoChanged, timeout=3000):
        draw_loop(qtbot, window, pixels, NONE)
    expected = points_in_polygon(session.view.xy, tool.polygon)
    assert len(expected) > 0
    np.testing.assert_array_equal(session.selection.lasso_indices, expected)
    assert session.selection.selected == -1  # not selected at the press, not interpolated
    assert not isinstance(window.preview.preview, InterpolationPreview)
    # a click still selects
    click(qtbot, window, item_pixel(window, b))
    assert session.selection.selected == b
    # and off again: a drag from a point interpolates
    qtbot.mouseClick(tool.toggle, LEFT)
    assert not tool.active
    drag(qtbot, window, item_pixel(window, a), item_pixel(window, b))
    shown = window.preview.preview
    assert isinstance(shown, InterpolationPreview) and (shown.start, shown.end) == (a, b)


def test_escape_on_the_scatter_clears_the_lasso_then_the_selection(window, qtbot):
    session, scatter = window.session, window.scatter
    tool = scatter.lasso
    window.activateWindow()
    qtbot.waitActive(window)
    a, _ = two_isolated_far_apart(window)
    click(qtbot, window, item_pixel(window, a))
    lasso_in_the_middle(window, qtbot)
    assert len(session.selection.lasso_indices) > 0
    scatter.plot.setFocus()
    with qtbot.waitSignal(session.selection.lassoChanged, timeout=2000) as cleared:
        qtbot.keyClick(scatter.plot, Qt.Key.Key_Escape)
    assert len(cleared.args[0]) == 0 and len(session.selection.lasso_indices) == 0
    assert tool.count.text() == "" and not tool.outline.isVisible() and not tool.shade.isVisible()
    assert session.selection.selected == a  # the first Escape was the lasso's
    qtbot.keyClick(scatter.plot, Qt.Key.Key_Escape)
    assert session.selection.selected == -1  # the next one is the window's


def test_the_clear_button_clears_and_a_new_run_starts_without_a_lasso(window, qtbot):
    session, tool = window.session, window.scatter.lasso
    lasso_in_the_middle(window, qtbot)
    qtbot.mouseClick(tool.clear_button, LEFT)
    assert len(session.selection.lasso_indices) == 0 and tool.count.text() == ""
    lasso_in_the_middle(window, qtbot)
    with qtbot.waitSignal(session.opened.runChanged, timeout=10_000):
        assert window.open_run(bundled_run("digits-ae-2d"))
    assert len(session.selection.lasso_indices) == 0
    assert tool.count.text() == "" and not tool.shade.isVisible()
    assert "lasso" not in [g.name for g in session.selection.groups()]


def test_a_new_projection_keeps_the_items_and_shades_them_where_they_now_are(window, qtbot):
    session, tool = window.session, window.scatter.lasso
    _, chosen = lasso_in_the_middle(window, qtbot)
    session.set_projection("pca")
    assert session.view.projection.kind == "pca"
    np.testing.assert_array_equal(session.selection.lasso_indices, chosen)
    assert not tool.outline.isVisible() and len(tool.polygon) == 0  # the loop was the old view's
    np.testing.assert_allclose(tool.shade.xy, session.view.xy[chosen].astype(np.float32))


def test_the_export_button_writes_csv_and_npz_rows_of_the_lassoed_items(window, qtbot, tmp_path, monkeypatch):
    session, tool = window.session, window.scatter.lasso
    lasso_in_the_middle(window, qtbot)
    chosen = session.selection.lasso_indices
    o = session.opened
    mu = o.mu[chosen].astype(np.float64)
    sigma = np.exp(0.5 * o.logvar[chosen].astype(np.float64))
    labels = o.images.labels[chosen]
    target = tmp_path / "lasso.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    qtbot.mouseClick(tool.export_button, LEFT)
    with open(target, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["index", "label", "mu_0", "mu_1", "sigma_0", "sigma_1"]
    body = np.array(rows[1:], float)
    np.testing.assert_array_equal(body[:, 0], chosen)
    np.testing.assert_array_equal(body[:, 1], labels)
    np.testing.assert_allclose(body[:, 2:4], mu, rtol=1e-6)
    np.testing.assert_allclose(body[:, 4:6], sigma, rtol=1e-6)
    # NPZ, chosen by its filter without a suffix
    stem = tmp_path / "picked"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(stem), "NumPy (*.npz)")))
    qtbot.mouseClick(tool.export_button, LEFT)
    with np.load(tmp_path / "picked.npz") as data:
        assert set(data.files) == {"indices", "labels", "mu", "sigma"}
        np.testing.assert_array_equal(data["indices"], chosen)
        np.testing.assert_array_equal(data["labels"], labels)
        np.testing.assert_allclose(data["mu"], mu, rtol=1e-6)
        np.testing.assert_allclose(data["sigma"], sigma, rtol=1e-6)
    # a folder that cannot be written: the session says why
    with qtbot.waitSignal(session.errorOccurred, timeout=2000) as error:
        tool.export(str(tmp_path / "missing" / "lasso.csv"))
    assert "lasso" in error.args[0]
    window.error_box.close()


def test_the_lasso_is_a_group_for_attribute_vectors(window, qtbot):
    session = window.session
    lasso_in_the_middle(window, qtbot)
    chosen = session.selection.lasso_indices
    groups = {g.name: g for g in session.selection.groups()}
    np.testing.assert_array_equal(groups["lasso"].members, chosen)
    window.directions_action.trigger()
    panel = window.attribute_vectors
    panel.choose("label 1", "lasso")
    mu = session.opened.mu.astype(np.float64)
    labels = session.opened.images.labels
    expected = mu[chosen].mean(0) - mu[labels == 1].mean(0)
    np.testing.assert_allclose(panel.vector.direction, expected, atol=1e-9)
    # a lasso drawn again replaces the group, and the panel keeps it chosen
    pixels = loop_around(window, busy_centre(window) + (30, 0), 45.0)
    with qtbot.waitSignal(session.selection.lassoChanged, timeout=3000):
        draw_loop(qtbot, window, pixels)
    assert panel.to_group.currentText() == "lasso"
    again = session.selection.lasso_indices
    np.testing.assert_allclose(panel.vector.direction, mu[again].mean(0) - mu[labels == 1].mean(0), atol=1e-9)
