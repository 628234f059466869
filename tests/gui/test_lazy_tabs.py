"""The tabs besides the Explorer are built on first show or access, not with the window, and a
tab built late shows the run open by then."""

from __future__ import annotations

from PySide6.QtCore import Qt

from latentexplorer.bundled import bundled_run
from latentexplorer.gui.main_window import LAZY_TABS

LEFT = Qt.MouseButton.LeftButton


def _built(window) -> set[str]:
    return set(window.lazy_tabs.built())


def test_no_heavy_tab_is_built_with_the_window(window):
    assert _built(window) == set()
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Explorer", *LAZY_TABS.values()]
    assert window.tabs.currentIndex() == 0


def test_clicking_a_tab_builds_only_that_tab_and_shows_it(window, qtbot):
    bar = window.tabs.tabBar()
    qtbot.mouseClick(bar, LEFT, pos=bar.tabRect(3).center())  # Clustering
    assert _built(window) == {"clustering"}
    tab = window.lazy_tabs.get("clustering")
    assert window.tabs.currentWidget() is tab and window.tabs.indexOf(tab) == 3
    assert window.tabs.tabText(3) == "Clustering"
    qtbot.waitUntil(lambda: tab.isVisible() and tab.stepper is not None)
    assert window.clustering is tab  # built once


def test_access_builds_the_tab_without_showing_it(window):
    training = window.training
    assert _built(window) == {"training"}
    assert window.tabs.currentIndex() == 0 and not training.isVisible()
    assert window.tabs.indexOf(training) == 1 and window.tabs.tabText(1) == "Training"


def test_a_tab_built_after_another_run_opened_shows_that_run(window, qtbot):
    assert window.open_run(bundled_run("digits-ae-2d"))
    evaluation = window.evaluation
    assert "autoencoder has no ELBO" in evaluation.explanation.text()
    assert not evaluation.evaluate_button.isEnabled()
    training = window.training
    run = window.session.opened.run
    assert run.history and f"Curves of {run.name}" in training.progress_text.text()


def test_closing_with_no_tab_built_builds_none(window):
    window.close()
    assert _built(window) == set()
