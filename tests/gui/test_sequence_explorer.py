"""The explorer on the bundled sequence VAE: a click shows the trajectory and its reconstruction."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from latentexplorer.bundled import bundled_run
from latentexplorer.gui.images import to_uint8
from latentexplorer.gui.main_window import MainWindow
from latentexplorer.gui.session import PointPreview
from latentexplorer.gui.training_form import TrainingForm, expected_shape


@pytest.fixture
def strokes_window(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.session.runChanged, timeout=20_000):
        assert window.open_run(bundled_run("strokes-seqvae"))
    yield window
    window.session.shutdown()
    window.close()


def test_clicking_a_point_shows_its_trajectory_and_reconstruction(strokes_window, qtbot):
    window, session = strokes_window, strokes_window.session
    xy = session.xy
    # the point farthest from its nearest neighbour, so the click cannot land on another
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) + np.eye(len(xy)) * 1e9
    i = int(np.argmax(d.min(1)))
    pos = window.scatter.widget_pos_of(*xy[i])
    with qtbot.waitSignal(session.selectionChanged, timeout=5000):
        qtbot.mouseClick(window.scatter.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos.toPoint())
    preview = window.preview
    assert isinstance(preview.preview, PointPreview) and preview.preview.index == i
    original = preview.shown["original"]
    expected = to_uint8(session.images.display_batch(np.array([i]))[0])
    np.testing.assert_array_equal(original, expected)
    assert original.shape == (64, 64, 3) and original.max() > 100
    recon = preview.shown["reconstruction"]
    np.testing.assert_array_equal(recon, to_uint8(session.decode(session.mu[i])[0]))
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
