"""The explorer window driven through its real widgets, as a user would.

Mouse clicks and drags go to the scatter's viewport (the pyqtgraph QGraphicsView), keys to
the window, values to the spin boxes, combos and sliders; what is checked is what the user
sees: the images the preview hands to the screen (`DecoderPreview.shown`, uint8), the points,
colours, stars and path on the scatter, the axis labels, the error message, the clipboard.
Expected images are computed independently from the model: decode(z) rounded to uint8.
"""

from __future__ import annotations

import csv
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pyqtgraph as pg
import pytest
import torch
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox
from scipy.spatial import cKDTree

from latentexplorer.analysis import code_table as exports
from latentexplorer.analysis.paths import lerp, slerp
from latentexplorer.bundled import bundled_run
from latentexplorer.gui.main_window import MainWindow
from latentexplorer.gui.state.previews import (
    InterpolationPreview,
    LocationPreview,
    PointPreview,
    SamplesPreview,
)
from latentexplorer.gui.widgets.images import to_uint8

LEFT = Qt.MouseButton.LeftButton
NO_BUTTON = Qt.MouseButton.NoButton


# --- helpers ------------------------------------------------------------------------------


def screen_positions(window) -> np.ndarray:
    """Viewport pixel position (float) of every item's point, in index order."""
    scatter = window.scatter
    return np.array([_xy(scatter.widget_pos_of(x, y)) for x, y in window.session.view.xy])


def _xy(p: QPointF) -> tuple[float, float]:
    return (p.x(), p.y())


def view_box_rect(window, margin: float = 12.0) -> tuple[float, float, float, float]:
    """The plotting area (inside the axes) in viewport pixels, less a margin: left, top,
    right, bottom."""
    scatter = window.scatter
    rect = scatter.plot.mapFromScene(scatter.view_box.sceneBoundingRect()).boundingRect()
    return (rect.left() + margin, rect.top() + margin, rect.right() - margin, rect.bottom() - margin)


def inside_view_box(window, pos: np.ndarray, margin: float = 12.0) -> np.ndarray:
    left, top, right, bottom = view_box_rect(window, margin)
    pos = np.atleast_2d(pos)
    return (pos[:, 0] > left) & (pos[:, 0] < right) & (pos[:, 1] > top) & (pos[:, 1] < bottom)


def isolated_points(window, min_px: float = 8.0) -> np.ndarray:
    """Items with no other point within `min_px` screen pixels, well inside the viewport."""
    pos = screen_positions(window)
    distance, _ = cKDTree(pos).query(pos, k=2)
    return np.flatnonzero((distance[:, 1] > min_px) & inside_view_box(window, pos))


def viewport_point(window, x: float, y: float) -> QPoint:
    p = window.scatter.widget_pos_of(float(x), float(y))
    return QPoint(round(p.x()), round(p.y()))


def point_of_item(window, index: int) -> QPoint:
    return viewport_point(window, *window.session.view.xy[index])


def view_xy_at(window, q: QPoint) -> np.ndarray:
    """The view (data) coordinates a mouse event at viewport pixel q lands on."""
    scatter = window.scatter
    v = scatter.view_box.mapSceneToView(scatter.plot.mapToScene(q))
    return np.array([v.x(), v.y()])


def empty_spot(window, min_px: float = 40.0) -> QPoint:
    """A pixel of the plotting area at least `min_px` from every point."""
    left, top, right, bottom = view_box_rect(window, margin=20)
    tree = cKDTree(screen_positions(window))
    xs, ys = np.meshgrid(np.arange(left, right, 10), np.arange(top, bottom, 10))
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(float)
    distance, _ = tree.query(grid)
    best = int(np.argmax(distance))
    assert distance[best] >= min_px, "no empty spot in the view"
    return QPoint(int(grid[best, 0]), int(grid[best, 1]))


def widen_view_right(window) -> None:
    """Show two units of empty space right of the data, so there is room to click."""
    xy = window.session.view.xy
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    window.scatter.view_box.setRange(xRange=(x0 - 0.2, x1 + 3.0), yRange=(y0 - 0.2, y1 + 0.2), padding=0)
    QApplication.processEvents()


