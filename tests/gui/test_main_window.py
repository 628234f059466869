"""The window that opens on the bundled model."""

from __future__ import annotations

from latentexplorer.bundled import DEFAULT_RUN, bundled_run
from latentexplorer.checkpoint import load_run
from latentexplorer.gui.main_window import MainWindow


def test_window_opens_on_the_bundled_model_with_prior_samples(qtbot):
    window = MainWindow(load_run(bundled_run()))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert DEFAULT_RUN in window.windowTitle()
    assert "vae, 2-d latent" in window.summary.text()
    pixmap = window.samples.pixmap()
    assert not pixmap.isNull() and pixmap.width() > 100
    # the samples are decoded images, not a blank canvas
    image = pixmap.toImage()
    colours = {image.pixelColor(x, y).value() for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 10


def test_window_without_a_run_says_so(qtbot):
    window = MainWindow(None)
    qtbot.addWidget(window)
    assert "no run open" in window.summary.text()
