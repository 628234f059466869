"""The posterior made visible (its ellipse, points at μ or at a sampled z), your own input
(the drawing pad), and attribute vectors, driven through the real widgets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from test_explorer import click, isolated_points, point_of_item, view_xy_at

from latentexplorer.analysis.directions import box_members, label_groups
from latentexplorer.bundled import bundled_run
from latentexplorer.gui.explorer.drawing_pad import box_average, fit_to_frame
from latentexplorer.gui.state.previews import DrawingPreview, LocationPreview

LEFT = Qt.MouseButton.LeftButton


def send(widget, kind: QEvent.Type, pos: QPoint, button, buttons, modifiers=Qt.KeyboardModifier.NoModifier):
    local = QPointF(pos)
    event = QMouseEvent(kind, local, QPointF(widget.mapToGlobal(local)), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def polygon_of(item) -> np.ndarray:
    x, y = item.getData()
    return np.zeros((0, 2)) if x is None else np.stack([x, y], axis=1)


# --- the posterior's ellipse ----------------------------------------------------------------


def test_clicking_a_point_draws_its_posterior_ellipse_at_one_and_two_sigma(window, qtbot):
    session, scatter = window.session, window.scatter
    i = int(isolated_points(window)[0])
    click(qtbot, window, point_of_item(window, i))
    assert session.selection.selected == i
    # drawn a moment after the preview, which the click is for
    qtbot.waitUntil(lambda: scatter.posterior_1s.isVisible() and scatter.posterior_2s.isVisible(), timeout=2000)
    one, two = polygon_of(scatter.posterior_1s), polygon_of(scatter.posterior_2s)
    sigma = np.exp(0.5 * session.opened.logvar[i].astype(np.float64))
    # a diagonal Gaussian in the two-dimensions view: the contour's half-widths are σ and 2σ
    # (the contour is 63 points evenly spaced in angle: their mean is the centre exactly, and
    # their extent reaches the axes to within 1 − cos(π/63) ≈ 0.12 %)
    for polygon, k in ((one, 1.0), (two, 2.0)):
        np.testing.assert_allclose(polygon[:-1].mean(0), session.opened.mu[i], atol=1e-6)
        np.testing.assert_allclose(np.abs(polygon - session.opened.mu[i]).max(0), k * sigma, rtol=2e-3)
    # Escape clears it with the selection
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not scatter.posterior_1s.isVisible() and len(polygon_of(scatter.posterior_1s)) == 0


def test_an_autoencoder_has_a_point_posterior_and_no_ellipse(window, qtbot):
    session, scatter = window.session, window.scatter
    with qtbot.waitSignal(session.opened.runChanged, timeout=10_000):
        assert window.open_run(bundled_run("digits-ae-2d"))
    with qtbot.waitSignal(session.selection.posteriorChanged, timeout=2000) as shape:
        click(qtbot, window, point_of_item(window, int(isolated_points(window)[0])))
    assert session.selection.selected >= 0 and shape.args == [None]
    assert not scatter.posterior_1s.isVisible()
    assert not window.controls.sampled.isEnabled()


def test_points_at_a_sampled_z_scatter_by_the_posterior_and_return_to_mu(window, qtbot):
    session, controls = window.session, window.controls
    at_mu = session.view.xy.copy()
    qtbot.mouseClick(controls.sampled, LEFT)
    assert controls.sampled.isChecked() and controls.redraw.isEnabled()
    sampled = session.view.xy.copy()
    # the displacement divided by σ is a standard normal draw: mean 0, variance 1
    sigma = np.exp(0.5 * session.opened.logvar.astype(np.float64))
    eps = (sampled - at_mu) / sigma
    assert abs(eps.mean()) < 0.1 and abs(eps.var() - 1.0) < 0.1
    np.testing.assert_allclose(window.scatter.points.xy, sampled, atol=1e-5)  # what is drawn
    # picking follows what is drawn: clicking a sampled position selects that item
    i = int(isolated_points(window)[0])
    click(qtbot, window, point_of_item(window, i))
    assert session.selection.selected == i
    qtbot.mouseClick(controls.redraw, LEFT)
    assert not np.allclose(session.view.xy, sampled)
    qtbot.mouseClick(controls.sampled, LEFT)
    np.testing.assert_array_equal(session.view.xy, at_mu)


# --- the drawing pad ------------------------------------------------------------------------


def test_fit_to_frame_centres_the_ink_and_box_average_keeps_the_mean():
    ink = np.zeros((64, 64), np.float32)
    ink[2:10, 3:7] = 1.0  # a small stroke in a corner
    fitted = fit_to_frame(ink, margin=0.1)
    rows, cols = np.flatnonzero(fitted.max(1)), np.flatnonzero(fitted.max(0))
    assert rows[0] >= 5 and rows[-1] <= 58 and rows[-1] - rows[0] >= 48  # fills 80 % of the side
    assert abs((cols[0] + cols[-1]) / 2 - 31.5) <= 1.0  # centred
    small = box_average(fitted, 8, 8)
    assert small.shape == (8, 8) and small.mean() == pytest.approx(fitted.mean(), rel=1e-6)


def draw_stroke(qtbot, canvas, points: list[tuple[float, float]]) -> None:
    w, h = canvas.width(), canvas.height()
    qs = [QPoint(round(x * w), round(y * h)) for x, y in points]
    send(canvas, QEvent.Type.MouseButtonPress, qs[0], LEFT, LEFT)
    for q in qs[1:]:
        send(canvas, QEvent.Type.MouseMove, q, Qt.MouseButton.NoButton, LEFT)
    send(canvas, QEvent.Type.MouseButtonRelease, qs[-1], LEFT, Qt.MouseButton.NoButton)


def test_a_drawing_is_encoded_live_and_shown_on_the_scatter_and_in_the_preview(window, qtbot):
    session, scatter, preview = window.session, window.scatter, window.preview
    window.draw_action.trigger()
    pad = window.drawing_pad
    assert pad.isVisible() and pad.canvas.image_size == (8, 8)
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000):
        draw_stroke(qtbot, pad.canvas, [(0.3, 0.2), (0.7, 0.2), (0.45, 0.85)])  # a "7"
    shown = preview.preview
    assert isinstance(shown, DrawingPreview)
    image = pad.canvas.image()
    assert image.max() > 0.5 and image.shape == (8, 8)
    np.testing.assert_allclose(shown.image[0], image, atol=1e-6)
    with torch.no_grad():
        posterior = session.opened.model.encode(torch.from_numpy(image[None, None].astype(np.float32)))
    mu = posterior.mu.numpy()[0]
    np.testing.assert_allclose(shown.mu, mu, atol=1e-5)
    # its μ is marked and its posterior ellipse drawn around it
    qtbot.waitUntil(lambda: scatter.marker.getData()[0] is not None and len(scatter.marker.getData()[0]) == 1,
                    timeout=2000)
    mx, my = scatter.marker.getData()
    np.testing.assert_allclose([mx[0], my[0]], mu, atol=1e-5)
    one = polygon_of(scatter.posterior_1s)
    np.testing.assert_allclose(one[:-1].mean(0), mu, atol=1e-5)
    assert "reconstruction" in preview.shown and "drawing" in preview.shown
    assert "nearest data codes are labelled" in preview.info.text()
    # another stroke moves the code: encoded live, once per stroke or fewer
    before = pad.encoded
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000):
        draw_stroke(qtbot, pad.canvas, [(0.2, 0.5), (0.8, 0.5)])
    assert pad.encoded == before + 1
    assert not np.allclose(preview.preview.mu, mu)
    # Clear empties the pad and the preview
    qtbot.mouseClick(pad.clear_button, LEFT)
    assert pad.canvas.image().max() == 0.0 and preview.preview is None


def test_a_dropped_dark_on_light_image_file_is_inverted_and_encoded(window, qtbot, tmp_path):
    window.show_drawing_pad()
    pad = window.drawing_pad
    page = np.full((40, 40), 255, np.uint8)
    page[5:35, 18:22] = 0  # a dark "1" on white paper
    Image.fromarray(page).save(tmp_path / "one.png")
    with qtbot.waitSignal(window.session.selection.previewChanged, timeout=5000):
        assert pad.load_file(tmp_path / "one.png")
    image = pad.canvas.image()
    # bright ink down the middle columns (the bar, fitted to the frame), dark elsewhere
    assert image[1:7, 3:5].min() > 0.3
    assert image[:, :2].max() < 0.05 and image[:, 6:].max() < 0.05
    (tmp_path / "notes.txt").write_text("not an image")
    with qtbot.waitSignal(window.session.errorOccurred, timeout=2000) as error:
        assert not pad.load_file(tmp_path / "notes.txt")
    assert "not an image" in error.args[0]


# --- attribute vectors ----------------------------------------------------------------------


def test_an_attribute_vector_between_two_labels_moves_the_selected_item(window, qtbot, tmp_path):
    session = window.session
    window.directions_action.trigger()
    panel = window.attribute_vectors
    panel.choose("label 1", "label 7")
    labels = session.opened.images.labels
    expected = session.opened.mu[labels == 7].astype(np.float64).mean(0) - session.opened.mu[labels == 1].astype(np.float64).mean(0)
    np.testing.assert_allclose(panel.vector.direction, expected, atol=1e-9)
    assert f"{np.linalg.norm(expected):.3f}" in panel.summary.text()
    i = int(np.flatnonzero(labels == 1)[0])
    session.selection.select(i)
    with qtbot.waitSignal(session.selection.previewChanged, timeout=2000):
        panel.alpha.setValue(100)  # α = 1
    np.testing.assert_allclose(session.selection.z, session.opened.mu[i] + expected, atol=1e-6)
    shown = window.preview.preview
    assert isinstance(shown, LocationPreview) and shown.source == "slider"
    # the decoded sweep: 9 frames, drawn on the scatter as a path through μ_i
    assert panel.sweep_images.shape[0] == 9
    px, py = window.scatter.path_line.getData()
    np.testing.assert_allclose([px[4], py[4]], session.opened.mu[i], atol=1e-6)
    panel.export_sweep(str(tmp_path / "sweep.png"))
    strip = np.asarray(Image.open(tmp_path / "sweep.png"))
    assert strip.shape[1] > 8 * strip.shape[0]  # one row of nine frames


def test_a_shift_drag_box_on_the_scatter_becomes_a_group(window, qtbot):
    session, scatter = window.session, window.scatter
    viewport = scatter.plot.viewport()
    xy = session.view.xy
    centre = np.median(xy, axis=0)
    a_xy, b_xy = centre - 0.4 * xy.std(0), centre + 0.4 * xy.std(0)
    a = scatter.widget_pos_of(*a_xy)
    b = scatter.widget_pos_of(*b_xy)
    qa, qb = QPoint(round(a.x()), round(a.y())), QPoint(round(b.x()), round(b.y()))
    shift = Qt.KeyboardModifier.ShiftModifier
    with qtbot.waitSignal(scatter.box_selected, timeout=3000) as made:
        send(viewport, QEvent.Type.MouseButtonPress, qa, LEFT, LEFT, shift)
        for t in (0.3, 0.6, 1.0):
            q = QPoint(round(qa.x() + t * (qb.x() - qa.x())), round(qa.y() + t * (qb.y() - qa.y())))
            send(viewport, QEvent.Type.MouseMove, q, Qt.MouseButton.NoButton, LEFT, shift)
            qtbot.wait(15)
        send(viewport, QEvent.Type.MouseButtonRelease, qb, LEFT, Qt.MouseButton.NoButton, shift)
    expected = box_members(xy, view_xy_at(window, qa), view_xy_at(window, qb))
    assert made.args[0] == len(expected) > 10
    np.testing.assert_array_equal(session.selection.boxes[-1].members, expected)
    assert session.selection.selected == -1  # a box selection is not a click
    names = [g.name for g in session.selection.groups()]
    assert names[: len(label_groups(session.opened.images))] == [f"label {k}" for k in range(10)]
    assert names[-1].startswith("box 1")


def test_a_factor_analysis_posterior_is_drawn_through_the_view_as_a_sigma_a_transposed(window, qtbot, tmp_path):
    from latentexplorer.config import DataConfig, ModelConfig, RunConfig
    from latentexplorer.training.linear_fit import fit_linear_run

    session = window.session
    config = RunConfig(model=ModelConfig(kind="fa", image_shape=(1, 8, 8), latent_dim=3),
                       data=DataConfig(name="digits"))
    fit_linear_run(config, tmp_path / "fa", images=session.opened.images)
    with qtbot.waitSignal(session.opened.runChanged, timeout=20_000):
        assert window.open_run(tmp_path / "fa")
    window.controls.projection.setCurrentIndex(window.controls.projection.findData("pca"))
    assert session.view.projection.kind == "pca"
    with qtbot.waitSignal(session.selection.posteriorChanged, timeout=2000):
        session.selection.select(5)
    sigma = session.opened.model.posterior_covariance().double().numpy()
    expected = session.view.projection.project_covariance(sigma)
    one = polygon_of(window.scatter.posterior_1s)[:-1]
    centre = one.mean(0)
    np.testing.assert_allclose(centre, session.view.projection.transform(session.opened.mu[5].astype(np.float64)), atol=1e-6)
    # points evenly spaced in angle on the 1σ contour: their covariance is half the Gaussian's
    spread = np.cov((one - centre).T, bias=True) * 2
    np.testing.assert_allclose(spread, expected, rtol=1e-6, atol=1e-9)


def test_an_image_file_dropped_on_the_window_opens_in_the_drawing_pad(window, qtbot, tmp_path):
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDropEvent

    page = np.zeros((32, 32), np.uint8)
    page[4:28, 14:18] = 255
    Image.fromarray(page).save(tmp_path / "stroke.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "stroke.png"))])
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, LEFT, Qt.KeyboardModifier.NoModifier)
    run_before = window.session.opened.run
    with qtbot.waitSignal(window.session.selection.previewChanged, timeout=5000):
        window.dropEvent(drop)
    assert window.drawing_pad is not None and window.drawing_pad.isVisible()
    assert isinstance(window.preview.preview, DrawingPreview)
    assert window.session.opened.run is run_before  # the open run stays


def test_opening_a_run_fits_the_view_to_its_points_not_to_the_old_ellipses(window, qtbot):
    """The view fits the new codes even while the previous run's mixture ellipses are still
    drawn (they were counted in the range: a small cloud showed in a corner of the old view)."""
    from latentexplorer.data.base import ImageSet

    session, scatter = window.session, window.scatter
    qtbot.waitUntil(lambda: len(scatter.ellipse_items) > 0, timeout=20_000)
    faint = ImageSet((session.opened.images.images.astype(np.float32) / 255.0) * 0.05, "faint digits",
                     labels=session.opened.images.labels)
    with qtbot.waitSignal(session.opened.runChanged, timeout=20_000):
        assert session.open_run(bundled_run("digits-vae-2d"), images=faint)
    extent = session.view.xy.max(0) - session.view.xy.min(0)
    (x0, x1), (y0, y1) = scatter.view_box.viewRange()
    assert x1 - x0 < 1.5 * extent[0] and y1 - y0 < 1.5 * extent[1]