def mouse(widget, kind: QEvent.Type, pos: QPoint, button, buttons) -> None:
    """Send one mouse event (what pyqtgraph's test helpers do: QTest cannot hold a button
    down during a move on a QGraphicsView)."""
    local = QPointF(pos)
    event = QMouseEvent(kind, local, QPointF(widget.mapToGlobal(local)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def drag(qtbot, window, a: QPoint, b: QPoint, moves: int = 6, wait_ms: int | None = 15) -> None:
    """Press at a, move in `moves` steps to b (letting the event loop run `wait_ms` after
    each move unless None), release at b."""
    viewport = window.scatter.plot.viewport()
    mouse(viewport, QEvent.Type.MouseButtonPress, a, LEFT, LEFT)
    for t in np.linspace(0.0, 1.0, moves + 1)[1:]:
        p = QPoint(round(a.x() + t * (b.x() - a.x())), round(a.y() + t * (b.y() - a.y())))
        mouse(viewport, QEvent.Type.MouseMove, p, NO_BUTTON, LEFT)
        if wait_ms is not None:
            qtbot.wait(wait_ms)  # > 10 ms: pyqtgraph drops moves closer than its rate limit
    mouse(viewport, QEvent.Type.MouseButtonRelease, b, LEFT, NO_BUTTON)
    qtbot.wait(20)


def click(qtbot, window, q: QPoint) -> None:
    qtbot.mouseClick(window.scatter.plot.viewport(), LEFT, pos=q)


def expected_images(session, zs: np.ndarray) -> np.ndarray:
    """decode(z) as the screen shows it: H×W×3 uint8 per z."""
    return np.stack([to_uint8(image) for image in session.opened.decode(np.atleast_2d(zs))])


def pixels_of(session, index: int) -> np.ndarray:
    """The item's stored pixels as an H×W×3 uint8 image."""
    image = session.opened.images.images[index]
    return np.repeat(image, 3, axis=0).transpose(1, 2, 0) if image.shape[0] == 1 else image.transpose(1, 2, 0)


def assert_close_uint8(actual: np.ndarray, expected: np.ndarray, tolerance: int = 1) -> None:
    assert actual.shape == expected.shape
    assert actual.dtype == np.uint8
    assert np.abs(actual.astype(int) - expected.astype(int)).max() <= tolerance


def brush_rgba(window) -> np.ndarray:
    """The RGBA of every point the scatter draws, in drawing order."""
    return np.asarray(window.scatter.points.rgba, dtype=int)


def drawn_count(item) -> int:
    """How many points a pyqtgraph curve or scatter item has."""
    x = item.getData()[0]
    return 0 if x is None else len(x)


def two_isolated_far_apart(window, min_px: float = 150.0) -> tuple[int, int]:
    iso = isolated_points(window)
    assert len(iso) >= 2
    pos = screen_positions(window)[iso]
    d = np.sqrt(((pos[:, None] - pos[None]) ** 2).sum(-1))
    i, j = np.unravel_index(np.argmax(np.where(d > min_px, -np.abs(d - 250.0), -np.inf)), d.shape)
    assert d[i, j] > min_px
    return int(iso[i]), int(iso[j])


# --- 1. clicking a point ------------------------------------------------------------------


def test_clicking_a_point_selects_it_and_shows_its_reconstruction(window, qtbot):
    session, preview = window.session, window.preview
    i = int(isolated_points(window)[0])
    with qtbot.waitSignal(session.selection.selectionChanged, timeout=5000) as selected:
        click(qtbot, window, point_of_item(window, i))
    assert selected.args == [i]
    assert session.selection.selected == i
    assert isinstance(preview.preview, PointPreview) and preview.preview.index == i

    # decode(μ_i) with μ_i computed afresh from the item's pixels through the encoder
    with torch.no_grad():
        mu = session.opened.model.encode(session.opened.images.float_batch(np.array([i]))).mu.numpy()[0]
    np.testing.assert_allclose(mu, session.opened.mu[i], atol=1e-5)
    assert_close_uint8(preview.shown["reconstruction"], expected_images(session, mu)[0])
    np.testing.assert_array_equal(preview.shown["original"], pixels_of(session, i))
    assert preview.title.text().startswith(f"Item {i}")
    # the scatter rings the selected point, in the paint pass after the preview's
    qtbot.waitUntil(lambda: drawn_count(window.scatter.highlight) == 1, timeout=2000)
    hx, hy = window.scatter.highlight.getData()
    np.testing.assert_allclose([hx[0], hy[0]], session.view.xy[i])


# --- 2. clicking empty space --------------------------------------------------------------


def test_clicking_empty_space_decodes_that_location(window, qtbot):
    session, preview = window.session, window.preview
    widen_view_right(window)
    xy = session.view.xy
    spot = viewport_point(window, xy[:, 0].max() + 2.0, xy[:, 1].mean())
    target = view_xy_at(window, spot)
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000) as shown:
        click(qtbot, window, spot)
    location = shown.args[0]
    assert isinstance(location, LocationPreview) and location.source == "click"
    assert session.selection.selected == -1
    z = session.view.projection.inverse(target)  # 2-D latent, "dims" view: z is the clicked xy
    np.testing.assert_allclose(location.z, z, atol=1e-9)
    np.testing.assert_allclose(session.selection.z, z, atol=1e-9)
    assert_close_uint8(preview.shown["decoded"], expected_images(session, z)[0])
    nearest = int(np.argmin(np.linalg.norm(session.opened.mu - z, axis=1)))
    assert location.nearest == nearest
    np.testing.assert_array_equal(preview.shown["nearest"], pixels_of(session, nearest))
    assert f"nearest item {nearest}" in preview.tiles[1].caption.text()
    assert "far from any data item" in preview.info.text()
    # the marker sits where the user clicked (drawn once the preview has been painted)
    qtbot.waitUntil(lambda: drawn_count(window.scatter.marker) == 1, timeout=2000)
    mx, my = window.scatter.marker.getData()
    np.testing.assert_allclose([mx[0], my[0]], target, atol=1e-9)


# --- 3. dragging between points -----------------------------------------------------------


def test_a_point_is_shown_as_soon_as_it_is_pressed_and_a_click_shows_it_once(window, qtbot):
    session, preview = window.session, window.preview
    i, j = (int(k) for k in isolated_points(window)[:2])
    selections = []
    session.selection.selectionChanged.connect(selections.append)
    viewport = window.scatter.plot.viewport()
    mouse(viewport, QEvent.Type.MouseButtonPress, point_of_item(window, i), LEFT, LEFT)
    assert session.selection.selected == i and preview.preview.index == i  # before the release
    mouse(viewport, QEvent.Type.MouseButtonRelease, point_of_item(window, i), LEFT, NO_BUTTON)
    qtbot.wait(20)
    assert selections == [i]  # the click that follows does not select it a second time
    # after a slider move the preview shows a perturbed location; clicking the selected
    # point again brings its own preview back
    row = window.sliders.rows[window.sliders.order[0]]
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000):
        row.slider.setValue(row.slider.maximum())
    assert isinstance(preview.preview, LocationPreview)
    click(qtbot, window, point_of_item(window, i))
    assert isinstance(preview.preview, PointPreview) and preview.preview.index == i
    click(qtbot, window, point_of_item(window, j))
    assert session.selection.selected == j and selections[-1] == j
    session.selection.selectionChanged.disconnect(selections.append)


