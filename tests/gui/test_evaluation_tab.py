"""The ELBO tab on the real main window: evaluate, cancel, and what an autoencoder shows."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from latentexplorer.bundled import bundled_run
from latentexplorer.gui.evaluation.evaluation_tab import EvaluationTab


def _tab(window) -> EvaluationTab:
    tab = window.evaluation  # built on first access
    assert window.findChild(EvaluationTab, "evaluationTab") is tab
    window.tabs.setCurrentWidget(tab)
    return tab


def _set_inputs(qtbot, tab: EvaluationTab, items: int, ks: str) -> None:
    tab.items.setValue(items)
    tab.ks.clear()
    qtbot.keyClicks(tab.ks, ks)


def _table(tab: EvaluationTab) -> dict[str, float]:
    return {tab.table.item(i, 0).text(): float(tab.table.item(i, 1).text().split(" ± ")[0])
            for i in range(tab.table.rowCount())}


def test_evaluate_plots_a_bound_that_rises_with_k_above_the_elbo(window, qtbot):
    tab = _tab(window)
    assert tab.evaluate_button.isEnabled() and not tab.explanation.isVisible()
    _set_inputs(qtbot, tab, 60, "1, 10, 100, 1000")
    with qtbot.waitSignal(tab.evaluated, timeout=60_000) as blocker:
        qtbot.mouseClick(tab.evaluate_button, Qt.MouseButton.LeftButton)
        assert tab.cancel_button.isEnabled() and not tab.evaluate_button.isEnabled()
    curve = blocker.args[0].curve
    ks, bound = tab.bound_points.getOriginalDataset()
    assert list(ks) == [1, 10, 100, 1000] and len(bound) == 4
    se = np.array(curve.bound_se)
    assert np.all(np.diff(bound) > -2 * se[1:])  # rises with k, within the standard error
    assert bound[-1] > bound[0]
    table = _table(tab)
    assert table["ELBO"] < table["IWAE k=1000"]
    assert table["ELBO"] == pytest.approx(table["reconstruction E_q[log p(x|z)]"] - table["KL(q(z|x) ‖ p(z))"],
                                          abs=2e-3)
    assert tab.elbo_line.isVisible() and tab.elbo_line.value() == pytest.approx(curve.elbo)
    assert "of 2 units active" in tab.active_label.text()
    assert len(tab.kl_bars.opts["height"]) == 2
    assert "No ground-truth factors" in tab.scores_label.text()  # digits have labels, not factors
    assert tab.evaluate_button.isEnabled() and not tab.cancel_button.isEnabled()
    window.session.opened.codesUpdated.emit()  # a followed training run moved on to a new epoch
    assert "earlier epoch" in tab.message.text()


def test_cancel_stops_a_running_evaluation_and_the_tab_stays_usable(window, qtbot):
    tab = _tab(window)
    _set_inputs(qtbot, tab, 1797, "1, 10, 100, 1000, 10000")  # long enough to still be running
    with qtbot.waitSignal(tab.cancelled, timeout=30_000):
        qtbot.mouseClick(tab.evaluate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: tab.progress.value() > 0, timeout=30_000)
        qtbot.mouseClick(tab.cancel_button, Qt.MouseButton.LeftButton)
    assert not tab.is_running() and tab.result is None
    assert tab.evaluate_button.isEnabled() and not tab.cancel_button.isEnabled()
    assert tab.message.text() == "cancelled"
    _set_inputs(qtbot, tab, 20, "1, 10")
    with qtbot.waitSignal(tab.evaluated, timeout=30_000):
        qtbot.mouseClick(tab.evaluate_button, Qt.MouseButton.LeftButton)
    assert tab.table.rowCount() == 5  # reconstruction, KL, ELBO, IWAE k=1, IWAE k=10


def test_bad_ks_are_reported_and_nothing_starts(window, qtbot):
    tab = _tab(window)
    _set_inputs(qtbot, tab, 20, "1, 3, 10")
    qtbot.mouseClick(tab.evaluate_button, Qt.MouseButton.LeftButton)
    assert "divide" in window.last_error
    assert not tab.is_running() and tab.evaluate_button.isEnabled()


def test_autoencoder_shows_why_it_has_no_elbo_and_results_clear_on_a_new_run(window, qtbot):
    tab = _tab(window)
    _set_inputs(qtbot, tab, 20, "1, 10")
    with qtbot.waitSignal(tab.evaluated, timeout=30_000):
        qtbot.mouseClick(tab.evaluate_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=10_000):
        assert window.open_run(bundled_run("digits-ae-2d"))
    assert tab.explanation.isVisible() and "autoencoder has no ELBO" in tab.explanation.text()
    assert "zero variance" in tab.explanation.text()
    assert not tab.results.isVisible() and not tab.evaluate_button.isEnabled()
    assert tab.result is None and tab.table.rowCount() == 0
    ks, _ = tab.bound_points.getOriginalDataset()
    assert ks is None or len(ks) == 0


def test_sprites_run_shows_disentanglement_scores(sprites_window, qtbot):
    tab = _tab(sprites_window)
    _set_inputs(qtbot, tab, 20, "1, 10")
    with qtbot.waitSignal(tab.evaluated, timeout=60_000):
        qtbot.mouseClick(tab.evaluate_button, Qt.MouseButton.LeftButton)
    text = tab.scores_label.text()
    assert "MIG" in text and "SAP" in text and "DCI" in text
    factors = [tab.scores.item(i, 0).text() for i in range(tab.scores.rowCount())]
    assert factors == ["shape", "scale", "orientation", "pos_x", "pos_y"]
    assert all(tab.scores.item(i, 2).text().startswith("z") for i in range(5))
