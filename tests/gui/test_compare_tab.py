"""The Compare tab on the real main window: an autoencoder beside a VAE of the same digits,
the same prior samples decoded on both sides, and runs chosen per side."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from latentexplorer.analysis.prior_coverage import prior_samples
from latentexplorer.config import ModelConfig, RunConfig
from latentexplorer.gui.compare.compare_tab import PRIOR_SAMPLE_COUNT
from latentexplorer.training.linear_fit import fit_linear_run

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def compare(qtbot, window):
    """The Compare tab, shown, with both default runs loaded."""
    tab = window.compare
    with qtbot.waitSignals([tab.left.loaded, tab.right.loaded], timeout=30_000):
        window.tabs.setCurrentWidget(tab)
    yield tab
    tab.shutdown()


def test_tab_opens_with_the_bundled_autoencoder_and_vae(window, compare):
    assert window.findChild(type(compare), "compareTab") is compare
    assert compare.left.chooser.currentText() == "digits-ae-2d"
    assert compare.right.chooser.currentText() == "digits-vae-2d"
    for side in (compare.left, compare.right):
        assert len(side.points.data) == 1797
    assert "autoencoder" in compare.left.figures.text()
    assert "VAE" in compare.right.figures.text()
    left_brushes = [p.brush().color().name() for p in compare.left.points.points()[:50]]
    right_brushes = [p.brush().color().name() for p in compare.right.points.points()[:50]]
    assert left_brushes == right_brushes, "the same item has the same label colour on both sides"


def test_sample_from_prior_decodes_the_same_samples_on_both_sides(qtbot, compare):
    qtbot.mouseClick(compare.sample_button, LEFT)
    z = prior_samples(PRIOR_SAMPLE_COUNT, 2, seed=0)
    for side in (compare.left, compare.right):
        assert side.decoded.shape == (PRIOR_SAMPLE_COUNT, 1, 8, 8)
        assert not side.strip.pixmap().isNull()
        marks = np.column_stack(side.sample_markers.getData())
        np.testing.assert_allclose(marks, z, rtol=1e-6)  # 2-D latents are shown as they are
        np.testing.assert_allclose(side.decoded, side.data.decode(z), atol=1e-6)
    assert not np.allclose(compare.left.decoded, compare.right.decoded)
    qtbot.mouseClick(compare.sample_button, LEFT)
    assert compare.seed.value() == 2
    assert not np.allclose(np.column_stack(compare.left.sample_markers.getData()), z)


def test_the_autoencoder_mismatches_the_prior_more_than_the_vae(compare):
    ae, vae = compare.left.data.coverage, compare.right.data.coverage
    # bundled runs: AE 21 % of codes inside the prior's 95 % region, gap 49.3; VAE 96 %, gap 0.94
    assert ae.inside < 0.4 < 0.9 < vae.inside
    assert ae.gap > 10 * vae.gap
    assert f"{100 * ae.inside:.0f} % of the codes" in compare.left.figures.text()


def test_clicking_a_point_shows_its_reconstruction_on_that_side(qtbot, compare):
    side = compare.left
    index = 123
    x, y = side.data.xy[index]
    scene = side.view_box.mapViewToScene(QPointF(x, y))
    pos = side.plot.mapFromScene(scene)
    qtbot.mouseClick(side.plot.viewport(), LEFT, pos=QPoint(pos.x(), pos.y()))
    assert side.selected >= 0
    assert np.linalg.norm(side.data.xy[side.selected] - (x, y)) < 0.5
    assert "original | reconstruction" in side.recon_caption.text()
    assert not side.recon.pixmap().isNull()
    assert compare.right.selected == -1


def test_choosing_another_run_updates_that_side(qtbot, compare, tmp_path):
    folder = tmp_path / "digits-pca"
    fit_linear_run(RunConfig(model=ModelConfig(kind="pca", latent_dim=2)), folder)
    compare.left.select_folder(folder)
    with qtbot.waitSignal(compare.left.loaded, timeout=30_000):
        compare.left.chooser.activated.emit(compare.left.chooser.currentIndex())
    assert compare.left.chooser.currentText() == "digits-pca"
    assert "PCA" in compare.left.figures.text() and "explained variance" in compare.left.figures.text()
    assert len(compare.left.points.data) == 1797
    assert compare.right.data.run.name == "digits-vae-2d"


def test_runs_of_images_of_another_shape_are_refused_with_a_message(qtbot, window, compare):
    side = compare.right
    index = side.chooser.findText("sprites-betavae")
    with qtbot.waitSignal(window.session.errorOccurred) as blocker:
        side.chooser.setCurrentIndex(index)
        side.chooser.activated.emit(index)
    assert "different shapes" in blocker.args[0] and "32×32" in blocker.args[0]
    assert side.chooser.currentText() == "digits-vae-2d"
    assert side.data.run.name == "digits-vae-2d"