class FirstPaint(QObject):
    """What the secondary views showed when a widget painted for the first time."""

    def __init__(self, widget, look) -> None:
        super().__init__()
        self.seen = None
        self._look = look
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint and self.seen is None:
            self.seen = self._look()
        return False


def test_a_click_paints_the_preview_before_the_ring_and_the_sliders_follow(window, qtbot):
    """The preview is what a click is for: it is painted first, the ring on the scatter and the
    sliders' positions in the pass after (a millisecond later), all from the same state."""
    session, sliders = window.session, window.sliders
    i = int(isolated_points(window)[0])
    row = sliders.rows[sliders.order[0]]
    before = row.slider.value()
    probe = FirstPaint(window.preview.tiles[1].picture,
                       lambda: (drawn_count(window.scatter.highlight), row.slider.value()))
    mouse(window.scatter.plot.viewport(), QEvent.Type.MouseButtonPress, point_of_item(window, i), LEFT, LEFT)
    qtbot.waitUntil(lambda: probe.seen is not None, timeout=2000)
    assert probe.seen == (0, before)  # the preview painted, the ring and the sliders not yet moved
    qtbot.waitUntil(lambda: drawn_count(window.scatter.highlight) == 1, timeout=2000)
    mouse(window.scatter.plot.viewport(), QEvent.Type.MouseButtonRelease, point_of_item(window, i), LEFT, NO_BUTTON)
    np.testing.assert_allclose(np.array(window.scatter.highlight.getData()).ravel(), session.view.xy[i])
    expected = row.to_value(row.slider.value())
    assert expected == pytest.approx(session.opened.mu[i][row.dim], abs=(row.high - row.low) / 600)
    assert row.value.text() == f"{session.opened.mu[i][row.dim]:+.2f}"


def test_a_press_paints_the_item_and_its_reconstruction_at_once_and_the_samples_follow(window, qtbot):
    """The click's answer reaches the screen inside the press's handling; the posterior samples
    (four more decodes) come in the pass after, into tiles that kept their place and size."""
    session, preview = window.session, window.preview
    i, j = (int(k) for k in isolated_points(window)[:2])
    click(qtbot, window, point_of_item(window, j))  # the tiles laid out for a point preview
    qtbot.waitUntil(lambda: "posterior3" in preview.shown, timeout=2000)
    sizes = [t.size_px for t in preview.tiles]
    painted = FirstPaint(preview.tiles[1].picture, lambda: dict(preview.shown))
    mouse(window.scatter.plot.viewport(), QEvent.Type.MouseButtonPress, point_of_item(window, i), LEFT, LEFT)
    assert painted.seen is not None  # painted before the press returned, no event loop run
    mu = session.opened.mu[i].astype(np.float64)
    assert_close_uint8(painted.seen["reconstruction"], expected_images(session, mu)[0])
    np.testing.assert_array_equal(painted.seen["original"], pixels_of(session, i))
    assert preview.preview.samples_pending and len(preview.preview.samples) == 0
    with qtbot.waitSignal(session.selection.samplesDecoded, timeout=2000) as decoded:
        pass
    mouse(window.scatter.plot.viewport(), QEvent.Type.MouseButtonRelease, point_of_item(window, i), LEFT, NO_BUTTON)
    full = decoded.args[0]
    assert full.index == i and not full.samples_pending and preview.preview is full
    sigma = np.exp(0.5 * session.opened.logvar[i].astype(np.float64))
    eps = np.random.default_rng(i).standard_normal((4, len(mu)))
    expected = expected_images(session, mu + sigma * eps)
    for k in range(4):
        assert_close_uint8(preview.shown[f"posterior{k}"], expected[k])
        assert preview.tiles[2 + k].isVisible()
    assert [t.size_px for t in preview.tiles] == sizes  # one layout for the whole click


def test_a_selected_point_lists_its_nearest_neighbours_and_clicking_one_selects_it(window, qtbot):
    session, preview = window.session, window.preview
    i = int(isolated_points(window)[0])
    click(qtbot, window, point_of_item(window, i))
    buttons = preview.neighbour_buttons
    qtbot.waitUntil(lambda: all(b.isVisible() for b in buttons), timeout=5000)
    distances = np.linalg.norm(session.opened.mu - session.opened.mu[i], axis=1)
    distances[i] = np.inf
    expected = np.argsort(distances, kind="stable")[: len(buttons)]
    shown = [int(b.property("item")) for b in buttons]
    assert sorted(shown) == sorted(int(k) for k in expected)
    assert shown == sorted(shown, key=lambda k: distances[k])  # nearest first
    qtbot.mouseClick(buttons[0], LEFT)
    assert session.selection.selected == shown[0]


