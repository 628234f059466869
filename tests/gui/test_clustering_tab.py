"""The Clustering tab on the real main window (digits VAE): stepping k-means and EM, what the
plots and labels show, BIC/AIC in the background, and following the session."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.mixture import GaussianMixture

from latentexplorer.analysis.clustering_steps import EM_TOL, seeded_mixture
from latentexplorer.analysis.mixture import palette
from latentexplorer.bundled import bundled_run
from latentexplorer.gui.clustering import clustering_tab

LEFT = Qt.MouseButton.LeftButton


def open_tab(window, qtbot):
    bar = window.tabs.tabBar()
    index = window.tabs.indexOf(window.clustering)
    assert window.tabs.tabText(index) == "Clustering"
    qtbot.mouseClick(bar, LEFT, pos=bar.tabRect(index).center())
    tab = window.findChild(clustering_tab.ClusteringTab, "clusteringTab")
    qtbot.waitUntil(lambda: tab.isVisible() and tab.stepper is not None)
    return tab


def click(qtbot, button, times: int = 1) -> None:
    for _ in range(times):
        qtbot.mouseClick(button, LEFT)


def shown_centres(tab) -> np.ndarray:
    x, y = tab.centres.getData()
    return np.column_stack([x, y])


def shown_assignment(tab) -> np.ndarray:
    """The cluster of each drawn point, read back from its colour (k-means: one per cluster)."""
    colours = palette(tab.k.value()).astype(int)
    rgb = tab.cloud.rgba[:, :3].astype(int)
    match = (rgb[:, None, :] == colours[None, :, :]).all(axis=2)
    assert (match.sum(axis=1) == 1).all(), "every point has exactly one cluster colour"
    return match.argmax(axis=1)


def objective_points(tab) -> int:
    x, _ = tab.objective_curve.getData()
    return 0 if x is None else len(x)


def test_three_steps_of_kmeans_show_iteration_three_and_a_falling_inertia(window, qtbot):
    tab = open_tab(window, qtbot)
    assert tab.method.currentData() == "kmeans"
    np.testing.assert_allclose(tab.cloud.xy, window.session.view.xy, atol=1e-6)  # the Explorer's points
    assert "2-D codes" in tab.data_note.text() and "all 1,797 points" in tab.data_note.text()
    click(qtbot, tab.step_button, 3)
    assert tab.iteration_label.text() == "Iteration 3"
    x, inertia = tab.objective_curve.getData()
    assert list(x) == [1, 2, 3]
    assert np.all(np.diff(inertia) <= 0)
    # the same three Lloyd iterations by scikit-learn, from the same k-means++ centres
    points = window.session.view.xy.astype(np.float64)
    start, _ = kmeans_plusplus(points, 10, random_state=0)
    reference = KMeans(10, init=start, n_init=1, max_iter=3, algorithm="lloyd").fit(points)
    np.testing.assert_allclose(shown_centres(tab), reference.cluster_centers_, atol=1e-9)
    assert inertia[-1] == pytest.approx(((points - reference.cluster_centers_[shown_assignment(tab)]) ** 2).sum())
    assert len(tab.contours) == 0  # no ellipses for k-means


def test_em_run_to_convergence_ends_where_scikit_learn_ends(window, qtbot):
    tab = open_tab(window, qtbot)
    tab.method.setCurrentIndex(tab.method.findData("em"))
    tab.k.setValue(5)
    tab.seed.setValue(3)
    assert tab.iteration_label.text() == "Iteration 0"
    click(qtbot, tab.run_button)
    qtbot.waitUntil(lambda: "converged" in tab.iteration_label.text(), timeout=20_000)
    assert not tab.step_button.isEnabled() and tab.play_button.text() == "Play"
    points = window.session.view.xy.astype(np.float64)
    weights, means, covariances = seeded_mixture(points, 5, seed=3)
    reference = GaussianMixture(
        5, covariance_type="full", weights_init=weights, means_init=means,
        precisions_init=np.linalg.inv(covariances), max_iter=1000, tol=EM_TOL,
    ).fit(points)
    assert reference.converged_
    assert tab.iteration_label.text() == f"Iteration {reference.n_iter_} · converged"
    np.testing.assert_allclose(shown_centres(tab), reference.means_, atol=1e-9)
    _, loglik = tab.objective_curve.getData()
    assert len(loglik) == reference.n_iter_ and np.all(np.diff(loglik) >= -1e-12)
    assert loglik[-1] == pytest.approx(reference.score(points), abs=1e-10)
    assert len(tab.contours) == 10  # a 1σ and a 2σ ellipse per component
    # soft colours: points between components blend, so they are not all palette colours
    assert len(np.unique(tab.cloud.rgba, axis=0)) > 5


def test_ari_and_nmi_are_those_of_the_shown_assignment(window, qtbot):
    tab = open_tab(window, qtbot)
    click(qtbot, tab.step_button, 2)
    labels = window.session.opened.images.labels
    shown = shown_assignment(tab)
    ari, nmi = adjusted_rand_score(labels, shown), normalized_mutual_info_score(labels, shown)
    assert tab.scores_label.text() == f"against the true labels: ARI {ari:.3f} · NMI {nmi:.3f}"
    assert 0.1 < ari < 1


def test_play_iterates_on_its_own_and_pause_stops_it(window, qtbot):
    tab = open_tab(window, qtbot)
    tab.k.setValue(15)
    click(qtbot, tab.play_button)
    assert tab.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: tab.stepper.iteration >= 2, timeout=5_000)
    click(qtbot, tab.play_button)
    assert tab.play_button.text() == "Play" and not tab.timer.isActive()
    assert tab.iteration_label.text().startswith(f"Iteration {tab.stepper.iteration}")


def test_a_new_projection_or_run_starts_over(window, qtbot):
    tab = open_tab(window, qtbot)
    click(qtbot, tab.step_button, 3)
    window.session.set_projection("dims", (1, 0))  # axes swapped
    assert tab.iteration_label.text() == "Iteration 0"
    assert objective_points(tab) == 0
    np.testing.assert_allclose(tab.cloud.xy, window.session.view.xy, atol=1e-6)
    click(qtbot, tab.step_button, 2)
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=10_000):
        assert window.open_run(bundled_run("digits-ae-2d"))
    qtbot.waitUntil(lambda: tab.iteration_label.text() == "Iteration 0")
    assert objective_points(tab) == 0
    np.testing.assert_allclose(tab.cloud.xy, window.session.view.xy, atol=1e-6)


def test_bic_and_aic_per_k_are_fitted_in_the_background(window, qtbot):
    tab = open_tab(window, qtbot)
    click(qtbot, tab.criteria_button)
    assert tab.criteria is None and tab.criteria_running()  # the click returned at once
    assert not tab.criteria_button.isEnabled()
    qtbot.waitUntil(lambda: tab.criteria is not None, timeout=60_000)
    ks, bic = tab.bic_curve.getData()
    _, aic = tab.aic_curve.getData()
    assert list(ks) == list(range(1, 16))
    points = window.session.view.xy.astype(np.float64)
    for k in (1, 4):
        reference = GaussianMixture(k, covariance_type="full", random_state=0).fit(points)
        assert bic[k - 1] == pytest.approx(reference.bic(points), rel=1e-9)
        assert aic[k - 1] == pytest.approx(reference.aic(points), rel=1e-9)
    stars_k, stars_value = tab.criteria_minima.getData()
    assert list(stars_k) == [ks[np.argmin(bic)], ks[np.argmin(aic)]]
    assert list(stars_value) == [bic.min(), aic.min()]
    assert f"Lowest BIC at K = {int(ks[np.argmin(bic)])}" in tab.criteria_label.text()


def test_many_points_are_iterated_on_a_stated_seeded_subset(window, qtbot, monkeypatch):
    monkeypatch.setattr(clustering_tab, "MAX_POINTS", 500)
    tab = open_tab(window, qtbot)
    tab.seed.setValue(4)  # a new seed draws the subset again
    assert "a random 500 of the 1,797 points (seed 4)" in tab.data_note.text()
    assert len(tab.cloud.xy) == 500
    np.testing.assert_allclose(tab.cloud.xy, window.session.view.xy[tab.indices], atol=1e-6)
    click(qtbot, tab.step_button)
    labels = window.session.opened.images.labels[tab.indices]
    ari = adjusted_rand_score(labels, shown_assignment(tab))
    assert f"ARI {ari:.3f}" in tab.scores_label.text()


def test_too_many_clusters_is_a_clear_message_and_keeps_the_view(window, qtbot, monkeypatch):
    monkeypatch.setattr(clustering_tab, "MAX_POINTS", 12)
    tab = open_tab(window, qtbot)
    tab.seed.setValue(1)  # draws the (12-point) subset
    tab.k.setValue(5)
    with qtbot.waitSignal(window.session.errorOccurred) as blocker:
        tab.k.setValue(13)
    assert "cannot make 13 clusters of 12 points" in blocker.args[0]
    assert not tab.step_button.isEnabled()
    assert len(tab.cloud.xy) == 12  # the points are still shown


def test_the_tab_starts_its_iteration_when_first_shown(window, qtbot):
    tab = window.clustering
    assert not tab.isVisible() and tab.stepper is None  # nothing computed behind the Explorer
    # new codes while hidden (a followed training run, every epoch) are only noted
    generation = window.session.tasks.generation(clustering_tab.CRITERIA_TASK)
    window.session.opened.codesUpdated.emit()
    # BIC/AIC of the earlier points are no longer wanted
    assert window.session.tasks.generation(clustering_tab.CRITERIA_TASK) == generation + 1
    assert tab.stepper is None
    tab = open_tab(window, qtbot)
    assert len(tab.cloud.xy) == len(window.session.view.xy)  # drawn once shown
    assert tab.stepper.iteration == 0 and tab.iteration_label.text() == "Iteration 0"
    assert tab.step_button.isEnabled() and tab.run_button.isEnabled()
