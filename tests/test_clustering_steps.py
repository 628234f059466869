"""k-means and EM one step at a time: run to the end from scikit-learn's starting point, they
end where scikit-learn ends; step to step, the objective only improves. Also ARI/NMI and BIC/AIC."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.mixture import GaussianMixture

from latentexplorer.analysis.cluster_quality import assignment_scores, information_criteria
from latentexplorer.analysis.clustering_steps import (
    GaussianMixtureStepper,
    KMeansStepper,
    seeded_centres,
    seeded_mixture,
)
from latentexplorer.analysis.mixture import bic_curve


@pytest.fixture(scope="module")
def digits_codes() -> tuple[np.ndarray, np.ndarray]:
    """μ of the bundled digits VAE (2-D latent) for all 1,797 digits, and their labels."""
    from latentexplorer.analysis.evaluation import encode_all
    from latentexplorer.bundled import bundled_run
    from latentexplorer.checkpoint import load_run
    from latentexplorer.data import load_dataset

    run = load_run(bundled_run("digits-vae-2d"))
    images = load_dataset(run.config.data)
    mu, _ = encode_all(run.model.eval(), images)
    return mu.astype(np.float64), images.labels


def blobs(seed: int) -> np.ndarray:
    x, _ = make_blobs(500, centers=4, n_features=2 + seed % 2, cluster_std=1.6, random_state=seed)
    return x


DATASETS = [pytest.param(("blobs", s), id=f"blobs-{s}") for s in (0, 1, 2)] + [
    pytest.param(("digits", 0), id="digits-vae")
]


@pytest.fixture(params=DATASETS)
def points(request) -> np.ndarray:
    kind, seed = request.param
    return request.getfixturevalue("digits_codes")[0] if kind == "digits" else blobs(seed)


@pytest.mark.parametrize("k", [3, 6])
def test_kmeans_converges_to_sklearn_lloyd(points, k):
    stepper = KMeansStepper.seeded(points, k, seed=k)
    final = stepper.run()
    reference = KMeans(k, init=stepper.initial_centres, n_init=1, algorithm="lloyd").fit(points)
    assert final.converged
    assert final.iteration == reference.n_iter_
    np.testing.assert_allclose(final.centres, reference.cluster_centers_, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(final.labels, reference.labels_)
    assert final.inertia == pytest.approx(reference.inertia_, rel=1e-10)


@pytest.mark.parametrize("k", [3, 5])
def test_em_converges_to_sklearn_gaussian_mixture(points, k):
    tol = 1e-5
    weights, means, covariances = seeded_mixture(points, k, seed=k)
    stepper = GaussianMixtureStepper(points, weights, means, covariances, tol=tol)
    final = stepper.run()
    reference = GaussianMixture(
        k, covariance_type="full", weights_init=weights, means_init=means,
        precisions_init=np.linalg.inv(covariances), max_iter=1000, tol=tol, reg_covar=1e-6,
    ).fit(points)
    assert final.converged and reference.converged_
    assert final.iteration == reference.n_iter_
    np.testing.assert_allclose(final.means, reference.means_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(final.covariances, reference.covariances_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(final.weights, reference.weights_, rtol=0, atol=1e-9)
    assert final.lower_bound == pytest.approx(reference.lower_bound_, abs=1e-10)
    assert final.log_likelihood == pytest.approx(reference.score(points), abs=1e-10)
    np.testing.assert_allclose(final.responsibilities, reference.predict_proba(points), atol=1e-8)


def test_kmeans_inertia_never_increases(points):
    stepper = KMeansStepper.seeded(points, 8, seed=3)
    stepper.run()
    steps = np.array(stepper.history)
    assert len(steps) >= 2
    assert np.all(np.diff(steps) <= 1e-9 * steps[0])


def test_em_log_likelihood_never_decreases(points):
    stepper = GaussianMixtureStepper.seeded(points, 6, seed=1, tol=1e-8)
    stepper.run(max_iter=60)
    steps = np.array(stepper.history)
    assert len(steps) >= 5
    assert np.all(np.diff(steps) >= -1e-12)


def test_one_step_is_one_assignment_and_one_update():
    x = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 2.0], [4.0, 0.0]])
    stepper = KMeansStepper(x, [[0.0, 0.0], [9.0, 0.0]])
    state = stepper.step()
    assert state.iteration == 1 and not state.converged
    np.testing.assert_array_equal(state.labels, [0, 0, 1, 1, 0])
    np.testing.assert_allclose(state.centres, [[4 / 3, 1 / 3], [10.0, 1.0]])
    assert state.inertia == pytest.approx(((x - state.centres[state.labels]) ** 2).sum())
    assert stepper.history == [state.inertia]
    assert stepper.step().converged  # the assignment no longer changes
    iteration = stepper.iteration
    assert stepper.step().iteration == iteration  # nothing left to do


def test_an_emptied_cluster_takes_the_farthest_point_as_sklearn_does():
    x = np.array([[0.0], [1.0], [2.0], [20.0]])
    centres = np.array([[1.0], [100.0], [50.0]])  # clusters 1 and 2 start empty
    stepper = KMeansStepper(x, centres, tol=0)
    final = stepper.run()
    reference = KMeans(3, init=centres, n_init=1, algorithm="lloyd", tol=0).fit(x)
    np.testing.assert_allclose(np.sort(final.centres.ravel()), np.sort(reference.cluster_centers_.ravel()))
    assert final.inertia == pytest.approx(reference.inertia_)


def test_em_responsibilities_are_the_posterior_of_the_components():
    from scipy.stats import multivariate_normal

    x = blobs(0)
    weights, means, covariances = seeded_mixture(x, 3, seed=0)
    state = GaussianMixtureStepper(x, weights, means, covariances).state
    joint = np.stack([w * multivariate_normal(m, c).pdf(x) for w, m, c in zip(weights, means, covariances)], 1)
    np.testing.assert_allclose(state.responsibilities, joint / joint.sum(1, keepdims=True), atol=1e-10)
    assert state.log_likelihood == pytest.approx(np.log(joint.sum(1)).mean())
    assert state.iteration == 0 and state.lower_bound == -math.inf


def test_seeded_starts_repeat_and_share_their_centres():
    x = blobs(1)
    np.testing.assert_array_equal(seeded_centres(x, 4, 7), seeded_centres(x, 4, 7))
    assert not np.array_equal(seeded_centres(x, 4, 7), seeded_centres(x, 4, 8))
    weights, means, covariances = seeded_mixture(x, 4, 7)
    np.testing.assert_array_equal(means, KMeansStepper.seeded(x, 4, 7).initial_centres)
    assert weights.sum() == pytest.approx(1.0)
    assert np.all(np.linalg.eigvalsh(covariances) > 0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: KMeansStepper.seeded(x, 0), "at least 1"),
        (lambda x: KMeansStepper.seeded(x[:3], 4), "cannot make 4 clusters of 3 points"),
        (lambda x: KMeansStepper(np.vstack([x, [np.nan, 0]]), x[:2]), "NaN"),
        (lambda x: GaussianMixtureStepper(x, [0.5, 0.6], x[:2], np.stack([np.eye(2)] * 2)), "sum to 1"),
        (lambda x: GaussianMixtureStepper(x, [0.5, 0.5], x[:2], np.zeros((2, 2, 2))), "ill-defined"),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call(blobs(0))


# --- quality -----------------------------------------------------------------------------


def test_ari_and_nmi_are_sklearns(digits_codes):
    codes, labels = digits_codes
    assignment = KMeansStepper.seeded(codes, 10, seed=0).run().labels
    scores = assignment_scores(labels, assignment)
    assert scores.ari == pytest.approx(adjusted_rand_score(labels, assignment), abs=1e-15)
    assert scores.nmi == pytest.approx(normalized_mutual_info_score(labels, assignment), abs=1e-15)
    assert 0.2 < scores.ari < 1.0  # a 2-D VAE separates digits partly
    perfect = assignment_scores(labels, (labels + 3) % 10)  # renamed clusters score 1
    assert perfect.ari == pytest.approx(1.0) and perfect.nmi == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one label per"):
        assignment_scores(labels[:-1], assignment)


def test_bic_and_aic_per_k_are_sklearns():
    x, _ = make_blobs(300, centers=4, n_features=2, cluster_std=0.5, random_state=2)
    criteria = information_criteria(x, range(1, 7), seed=0)
    assert criteria.fitted_on == criteria.total == len(x) and not criteria.subsampled
    for k, bic, aic in zip(criteria.ks, criteria.bic, criteria.aic):
        reference = GaussianMixture(int(k), covariance_type="full", random_state=0).fit(x)
        assert bic == pytest.approx(reference.bic(x), rel=1e-9)
        assert aic == pytest.approx(reference.aic(x), rel=1e-9)
    assert criteria.best_bic_k == 4  # four blobs
    assert criteria.best_aic_k == int(criteria.ks[np.argmin(criteria.aic)])
    assert bic_curve(x, range(1, 7)) == dict(zip(criteria.ks.tolist(), criteria.bic.tolist()))


def test_criteria_of_many_points_use_a_seeded_subset():
    x = blobs(0)
    criteria = information_criteria(x, [1, 2], seed=5, max_points=200)
    assert criteria.fitted_on == 200 and criteria.total == 500 and criteria.subsampled
    again = information_criteria(x, [1, 2], seed=5, max_points=200)
    np.testing.assert_array_equal(criteria.bic, again.bic)
    with pytest.raises(ValueError, match="none of K"):
        information_criteria(x[:2], [5, 6])


def test_the_clustering_core_never_imports_qt():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import latentexplorer.analysis.clustering_steps, latentexplorer.analysis.cluster_quality\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