def test_dragging_from_a_point_to_another_interpolates_lerp_then_slerp(window, qtbot):
    session, preview, scatter = window.session, window.preview, window.scatter
    a, b = two_isolated_far_apart(window)
    n = preview.frames_spin.value()
    for method, path in (("lerp", lerp), ("slerp", slerp)):
        preview.method.setCurrentIndex(preview.method.findData(method))
        drag(qtbot, window, point_of_item(window, a), point_of_item(window, b))
        shown = preview.preview
        assert isinstance(shown, InterpolationPreview)
        assert (shown.start, shown.end, shown.method, shown.done) == (a, b, method, True)
        zs = path(session.opened.mu[a].astype(np.float64), session.opened.mu[b].astype(np.float64), n)
        frames = preview.shown["frames"]
        assert frames.shape[0] == n
        assert_close_uint8(frames, expected_images(session, zs))
        # both ends included: exactly the two items' reconstructions
        assert_close_uint8(frames[0], expected_images(session, session.opened.mu[a])[0])
        assert_close_uint8(frames[-1], expected_images(session, session.opened.mu[b])[0])
        assert method in preview.title.text()
        # the path is drawn on the scatter, from a to b
        px, py = scatter.path_line.getData()
        assert len(px) == n
        np.testing.assert_allclose([px[0], py[0]], session.view.xy[a], atol=1e-9)
        np.testing.assert_allclose([px[-1], py[-1]], session.view.xy[b], atol=1e-9)
        assert session.selection.selected == a
    lerp_zs = lerp(session.opened.mu[a], session.opened.mu[b], n)
    slerp_zs = slerp(session.opened.mu[a], session.opened.mu[b], n)
    assert np.abs(lerp_zs - slerp_zs).max() > 0.05, "pick points where the two paths differ"


def test_dragging_from_empty_space_pans_instead_of_interpolating(window, qtbot):
    session, scatter = window.session, window.scatter
    start = empty_spot(window)
    before = np.array(scatter.view_box.viewRange())
    decodes = scatter.decodes
    with qtbot.assertNotEmitted(session.selection.previewChanged, wait=20):
        drag(qtbot, window, start, start + QPoint(80, 50))
    after = np.array(scatter.view_box.viewRange())
    assert not np.allclose(before, after)
    # content follows the mouse: dragging right/down moves the visible range left/up
    assert after[0, 0] < before[0, 0] and after[1, 0] > before[1, 0]
    assert session.selection.selected == -1
    assert scatter.decodes == decodes
    assert drawn_count(scatter.path_line) == 0
    assert window.preview.preview is None


# --- 4. coalescing ------------------------------------------------------------------------


def test_a_burst_of_drag_moves_decodes_only_a_few_times(window, qtbot, monkeypatch):
    # pyqtgraph itself drops moves closer than 10 ms; switch that off so all 30 moves reach
    # the scatter and only the app's own coalescing can keep the decodes down
    monkeypatch.setitem(pg.CONFIG_OPTIONS, "mouseRateLimit", 0)
    scatter = window.scatter
    seen = []
    original = scatter.drag_moved
    monkeypatch.setattr(scatter, "drag_moved", lambda pos, finished: (seen.append(finished), original(pos, finished)))
    a, b = two_isolated_far_apart(window)
    before = scatter.decodes
    drag(qtbot, window, point_of_item(window, a), point_of_item(window, b), moves=30, wait_ms=None)
    assert len(seen) >= 30, "every move must reach the scatter"
    assert scatter.decodes - before <= 3
    final = window.preview.preview
    assert isinstance(final, InterpolationPreview) and final.done and final.end == b

    # with the event loop running between moves, the preview follows each move live
    before = scatter.decodes
    drag(qtbot, window, point_of_item(window, b), point_of_item(window, a), moves=5, wait_ms=15)
    assert scatter.decodes - before >= 5


# --- 5. sliders ---------------------------------------------------------------------------


def test_a_slider_changes_exactly_its_dimension_and_decodes_live(window, qtbot):
    session, preview, sliders = window.session, window.preview, window.sliders
    i = int(isolated_points(window)[0])
    click(qtbot, window, point_of_item(window, i))
    assert session.selection.selected == i
    mu = session.opened.mu[i].astype(np.float64)
    d = sliders.order[0]
    row = sliders.rows[d]
    assert row.slider.isEnabled()
    emitted = []
    session.selection.previewChanged.connect(emitted.append)
    # several moves in one event-loop pass: one decode (coalesced), for the last value
    for tick in (100, 200, 450):
        row.slider.setValue(tick)
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000):
        pass
    qtbot.wait(10)
    session.selection.previewChanged.disconnect(emitted.append)
    assert len(emitted) == 1
    location = emitted[0]
    assert isinstance(location, LocationPreview) and location.source == "slider"
    changed = np.flatnonzero(location.z != mu)
    assert changed.tolist() == [d]
    assert location.z[d] == pytest.approx(row.to_value(450))
    np.testing.assert_array_equal(session.selection.z, location.z)
    assert_close_uint8(preview.shown["decoded"], expected_images(session, location.z)[0])
    np.testing.assert_array_equal(preview.shown["original"], pixels_of(session, i))
    assert row.value.text() == f"{row.to_value(450):+.2f}"
    mx, my = window.scatter.marker.getData()
    np.testing.assert_allclose([mx[0], my[0]], session.view.projection.transform(location.z))

    # a key on another focused slider moves that dimension only
    e = sliders.order[1]
    other = sliders.rows[e].slider
    other.setFocus()
    previous = session.selection.z.copy()
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000) as moved:
        qtbot.keyClick(other, Qt.Key.Key_PageUp)
    z = moved.args[0].z
    assert np.flatnonzero(z != previous).tolist() == [e]
    assert z[e] == pytest.approx(sliders.rows[e].to_value(other.value()))
    assert_close_uint8(preview.shown["decoded"], expected_images(session, z)[0])


