"""The explorer on the bundled sequence VAE: a click shows the trajectory and its reconstruction."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from latentexplorer.bundled import bundled_run
from latentexplorer.gui.state.previews import InterpolationPreview, PointPreview
from latentexplorer.gui.training.training_form import TrainingForm, expected_shape
from latentexplorer.gui.widgets.images import to_uint8

LEFT, NO_BUTTON = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton


def isolated(xy: np.ndarray) -> np.ndarray:
    """Items ordered by the distance to their nearest neighbour, farthest first."""
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) + np.eye(len(xy)) * 1e9
    return np.argsort(-d.min(1))


def mouse(widget, kind: QEvent.Type, pos: QPoint, button, buttons) -> None:
    local = QPointF(pos)
    event = QMouseEvent(kind, local, QPointF(widget.mapToGlobal(local)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_clicking_a_point_shows_its_trajectory_and_reconstruction(strokes_window, qtbot):
    window, session = strokes_window, strokes_window.session
    i = int(isolated(session.view.xy)[0])  # so the click cannot land on another point
    pos = window.scatter.widget_pos_of(*session.view.xy[i])
    with qtbot.waitSignal(session.selection.selectionChanged, timeout=5000):
        qtbot.mouseClick(window.scatter.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos.toPoint())
    preview = window.preview
    assert isinstance(preview.preview, PointPreview) and preview.preview.index == i
    original = preview.shown["original"]
    expected = to_uint8(session.opened.images.display_batch(np.array([i]))[0])
    np.testing.assert_array_equal(original, expected)
    assert original.shape == (64, 64, 3) and original.max() > 100
    recon = preview.shown["reconstruction"]
    np.testing.assert_array_equal(recon, to_uint8(session.opened.decode(session.opened.mu[i])[0]))
    assert recon.max() > 100, "the reconstruction draws a trajectory"


def test_the_training_form_offers_strokes_and_the_sequence_vae(qtbot):
    form = TrainingForm()
    qtbot.addWidget(form)
    form.dataset.setCurrentText("strokes")
    assert form.dataset.currentText() == "strokes"
    form.kind.setCurrentIndex(form.kind.findData("seqvae"))
    assert (form.hidden.text(), form.likelihood.currentText(), form.warmup.value()) == ("128", "gaussian-learned", 5.0)
    config = form.run_config()
    assert config.model.kind == "seqvae" and config.model.warmup_epochs == 5.0
    assert expected_shape(config) == (1, 48, 3)


def test_dragging_between_two_items_interpolates_trajectories(strokes_window, qtbot):
    window, session = strokes_window, strokes_window.session
    qtbot.wait(50)  # let the plot's layout settle before reading pixel positions
    viewport = window.scatter.plot.viewport()
    px = np.array([[p.x(), p.y()] for p in (window.scatter.widget_pos_of(*q) for q in session.view.xy)])
    w, h = viewport.width(), viewport.height()
    inside = (px[:, 0] > 0.2 * w) & (px[:, 0] < 0.8 * w) & (px[:, 1] > 0.2 * h) & (px[:, 1] < 0.8 * h)
    d = np.sqrt(((px[:, None] - px[None]) ** 2).sum(-1)) + np.eye(len(px)) * 1e9
    candidates = np.flatnonzero(inside & (d.min(1) > 8.0))
    assert len(candidates) >= 2
    sub = d[np.ix_(candidates, candidates)] % 1e9
    i, j = np.unravel_index(np.argmax(sub), sub.shape)
    a, b = int(candidates[i]), int(candidates[j])
    pos = {k: QPoint(round(px[k, 0]), round(px[k, 1])) for k in (a, b)}
    mouse(viewport, QEvent.Type.MouseButtonPress, pos[a], LEFT, LEFT)
    qtbot.wait(20)  # selecting a may relayout the plot: find b again
    target = window.scatter.widget_pos_of(*session.view.xy[b])
    pos[b] = QPoint(round(target.x()), round(target.y()))
    for t in np.linspace(0.0, 1.0, 7)[1:]:
        p = QPoint(round(pos[a].x() + t * (pos[b].x() - pos[a].x())), round(pos[a].y() + t * (pos[b].y() - pos[a].y())))
        mouse(viewport, QEvent.Type.MouseMove, p, NO_BUTTON, LEFT)
        qtbot.wait(15)
    mouse(viewport, QEvent.Type.MouseButtonRelease, pos[b], LEFT, NO_BUTTON)
    qtbot.wait(30)
    qtbot.waitUntil(lambda: isinstance(window.preview.preview, InterpolationPreview)
                    and window.preview.preview.done, timeout=5000)
    shown = window.preview.preview
    assert (shown.start, shown.end) == (a, b)
    frames = window.preview.shown["frames"]
    expected = np.stack([to_uint8(f) for f in session.opened.decode(shown.zs)])
    np.testing.assert_array_equal(frames, expected)
    assert frames.shape[1:] == (64, 64, 3) and (frames.reshape(len(frames), -1).max(1) > 100).all()
    assert not np.array_equal(frames[0], frames[-1]), "the two ends draw different trajectories"


def test_the_drawing_pad_is_off_for_a_sequence_model_and_back_for_an_image_model(strokes_window, qtbot):

    window = strokes_window
    assert not window.controls.draw.isEnabled() and not window.draw_action.isEnabled()
    assert "trajectories" in window.controls.draw.toolTip()
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=10_000):
        assert window.open_run(bundled_run("digits-vae-2d"))
    assert window.controls.draw.isEnabled() and window.draw_action.isEnabled()
