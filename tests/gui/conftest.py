"""Fixtures for the explorer's GUI tests: a session on the bundled digits VAE and the main
window, shown (offscreen) and driven through its real widgets.

QSettings (recent runs, window geometry) never touch the user's configuration: every
test process writes them under a temporary folder, with its own organisation name.

BLAS runs single-threaded here: the mixtures are fitted with many tiny matrix solves, and on a
busy 2-core machine OpenBLAS's waiting threads make each one ~10× slower (a window opening in
3 s instead of 0.3 s).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication, QSettings
from threadpoolctl import threadpool_limits

from latentexplorer.bundled import bundled_run
from latentexplorer.gui.main_window import MainWindow
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
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=10_000):
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
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=20_000):
        assert window.session.open_run(bundled_run("sprites-betavae"), images=make_sprites(2000, size=32))
    qtbot.wait(10)
    yield window
    window.session.shutdown()
    window.close()