def test_sliders_are_ordered_by_kl_with_inactive_dimensions_collapsed(sprites_window, qtbot):
    window = sprites_window
    session, sliders = window.session, window.sliders
    mu, logvar = session.opened.mu.astype(np.float64), session.opened.logvar.astype(np.float64)
    kl = (0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar)).mean(axis=0)
    assert kl.max() > 10 * kl.min(), "the β-VAE's dimensions differ in KL"
    by_kl = [int(d) for d in np.argsort(-kl)]
    active = mu.var(axis=0) > 0.01
    assert 0 < active.sum() < session.opened.latent_dim
    assert sliders.order == by_kl
    shown = [sliders.active_box.itemAt(k).widget().dim for k in range(sliders.active_box.count())]
    assert shown == [d for d in by_kl if active[d]]
    # on screen, top to bottom in that order, each labelled with its KL
    tops = [sliders.rows[d].mapTo(sliders, QPoint(0, 0)).y() for d in shown]
    assert tops == sorted(tops) and len(set(tops)) == len(tops)
    for d in shown:
        assert sliders.rows[d].note.text() == f"KL {kl[d]:.2f}"
    # inactive ones are collapsed until the user opens them
    inactive = [d for d in by_kl if not active[d]]
    assert sliders.inactive_container.isHidden()
    assert all(not sliders.rows[d].isVisible() for d in inactive)
    assert sliders.inactive_toggle.isVisible()
    assert sliders.inactive_toggle.text().startswith(f"{len(inactive)} inactive")
    qtbot.mouseClick(sliders.inactive_toggle, LEFT)
    assert all(sliders.rows[d].isVisible() for d in inactive)
    assert all("(inactive)" in sliders.rows[d].note.text() for d in inactive)


# --- 6. colours and the legend ------------------------------------------------------------


def set_k(window, qtbot, k: int) -> None:
    """Type K into the `K =` spin box, as a user does."""
    spin = window.controls.k
    spin.setFocus()
    spin.selectAll()
    with qtbot.waitSignal(window.session.colouring.coloursChanged, timeout=10_000):
        qtbot.keyClicks(spin, str(k))
        qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert window.session.colouring.mixture.k == k


def choose_colour_mode(window, qtbot, mode: str) -> None:
    combo = window.controls.colour
    with qtbot.waitSignal(window.session.colouring.coloursChanged, timeout=5000):
        combo.setCurrentIndex(combo.findData(mode))
    assert window.session.colouring.mode == mode


def test_colours_follow_the_mixture_and_k(window, qtbot):
    session = window.session
    r = session.colouring.mixture.responsibilities
    assert r.shape == (len(session.opened.mu), session.colouring.k)
    assert (r >= 0).all()
    np.testing.assert_allclose(r.sum(axis=1), 1.0, atol=1e-6)
    drawn = brush_rgba(window)
    np.testing.assert_array_equal(drawn, session.colouring.colours.astype(int))
    assert window.scatter.legend.count() == session.colouring.mixture.k

    set_k(window, qtbot, 3)
    assert window.controls.k.value() == 3
    assert window.scatter.legend.count() == 3
    assert len(window.scatter.ellipse_items) == 2 * 3
    recoloured = brush_rgba(window)
    np.testing.assert_array_equal(recoloured, session.colouring.colours.astype(int))
    assert (recoloured != drawn).any(axis=1).mean() > 0.5, "most points change colour"


def test_a_point_between_two_components_blends_in_soft_mode_only(window, qtbot):
    session = window.session
    set_k(window, qtbot, 2)
    r = session.colouring.mixture.responsibilities
    i = int(np.argmin(np.abs(r[:, 0] - 0.5)))
    assert 0.2 < r[i, 0] < 0.8, "a point between the two components"
    components = session.colouring.component_colours().astype(int)
    soft = brush_rgba(window)[i]
    choose_colour_mode(window, qtbot, "gmm-hard")
    hard = brush_rgba(window)[i]
    assert hard[:3].tolist() == components[int(np.argmax(r[i]))].tolist()
    assert soft[:3].tolist() != hard[:3].tolist()
    assert soft[3] < hard[3] == 255  # the uncertain point is also fainter
    low, high = components.min(axis=0), components.max(axis=0)
    assert ((soft[:3] >= low) & (soft[:3] <= high)).all(), "a mix of the two colours"
    assert soft[:3].tolist() not in components.tolist()


