"""The app's start-up: the window paints the bundled model's points first (grey), the GMM
colours follow from a worker thread, and what the first picture does not need (scikit-learn,
torch's training warm-up) is neither imported nor run for it."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import numpy as np
import pytest

from latentexplorer.analysis import mixture as mix
from latentexplorer.bundled import bundled_run
from latentexplorer.gui import app as app_module
from latentexplorer.gui.app import REPORT_READY_ENV, StartupSequence, start_window
from latentexplorer.gui.main_window import MainWindow
from latentexplorer.gui.state.session import Session

GREY = 90  # the session's colour for points not coloured yet


def app_env(tmp_path, **extra: str) -> dict[str, str]:
    """Offscreen Qt; settings and logs under tmp_path, never the user's."""
    return {
        **os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"), "LATENTEXPLORER_LOG_DIR": str(tmp_path / "log"),
        **extra,
    }


@pytest.fixture
def app_window(qtbot):
    """The window as `latentexplorer` starts it: shown, on the bundled digits VAE."""
    window = start_window()
    qtbot.addWidget(window)
    yield window
    window.session.shutdown()
    window.close()
    gc.unfreeze()  # start_window froze the heap; later tests' garbage must stay collectable


def coloured(window) -> bool:
    return window.session.colouring.mixture is not None


def test_the_points_appear_grey_then_in_the_gmm_colours(app_window, qtbot):
    session = app_window.session
    assert session.opened.has_run and len(session.view.xy) == 1797
    assert session.colouring.mixture is None and not session.fitting, "nothing is fitted before the first picture"
    assert (session.colouring.colours[:, :3] == GREY).all()
    assert not app_window.startup.painted
    qtbot.waitUntil(lambda: app_window.startup.painted, timeout=20_000)
    qtbot.waitUntil(lambda: coloured(app_window), timeout=60_000)
    assert session.colouring.mixture.k == session.colouring.k
    expected = mix.blend_colours(session.colouring.mixture.responsibilities, session.colouring.component_colours())
    np.testing.assert_array_equal(session.colouring.colours, expected)
    assert app_window.scatter.legend.count() == session.colouring.mixture.k
    assert app_window.startup.coloured


def test_the_deferred_fit_is_the_synchronous_one(app_window, session, qtbot):
    """`session` (the fixture) opened the same run through the API, fitted at once."""
    qtbot.waitUntil(lambda: coloured(app_window), timeout=60_000)
    deferred = app_window.session.colouring.mixture
    np.testing.assert_allclose(deferred.means, session.colouring.mixture.means, atol=1e-6)
    np.testing.assert_array_equal(deferred.labels, session.colouring.mixture.labels)


def test_a_window_that_never_paints_is_coloured_all_the_same(qtbot, monkeypatch):
    monkeypatch.setattr(app_module, "FIT_FALLBACK_MS", 100)  # the fallback's delay, not 2 s of waiting
    window = MainWindow()  # never shown
    qtbot.addWidget(window)
    assert window.session.open_run(bundled_run(), fit=False)
    startup = StartupSequence(window)
    qtbot.waitUntil(lambda: coloured(window), timeout=60_000)
    assert startup.coloured and not startup.painted
    window.session.shutdown()
    gc.unfreeze()


def test_background_fits_release_their_workers(qapp, qtbot):
    session = Session()
    assert session.open_run(bundled_run(), fit=False)
    assert session.colouring.mixture is None and (session.colouring.colours[:, :3] == GREY).all()
    for _ in range(3):
        with qtbot.waitSignal(session.colouring.coloursChanged, timeout=60_000):
            session.refit(background=True)
    assert not session.fitting
    qtbot.waitUntil(lambda: not session.tasks.running(), timeout=5_000)
    session.shutdown()


def test_the_training_warm_up_waits_for_the_training_tab(app_window, qtbot):
    warm_up = app_window.training.warmed_up
    qtbot.waitUntil(lambda: coloured(app_window), timeout=60_000)
    assert not warm_up.started
    app_window.tabs.setCurrentWidget(app_window.training)
    assert warm_up.started
    assert warm_up.wait(120)


def test_the_first_picture_imports_no_scikit_learn(tmp_path):
    code = (
        "import sys\n"
        "from latentexplorer.gui.app import create_app\n"
        "from latentexplorer.gui.main_window import MainWindow\n"
        "from latentexplorer.bundled import bundled_run\n"
        "app = create_app()\n"
        "window = MainWindow()\n"
        "window.show()\n"
        "assert window.session.open_run(bundled_run(), fit=False)\n"
        "window.repaint()\n"
        "print(sorted(m for m in ('sklearn', 'scipy.stats', 'torch._dynamo') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=app_env(tmp_path), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize("args", [[], ["gui", "digits-ae-2d"]], ids=["bundled", "run-named"])
def test_the_app_reports_ready_then_coloured_and_quits(tmp_path, args):
    """The hook benchmarks/startup.py and memory.py read: `latentexplorer` as a user starts it,
    on the bundled model (fitted after the first picture) or on a run it names (fitted first)."""
    args = [str(bundled_run(a)) if a.startswith("digits") else a for a in args]
    result = subprocess.run([sys.executable, "-m", "latentexplorer", *args],
                            env=app_env(tmp_path, **{REPORT_READY_ENV: "1"}),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    events = [line.split() for line in result.stdout.splitlines() if line.startswith(("ready", "coloured"))]
    assert [e[0] for e in events] == ["ready", "coloured"]
    assert float(events[0][1]) <= float(events[1][1])
    assert int(events[1][2]) > 0  # peak RSS in bytes


def test_the_digits_read_without_scikit_learn_are_its_digits():
    from sklearn.datasets import load_digits as sklearn_digits

    from latentexplorer.data.digits import load_digits

    ours, reference = load_digits(), sklearn_digits()
    expected = np.clip(np.rint(reference.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)[:, None]
    np.testing.assert_array_equal(ours.images, expected)
    np.testing.assert_array_equal(ours.labels, reference.target)
