"""Fixtures for the explorer's GUI tests: a session on the bundled digits VAE and the main
window, shown (offscreen) and driven through its real widgets.

QSettings (recent runs, window geometry) never touch the user's configuration: every
test process writes them under a temporary folder, with its own organisation name.

BLAS runs single-threaded here: the mixtures are fitted with many tiny matrix solves, and on a
busy 2-core machine OpenBLAS's waiting threads make each one ~10× slower (a window opening in
3 s instead of 0.3 s).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib

import pytest
from PySide6.QtCore import QCoreApplication, QSettings
from threadpoolctl import threadpool_limits

from latentexplorer.analysis import mixture as mix
from latentexplorer.bundled import bundled_run
from latentexplorer.gui.main_window import MainWindow
from latentexplorer.gui.state import session as session_module
from latentexplorer.gui.state.session import Session

SETTINGS_ORGANISATION = "LatentExplorerTests"


@pytest.fixture(scope="session", autouse=True)
def _private_settings(tmp_path_factory):
    """Send every QSettings write of the GUI tests to a temporary folder."""
    folder = tmp_path_factory.mktemp("qsettings")
    organisation = QCoreApplication.organizationName()
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(folder))
    QCoreApplication.setOrganizationName(SETTINGS_ORGANISATION)
    yield folder
    QCoreApplication.setOrganizationName(organisation)


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_blas():
    """Overrides the top-level fixture of this name for the GUI tests, so it must load scipy's
    own OpenBLAS itself before setting the limit: a library loaded later keeps its two threads
    (scikit-learn's GMM fits, with a tiny scipy.linalg.solve_triangular per component and EM
    step, took 8 ms per solve on a busy 2-core machine: a window opening in 3-5 s, not 0.5 s)."""
    import scipy.linalg  # noqa: F401

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def settings_folder(_private_settings):
    return _private_settings


@pytest.fixture
def session(qapp):
    """A Session (no window) opened on the bundled digits VAE (2-D latent, 1,797 items)."""
    s = Session()
    assert s.open_run(bundled_run("digits-vae-2d")), "the bundled run must open"
    yield s
    s.shutdown()


_kept_fits: dict[tuple, object] = {}


@contextlib.contextmanager
def fits_kept_across_tests():
    """While a window fixture opens its run: a mixture fit of codes that an earlier fixture
    fitted already is a copy of that fit, not a new one (~0.1 s of EM per window).

    The fits are seeded (EM and k-means), so the copy is what a new fit returns, array for
    array; the key is the codes' exact bytes, K, K-by-BIC and what else a fit depends on (the
    subset size, and the fitting functions, should a test have replaced one). Only the
    fixtures' own opening goes through it: a test that opens a run, changes K or refits fits
    for real, and so do the `session` fixture and the app's start-up tests (test_startup.py)."""
    real = session_module.fit_mixtures

    def kept(codes, k, auto_k, native_threads=None):
        key = (codes.dtype.str, codes.shape, hashlib.blake2b(codes.tobytes()).digest(), k, auto_k,
               real, mix.FIT_SUBSET, mix.fit_gmm, mix.fit_kmeans, mix.choose_k)
        if key not in _kept_fits:
            _kept_fits[key] = real(codes, k, auto_k, native_threads)
        return copy.deepcopy(_kept_fits[key])

    session_module.fit_mixtures = kept
    try:
        yield
    finally:
        session_module.fit_mixtures = real


@pytest.fixture
def kept_fits():
    """`fits_kept_across_tests`, for the window fixtures of test modules."""
    return fits_kept_across_tests


def _shown_window(qtbot) -> MainWindow:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def window(qtbot):
    """The main window, shown and exposed, opened (through the window) on digits-vae-2d.

    Its views listen to `window.session` from the start, as in the app's own start-up
    (app.main builds the window first, then opens the run)."""
    window = _shown_window(qtbot)
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=10_000), fits_kept_across_tests():
        assert window.open_run(bundled_run("digits-vae-2d"))
    qtbot.wait(10)
    yield window
    window.session.shutdown()
    window.close()


@pytest.fixture
def sprites_window(qtbot):
    """The main window on the bundled β-VAE (8-D latent) with 2,000 generated sprites
    instead of the 100,000 of its config (opening those would take long)."""
    from latentexplorer.data.sprites import make_sprites

    window = _shown_window(qtbot)
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=20_000), fits_kept_across_tests():
        assert window.session.open_run(bundled_run("sprites-betavae"), images=make_sprites(2000, size=32))
    qtbot.wait(10)
    yield window
    window.session.shutdown()
    window.close()


@pytest.fixture
def strokes_window(qtbot, kept_fits):
    """The main window on the bundled sequence VAE (pen trajectories, 4-D latent)."""
    window = _shown_window(qtbot)
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=20_000), kept_fits():
        assert window.open_run(bundled_run("strokes-seqvae"))
    yield window
    window.session.shutdown()
    window.close()