def test_clicking_a_legend_entry_hides_and_shows_its_points(window, qtbot):
    session, scatter = window.session, window.scatter
    legend = scatter.legend
    total = len(scatter.points)
    assert total == len(session.opened.mu)
    i = int(isolated_points(window)[0])
    key = int(session.colouring.mixture.labels[i])  # hide the component of a point we can click
    members = np.flatnonzero(session.colouring.mixture.labels == key)
    ellipses = len(scatter.ellipse_items)

    def click_entry():
        item = legend.item(key)
        assert item.data(Qt.ItemDataRole.UserRole) == key
        with qtbot.waitSignal(session.colouring.coloursChanged, timeout=5000):
            qtbot.mouseClick(legend.viewport(), LEFT, pos=legend.visualItemRect(item).center())

    click_entry()
    assert len(scatter.points) == total - len(members)
    assert legend.item(key).checkState() == Qt.CheckState.Unchecked
    assert len(scatter.ellipse_items) == ellipses - 2
    # a hidden point can no longer be picked: clicking where it was decodes the location
    click(qtbot, window, point_of_item(window, i))
    assert session.selection.selected == -1
    assert isinstance(window.preview.preview, LocationPreview)

    click_entry()
    assert len(scatter.points) == total
    assert legend.item(key).checkState() == Qt.CheckState.Checked
    assert len(scatter.ellipse_items) == ellipses
    click(qtbot, window, point_of_item(window, i))
    assert session.selection.selected == i


# --- 7. projections -----------------------------------------------------------------------


def test_pca_view_labels_its_axes_and_clicks_map_back_through_the_inverse(sprites_window, qtbot):
    window = sprites_window
    session = window.session
    combo = window.controls.projection
    assert combo.isEnabled()
    with qtbot.waitSignal(session.view.projectionChanged, timeout=10_000):
        combo.setCurrentIndex(combo.findData("pca"))
    projection = session.view.projection
    assert projection.kind == "pca"
    bottom = window.scatter.plot.getAxis("bottom").labelText
    left = window.scatter.plot.getAxis("left").labelText
    assert re.fullmatch(r"PC1 \(\d+% var\)", bottom)
    assert re.fullmatch(r"PC2 \(\d+% var\)", left)
    ratio = projection.info["explained_variance_ratio"]
    assert bottom == f"PC1 ({round(100 * ratio[0])}% var)"
    assert "PC1" in window.status.text()
    np.testing.assert_allclose(session.view.xy, projection.transform(session.opened.mu))

    # empty space, nothing selected: the other directions come from the data mean
    widen_view_right(window)
    spot = viewport_point(window, session.view.xy[:, 0].max() + 2.0, session.view.xy[:, 1].mean())
    target = view_xy_at(window, spot)
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000) as shown:
        click(qtbot, window, spot)
    z = shown.args[0].z
    assert z.shape == (8,)
    np.testing.assert_allclose(projection.transform(z), target, atol=1e-6)
    offset = z - projection.mean  # moved only within the PCA plane
    np.testing.assert_allclose(offset, projection.matrix.T @ (projection.matrix @ offset), atol=1e-6)
    assert_close_uint8(window.preview.shown["decoded"], expected_images(session, z)[0])
    nearest = int(np.argmin(np.linalg.norm(session.opened.mu - z, axis=1)))  # in the full 8-D space
    assert shown.args[0].nearest == nearest

    # with an item selected, a click keeps what the view does not show of its μ
    i = int(isolated_points(window)[0])
    click(qtbot, window, point_of_item(window, i))
    assert session.selection.selected == i
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000) as shown:
        click(qtbot, window, spot)
    z = shown.args[0].z
    np.testing.assert_allclose(projection.transform(z), target, atol=1e-6)
    offset = z - session.opened.mu[i]
    np.testing.assert_allclose(offset, projection.matrix.T @ (projection.matrix @ offset), atol=1e-5)


# --- 8. bad run folders -------------------------------------------------------------------


def _garbage_config(tmp_path):
    folder = tmp_path / "garbage"
    folder.mkdir()
    (folder / "config.json").write_text("{ this is not json", encoding="utf-8")
    return folder, ("config.json",)


def _missing(tmp_path):
    return tmp_path / "no-such-run", ("not found", "no-such-run")


