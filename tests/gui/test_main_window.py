"""The main window as it opens: on the bundled model, without a run, and on another run."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from latentexplorer.bundled import DEFAULT_RUN, bundled_run
from latentexplorer.gui.main_window import MainWindow
from latentexplorer.gui.state.previews import PointPreview, SamplesPreview
from latentexplorer.gui.widgets.images import to_uint8


def test_window_opens_on_the_bundled_model_with_its_codes(window, qtbot):
    session = window.session
    assert DEFAULT_RUN in window.windowTitle()
    status = window.status.text()
    assert "VAE" in status and "1,797 items" in status and "2-d latent" in status
    # every item is a point, coloured (not the grey placeholder), with a legend and sliders
    assert len(window.scatter.points) == len(session.opened.mu) == 1797
    colours = {tuple(c) for c in window.scatter.points.rgba}
    assert len(colours) > 10
    assert window.scatter.legend.count() == session.colouring.mixture.k
    assert sorted(window.sliders.rows) == [0, 1]
    assert window.controls.colour.count() >= 4
    assert window.manifold_action.isEnabled()
    # the View menu's prior samples are decoded images, not a blank canvas
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000) as shown:
        window.prior_action.trigger()
    assert isinstance(shown.args[0], SamplesPreview)
    image = window.preview.shown["sample0"]
    assert len(np.unique(image)) > 5


def test_window_without_a_run_says_so(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == "LatentExplorer"
    assert "no run open" in window.status.text()
    for action in (window.export_codes_action, window.prior_action, window.manifold_action,
                   window.traversal_action, window.open_data_action):
        assert not action.isEnabled()
    # gestures on an empty scatter do nothing (and raise nothing)
    qtbot.mouseClick(window.scatter.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(200, 200))
    assert window.session.selection.selected == -1
    assert window.last_error == ""
    window.session.shutdown()


def test_opening_the_autoencoder_replaces_the_vae(window, qtbot):
    session = window.session
    combo = window.controls.colour
    combo.setCurrentIndex(combo.findData("uncertainty"))  # a mode the autoencoder lacks
    session.selection.select(0)
    with qtbot.waitSignal(session.opened.runChanged, timeout=10_000):
        assert window.open_run(bundled_run("digits-ae-2d"))
    assert session.opened.run.name == "digits-ae-2d"
    assert "digits-ae-2d" in window.windowTitle()
    assert "autoencoder" in window.status.text()
    assert window.recent_runs()[:2] == [str(bundled_run("digits-ae-2d").resolve()),
                                        str(bundled_run("digits-vae-2d").resolve())]
    # nothing of the VAE is left on screen
    assert session.selection.selected == -1 and window.preview.preview is None and window.preview.shown == {}
    # the colour mode falls back to one the autoencoder has, and the points use it
    assert combo.findData("uncertainty") < 0
    assert session.colouring.mode == combo.currentData() == "gmm-soft"
    assert window.scatter.legend.count() == session.colouring.mixture.k
    assert not window.manifold_action.isEnabled()
    # sliders are ordered by the variance of the codes (no KL without a posterior)
    notes = [window.sliders.rows[d].note.text() for d in window.sliders.order]
    assert all(n.startswith("var ") for n in notes)
    # a point shows its reconstruction, without posterior samples
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000) as shown:
        session.selection.select(5)
    assert isinstance(shown.args[0], PointPreview)
    assert sorted(window.preview.shown) == ["original", "reconstruction"]
    expected = to_uint8(session.opened.decode(session.opened.mu[5])[0])
    assert np.abs(window.preview.shown["reconstruction"].astype(int) - expected.astype(int)).max() <= 1


def test_a_mixture_fitted_on_a_subset_says_so_and_still_colours_every_point(qtbot, monkeypatch):
    from latentexplorer.analysis import mixture

    monkeypatch.setattr(mixture, "FIT_SUBSET", 500)  # as a million codes would be fitted
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.session.open_run(bundled_run("digits-vae-2d"))
    qtbot.waitUntil(lambda: window.session.colouring.mixture is not None, timeout=20_000)
    assert window.session.colouring.mixture.fitted_on == 500
    assert "mixture fitted on a random 500 of them" in window.status.text()
    assert len(window.scatter.points) == 1797
    assert len({tuple(c) for c in window.scatter.points.rgba}) > 10


def test_a_large_set_is_encoded_in_a_worker_with_progress_and_the_open_run_stays_meanwhile(
        qtbot, monkeypatch):
    from latentexplorer.data.sprites import make_sprites
    from latentexplorer.gui.state import session as session_module

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    session = window.session
    assert session.open_run(bundled_run("digits-vae-2d"))
    digits = session.opened.images
    monkeypatch.setattr(session_module, "SYNC_ENCODE_LIMIT", 1_000)  # 3,000 items are "large"
    progress = []
    session.encodeProgress.connect(lambda done, total: progress.append((done, total)))
    sprites = make_sprites(3_000, size=32, seed=0)
    assert session.open_run(bundled_run("sprites-betavae"), images=sprites)
    assert session.encoding and session.opened.images is digits  # still the digits until encoded
    assert window.busy.isVisible()
    qtbot.waitUntil(lambda: session.opened.images is sprites, timeout=60_000)
    assert not session.encoding and not window.busy.isVisible()
    assert progress[0] == (0, 3_000) and progress[-1] == (3_000, 3_000)
    assert len(window.scatter.points) == 3_000
    # the worker's codes are those of the model, item for item
    import torch
    with torch.no_grad():
        mu = session.opened.model.encode(sprites.float_batch(np.arange(5))).mu.numpy()
    np.testing.assert_allclose(session.opened.mu[:5], mu, atol=1e-5)
    # a newer request replaces one being encoded: only the last one is shown
    assert session.open_run(bundled_run("sprites-betavae"), images=make_sprites(2_500, size=32, seed=1))
    assert session.open_run(bundled_run("sprites-betavae"), images=sprites)
    qtbot.waitUntil(lambda: not session.encoding, timeout=60_000)
    assert session.opened.images is sprites


def test_garbage_is_collected_in_the_gui_thread_only(qtbot):
    """A widget in a reference cycle, freed by a collection that a worker thread's allocations
    triggered, ran its C++ destructor in that thread and hung the process."""
    import gc
    import threading

    from PySide6.QtWidgets import QLabel

    window = MainWindow()
    qtbot.addWidget(window)
    assert not gc.isenabled()  # no automatic collection in whichever thread allocates
    threads: list[str] = []

    def record(phase, info) -> None:
        if phase == "start":
            threads.append(threading.current_thread().name)

    gc.callbacks.append(record)
    try:
        label = QLabel()
        label.cycle = label  # garbage only a collection can free
        del label

        kept: list = []  # alive until the end: freeing them would lower the counts again

        def allocate() -> None:
            for _ in range(200_000):
                kept.append([[]])  # container objects: what drives the collector's counts

        worker = threading.Thread(target=allocate, name="allocating-worker")
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: bool(threads), timeout=5000)  # the GUI thread's timer collects
    finally:
        gc.callbacks.remove(record)
    kept.clear()
    assert "allocating-worker" not in threads
    assert set(threads) == {threading.main_thread().name}


def test_the_bic_button_fits_in_a_task_then_shows_the_kept_curve(window, qtbot, monkeypatch):
    """The BIC curve (15 GMM fits) never runs in the GUI thread: the click returns at once, the
    dialog follows from the task, and a second click shows the kept curve without fitting."""
    from latentexplorer.gui import main_window

    session = window.session
    fits: list[int] = []
    fit = main_window.bic_curve_of_codes
    monkeypatch.setattr(main_window, "bic_curve_of_codes", lambda codes: fits.append(len(codes)) or fit(codes))
    session.colouring.set_bic({})  # as after opening a run with K chosen by hand
    qtbot.mouseClick(window.controls.bic, Qt.MouseButton.LeftButton)
    assert session.tasks.running("bic-curve"), "the curve is fitted in a task"
    qtbot.waitUntil(lambda: getattr(window, "bic_dialog", None) is not None, timeout=60_000)
    curve = session.colouring.bic
    assert sorted(curve) == list(range(1, 16)) and all(np.isfinite(list(curve.values())))
    assert fits == [len(session.opened.mu)]
    first = window.bic_dialog
    qtbot.mouseClick(window.controls.bic, Qt.MouseButton.LeftButton)
    assert window.bic_dialog is not first and fits == [len(session.opened.mu)]  # the kept curve


def test_the_window_opens_whole_on_a_small_screen(window):
    from PySide6.QtCore import QRect, QSize

    from latentexplorer.gui.widgets.window_size import default_window_size

    class Laptop:
        def availableGeometry(self):
            return QRect(0, 0, 1366, 740)

    small = default_window_size(Laptop(), platform="xcb")
    assert small.width() <= 1366 and small.height() <= 740 and small.width() > 1200

    class Large:
        def availableGeometry(self):
            return QRect(0, 0, 2560, 1400)

    assert (default_window_size(Large(), platform="xcb").width(), default_window_size(Large(), platform="xcb").height()) == (1480, 900)
    assert default_window_size(window.screen()) == QSize(1480, 900)  # offscreen: the preferred size