def _truncated_weights(tmp_path):
    folder = tmp_path / "truncated"
    shutil.copytree(bundled_run("digits-vae-2d"), folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return folder, ("model.safetensors", "truncated")


@pytest.mark.parametrize("make_folder", [_garbage_config, _missing, _truncated_weights],
                         ids=["garbage-config", "missing-folder", "truncated-weights"])
def test_a_bad_run_folder_keeps_the_open_model_and_says_why(window, qtbot, tmp_path, make_folder):
    session = window.session
    folder, words = make_folder(tmp_path)
    run, mu, title = session.opened.run, session.opened.mu, window.windowTitle()
    points = len(window.scatter.points)
    recent = window.recent_runs()
    with qtbot.waitSignal(session.errorOccurred, timeout=10_000):
        assert window.open_run(folder) is False
    assert session.opened.run is run and session.opened.mu is mu
    assert window.windowTitle() == title
    assert len(window.scatter.points) == points
    assert window.recent_runs() == recent
    message = window.last_error
    assert message
    for word in words:
        assert word in message
    box = window.error_box
    assert isinstance(box, QMessageBox) and box.objectName() == "errorBox"
    assert box.isVisible() and box.text() == message
    assert window.findChild(QMessageBox, "errorBox") is not None
    box.close()
    # the open model still works
    i = int(isolated_points(window)[0])
    click(qtbot, window, point_of_item(window, i))
    assert session.selection.selected == i


def test_opening_a_run_remembers_it_in_private_settings(window, settings_folder):
    assert window.settings.fileName().startswith(str(settings_folder))
    assert window.recent_runs()[0] == str(bundled_run("digits-vae-2d").resolve())


# --- 9. the app starts --------------------------------------------------------------------


# `python -m latentexplorer`, with one thing added: once the window has painted the run's points
# and coloured them (the `startup` record that tests/gui/test_startup.py reads too), it prints
# "up". The app runs as a user starts it otherwise (its REPORT_READY_ENV hook would quit).
WATCHED_START = """
import runpy, sys
from PySide6.QtCore import QTimer
import latentexplorer.gui.app as app

start_window = app.start_window

def watched_start_window(*args, **kwargs):
    window = start_window(*args, **kwargs)

    def check():
        if window.startup.painted and window.startup.coloured:
            timer.stop()
            print("up", flush=True)

    timer = QTimer(window, interval=50)
    timer.timeout.connect(check)
    timer.start()
    return window

app.start_window = watched_start_window
sys.argv = ["latentexplorer"]
runpy.run_module("latentexplorer", run_name="__main__", alter_sys=True)
"""
STILL_UP_S = 1.0  # after its start-up is done, the window waits for the user this long at least


def _printed_up(proc: subprocess.Popen, timeout: float) -> bool:
    """Whether `proc` prints the line "up" within `timeout` s (False once it has exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        readable, _, _ = select.select([proc.stdout], [], [], 0.1)
        if readable:
            line = proc.stdout.readline()
            if not line:
                return False  # end of file: the process is gone
            if line.strip() == b"up":
                return True
        elif proc.poll() is not None:
            return False
    return False


@pytest.mark.slow
def test_the_app_starts_on_the_bundled_model(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"), LATENTEXPLORER_LOG_DIR=str(tmp_path / "logs"))
    stderr_path = tmp_path / "stderr.txt"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", WATCHED_START], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=stderr)
        try:
            up = _printed_up(proc, timeout=120)
            if up:  # still up a moment later: the window is open, waiting for the user
                time.sleep(STILL_UP_S)
            alive = proc.poll() is None
            proc.terminate()
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            proc.stdout.close()
    text = stderr_path.read_text(errors="replace")
    assert up, f"the window never painted and coloured the bundled run; exit code {code}, stderr:\n{text}"
    assert alive, f"the app quit by itself after its start-up, exit code {code}, stderr:\n{text}"
    assert code == -signal.SIGTERM, f"exit code {code}, stderr:\n{text}"
    assert "Traceback" not in text, text
    log = tmp_path / "logs" / "latentexplorer.log"
    assert log.is_file()  # the GUI set up its logging
    assert "ERROR" not in log.read_text(encoding="utf-8")  # and opening the bundled run did not fail


# --- 10. keyboard -------------------------------------------------------------------------


def test_escape_clears_the_selection_and_ctrl_c_copies_the_preview(window, qtbot):
    session = window.session
    window.activateWindow()
    qtbot.waitActive(window)
    i = int(isolated_points(window)[0])
    click(qtbot, window, point_of_item(window, i))
    assert session.selection.selected == i

    QApplication.clipboard().clear()
    qtbot.keyClick(window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    image = QApplication.clipboard().image()
    assert not image.isNull() and image.width() > 0 and image.height() > 0
    expected = window.preview.current_image()
    assert (image.height(), image.width()) == expected.shape[:2]
    assert image.pixelColor(image.width() // 2, image.height() // 2).isValid()

    with qtbot.waitSignal(session.selection.selectionChanged, timeout=5000) as cleared:
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert cleared.args == [-1]
    assert session.selection.selected == -1 and session.selection.z is None
    assert window.preview.shown == {}
    assert drawn_count(window.scatter.highlight) == 0
    assert drawn_count(window.scatter.marker) == 0


# --- 11. exports --------------------------------------------------------------------------


def test_codes_export_to_csv_and_npz_one_row_per_item(session, tmp_path):
    table = session.codes_table()
    n, k = len(session.opened.mu), session.colouring.mixture.k
    csv_path = exports.write_codes(table, tmp_path / "codes.csv")
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header == (["mu_0", "mu_1", "logvar_0", "logvar_1", "xy_0", "xy_1", "labels"]
                      + [f"responsibilities_{j}" for j in range(k)])
    assert len(body) == n
    values = np.array(body, dtype=float)
    np.testing.assert_allclose(values[:, :2], session.opened.mu, rtol=1e-6)
    np.testing.assert_array_equal(values[:, header.index("labels")], session.opened.images.labels)
    np.testing.assert_allclose(values[:, 7:].sum(axis=1), 1.0, atol=1e-6)

    npz_path = exports.write_codes(table, tmp_path / "codes.npz")
    with np.load(npz_path) as data:
        assert set(data.files) == {"mu", "logvar", "xy", "labels", "responsibilities"}
        assert data["mu"].shape == (n, 2) and data["responsibilities"].shape == (n, k)
        np.testing.assert_array_equal(data["labels"], session.opened.images.labels)


def test_the_export_codes_menu_action_writes_the_chosen_file(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    target = tmp_path / "from-menu.npz"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    assert window.export_codes_action.isEnabled()
    window.export_codes_action.trigger()
    with np.load(target) as data:
        assert data["mu"].shape == window.session.opened.mu.shape


# --- 12. samples from the prior -----------------------------------------------------------


def test_prior_samples_are_shown_and_starred_on_the_scatter(window, qtbot):
    session, preview, scatter = window.session, window.preview, window.scatter
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000) as shown:
        session.selection.sample_prior(6, seed=0)
    samples = shown.args[0]
    assert isinstance(samples, SamplesPreview)
    zs = np.random.default_rng(0).standard_normal((6, session.opened.latent_dim))
    np.testing.assert_allclose(samples.zs, zs)
    keys = sorted(k for k in preview.shown if k.startswith("sample"))
    assert keys == [f"sample{j}" for j in range(6)]
    got = np.stack([preview.shown[k] for k in keys])
    assert_close_uint8(got, expected_images(session, zs))
    assert sum(tile.isVisible() for tile in preview.tiles) == 6
    sx, sy = scatter.prior_samples.getData()
    assert len(sx) == 6
    np.testing.assert_allclose(np.stack([sx, sy], axis=1), session.view.projection.transform(zs))

    # the toolbar button does the same with fresh samples
    with qtbot.waitSignal(session.selection.samplesChanged, timeout=5000):
        qtbot.mouseClick(window.controls.prior, LEFT)
    assert len(scatter.prior_samples.getData()[0]) == 6


# --- regressions --------------------------------------------------------------------------


def test_a_window_built_on_an_open_session_shows_its_run(session, qtbot):
    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert session.opened.run.name in window.windowTitle()
    assert len(window.scatter.points) == len(session.opened.mu)
    assert window.controls.colour.count() > 0
    assert len(window.sliders.rows) == session.opened.latent_dim


def test_the_legend_of_the_last_run_goes_while_the_new_one_is_fitted(window, qtbot, monkeypatch):
    from latentexplorer.gui.state import session as session_module

    assert window.scatter.legend.count() == window.session.colouring.mixture.k
    monkeypatch.setattr(session_module, "SYNC_FIT_LIMIT", 0)  # every fit in a task, as for 50,000 items
    window.session.open_run(bundled_run("digits-ae-2d"))
    assert window.session.fitting and window.session.colouring.mixture is None
    assert window.scatter.legend.count() == 0  # not the components of the run no longer shown
    qtbot.waitUntil(lambda: window.session.colouring.mixture is not None, timeout=30_000)
    assert window.scatter.legend.count() == window.session.colouring.mixture.k


def test_following_a_run_keeps_the_view_while_its_codes_fill_it(window, qtbot):
    """A run in training shows new codes every epoch: the view stays while they lie inside it
    and fill most of it (its axes are not redrawn every epoch), and re-ranges when they leave."""
    session, scatter = window.session, window.scatter
    run, images = session.opened.run, session.opened.images
    run.state["training"] = True  # as the Training tab's snapshots are marked
    mu, logvar = session.opened.mu.copy(), session.opened.logvar.copy()
    before = scatter.view_box.viewRange()
    session.follow_model(run, images, codes=(0.9 * mu, logvar))  # shrunk a little: still fills it
    assert scatter.view_box.viewRange() == before
    np.testing.assert_allclose(session.view.xy, 0.9 * mu[:, :2], rtol=1e-6)
    session.follow_model(run, images, codes=(3.0 * mu, logvar))  # grown past the view
    (x0, x1), (y0, y1) = scatter.view_box.viewRange()
    xy = session.view.xy
    assert x0 <= xy[:, 0].min() and xy[:, 0].max() <= x1 and y0 <= xy[:, 1].min() and xy[:, 1].max() <= y1
    session.follow_model(run, images, codes=(0.2 * mu, logvar))  # shrunk to a corner of it
    (x0, x1), _ = scatter.view_box.viewRange()
    assert np.ptp(session.view.xy[:, 0]) >= 0.6 * (x1 - x0)  # re-ranged onto them


def test_a_dimension_that_wakes_up_during_training_gets_its_slider_back(window, qtbot):
    """Early in training a VAE's codes barely vary and every dimension is folded away as
    inactive; once they spread, the next epoch shows their sliders again."""
    session, sliders = window.session, window.sliders
    run, images = session.opened.run, session.opened.images
    run.state["training"] = True
    mu, logvar = session.opened.mu.copy(), session.opened.logvar.copy()
    session.follow_model(run, images, codes=(0.01 * mu, logvar))  # collapsed: Var(μ) < 0.01
    assert all(row.parentWidget() is sliders.inactive_container for row in sliders.rows.values())
    session.follow_model(run, images, codes=(mu, logvar))
    assert all(row.parentWidget() is not sliders.inactive_container for row in sliders.rows.values())
    qtbot.waitUntil(lambda: all(row.isVisibleTo(sliders) for row in sliders.rows.values()), timeout=2000)
    assert not sliders.inactive_toggle.isVisibleTo(sliders)
