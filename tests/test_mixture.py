"""Clusters of latent codes: GMM/k-means fits, BIC, stable colours, blends, ellipses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from latentexplorer.analysis.mixture import (
    PALETTE,
    MixtureFit,
    blend_colours,
    choose_k,
    ellipse,
    entropy,
    fit_gmm,
    fit_kmeans,
    hard_colours,
    match_components,
    palette,
    scalar_colours,
    stable_colour_indices,
)

CENTRES = np.array([[0.0, 0.0, 0.0], [8.0, 0.0, 0.0], [0.0, 8.0, 0.0]])


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(3), 200)
    return CENTRES[truth] + rng.normal(size=(600, 3)), truth


@pytest.fixture(scope="module")
def gmm(blobs) -> MixtureFit:
    return fit_gmm(blobs[0], 3, seed=0)


def test_gmm_recovers_three_blobs(blobs, gmm):
    codes, truth = blobs
    assert gmm.kind == "gmm" and gmm.k == 3
    assert gmm.means.shape == (3, 3) and gmm.covariances.shape == (3, 3, 3)
    assert gmm.responsibilities.shape == (600, 3) and gmm.responsibilities.dtype == np.float32
    np.testing.assert_allclose(gmm.responsibilities.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(gmm.weights.sum(), 1.0)
    assert adjusted_rand_score(truth, gmm.labels) > 0.95
    assert gmm.bic is not None and gmm.log_likelihood is not None


def test_choose_k_picks_three(blobs):
    k, curve = choose_k(blobs[0], ks=range(1, 7), seed=0)
    assert k == 3
    assert sorted(curve) == [1, 2, 3, 4, 5, 6]
    assert curve[3] == min(curve.values())


def test_bic_curve_subsamples_big_sets(blobs):
    from latentexplorer.analysis.mixture import bic_curve

    curve = bic_curve(blobs[0], ks=[2, 3], max_points=300)
    assert curve[3] < curve[2]


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "tied"])
def test_gmm_covariances_are_always_full(blobs, covariance_type):
    fit = fit_gmm(blobs[0], 3, covariance_type=covariance_type)
    assert fit.covariances.shape == (3, 3, 3)
    np.testing.assert_allclose(fit.covariances, np.swapaxes(fit.covariances, 1, 2))


def test_kmeans_is_one_hot_with_member_covariances(blobs):
    codes, truth = blobs
    fit = fit_kmeans(codes, 3, seed=0)
    assert fit.kind == "kmeans" and fit.bic is None and fit.log_likelihood is None
    assert set(np.unique(fit.responsibilities)) == {0.0, 1.0}
    np.testing.assert_array_equal(fit.responsibilities.sum(1), 1.0)
    np.testing.assert_array_equal(fit.entropy(), 0.0)
    assert adjusted_rand_score(truth, fit.labels) > 0.95
    for c in range(3):
        members = codes[fit.labels == c]
        expected = np.cov(members, rowvar=False, bias=True) + 1e-6 * np.eye(3)
        np.testing.assert_allclose(fit.covariances[c], expected, atol=1e-9)
    np.testing.assert_allclose(fit.weights, np.bincount(fit.labels) / 600)


def test_too_many_components_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot fit 5 components to 3 codes"):
        fit_gmm(np.zeros((3, 2)), 5)


def test_reordered_permutes_everything(gmm):
    order = [2, 0, 1]
    r = gmm.reordered(order)
    np.testing.assert_array_equal(r.means, gmm.means[order])
    np.testing.assert_array_equal(r.covariances, gmm.covariances[order])
    np.testing.assert_array_equal(r.weights, gmm.weights[order])
    np.testing.assert_array_equal(r.responsibilities, gmm.responsibilities[:, order])
    with pytest.raises(ValueError):
        gmm.reordered([0, 0, 1])


def test_match_components_recovers_a_known_permutation():
    rng = np.random.default_rng(1)
    previous = rng.normal(size=(6, 4)) * 10
    shuffle = rng.permutation(6)
    new = previous[shuffle] + rng.normal(size=(6, 4)) * 0.1
    order = match_components(previous, new)
    np.testing.assert_allclose(new[order], previous, atol=1.0)
    np.testing.assert_array_equal(shuffle[order], np.arange(6))


def test_match_components_when_k_changes():
    previous = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    grown = np.array([[5.0, 5.0], [0.1, 10.0], [0.0, 0.1], [10.0, 0.1]])  # one new in front
    np.testing.assert_array_equal(match_components(previous, grown), [2, 3, 1, 0])
    shrunk = np.array([[0.0, 9.9], [0.1, 0.0]])  # the cluster at (10, 0) vanished
    np.testing.assert_array_equal(match_components(previous, shrunk), [1, 0])


def test_stable_colours_survive_k_growing_and_shrinking():
    previous = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    colours = np.array([0, 1, 2])
    grown = np.array([[5.0, 5.0], [0.1, 10.0], [0.0, 0.1], [10.0, 0.1]])
    grown_colours = stable_colour_indices(previous, colours, grown)
    np.testing.assert_array_equal(grown_colours, [3, 2, 0, 1])  # matched keep, new gets 3

    # 4 → 3: the cluster coloured 0 disappears; the others keep theirs.
    shrunk = np.array([[10.0, 0.0], [5.0, 5.2], [0.0, 10.0]])
    shrunk_colours = stable_colour_indices(grown, grown_colours, shrunk)
    np.testing.assert_array_equal(shrunk_colours, [1, 3, 2])

    # 3 → 4 again: the freed colour 0 is the smallest unused one.
    regrown = np.vstack([shrunk, [[-5.0, -5.0]]])
    np.testing.assert_array_equal(
        stable_colour_indices(shrunk, shrunk_colours, regrown), [1, 3, 2, 0]
    )


def test_palette_is_okabe_ito_first_and_cycles():
    assert PALETTE.shape[0] >= 12 and PALETTE.shape[1] == 3 and PALETTE.dtype == np.uint8
    np.testing.assert_array_equal(PALETTE[0], [0xE6, 0x9F, 0x00])
    np.testing.assert_array_equal(PALETTE[6], [0xCC, 0x79, 0xA7])
    assert len({tuple(c) for c in PALETTE.tolist()}) == len(PALETTE)
    cycled = palette(len(PALETTE) + 2)
    np.testing.assert_array_equal(cycled[-2:], PALETTE[:2])
    assert palette(0).shape == (0, 3)


def test_soft_colours_mix_between_components_and_match_at_means():
    rng = np.random.default_rng(2)
    codes = np.vstack([rng.normal(size=(200, 2)) + [-3, 0], rng.normal(size=(200, 2)) + [3, 0]])
    codes = np.vstack([codes, [[0.0, 0.0]]])  # the midway code is the last one
    fit = fit_gmm(codes, 2, seed=0)
    colours = palette(2)
    soft = blend_colours(fit.responsibilities, colours)
    hard = hard_colours(fit.labels, colours)
    assert soft.shape == hard.shape == (401, 4) and soft.dtype == hard.dtype == np.uint8
    mid = -1
    assert fit.responsibilities[mid].min() > 0.3
    assert np.abs(soft[mid, :3].astype(int) - hard[mid, :3]).max() > 40
    assert soft[mid, 3] < 200
    near_mean = np.argmin(np.linalg.norm(codes - fit.means[0], axis=1))
    assert np.abs(soft[near_mean].astype(int) - hard[near_mean]).max() <= 2


def test_alpha_fades_with_entropy():
    resp = np.array([[1.0, 0.0, 0.0], [0.8, 0.1, 0.1], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    rgba = blend_colours(resp, palette(3), min_alpha=0.25)
    alpha = rgba[:, 3].astype(int)
    assert alpha[0] == 255 and alpha[-1] == round(0.25 * 255)
    assert np.all(np.diff(alpha) < 0)
    np.testing.assert_array_equal(blend_colours(resp, palette(3), fade_uncertain=False)[:, 3], 255)
    np.testing.assert_array_equal(blend_colours(np.ones((5, 1)), palette(1))[:, 3], 255)
    np.testing.assert_array_equal(blend_colours(resp[:1], palette(3))[0, :3], PALETTE[0])


def test_entropy_in_nats():
    resp = np.array([[1.0, 0.0], [0.5, 0.5]])
    np.testing.assert_allclose(entropy(resp), [0.0, math.log(2)])


def test_blend_colours_on_a_million_points():
    resp = np.random.default_rng(3).random((1_000_000, 10), dtype=np.float32)
    resp /= resp.sum(1, keepdims=True)
    rgba = blend_colours(resp, palette(10))
    assert rgba.shape == (1_000_000, 4) and rgba.dtype == np.uint8


def test_scalar_colours_are_viridis_and_nan_safe():
    rgba = scalar_colours(np.array([0.0, 0.5, 1.0, np.nan, np.inf]))
    assert rgba.shape == (5, 4) and rgba.dtype == np.uint8
    np.testing.assert_array_equal(rgba[0], [68, 1, 84, 255])
    np.testing.assert_array_equal(rgba[2], [253, 231, 37, 255])
    np.testing.assert_array_equal(rgba[1], [33, 145, 140, 255])
    assert rgba[3, 3] < 255 and rgba[4, 3] < 255
    assert scalar_colours(np.full(3, 7.0)).shape == (3, 4)
    assert scalar_colours(np.full(3, np.nan)).shape == (3, 4)


def test_ellipse_semi_axes():
    poly = ellipse(np.array([1.0, -1.0]), np.diag([4.0, 1.0]), 1.0, points=129)
    assert poly.shape == (129, 2)
    np.testing.assert_array_equal(poly[0], poly[-1])
    offset = poly - [1.0, -1.0]
    np.testing.assert_allclose(np.abs(offset[:, 0]).max(), 2.0)
    np.testing.assert_allclose(np.abs(offset[:, 1]).max(), 1.0)
    np.testing.assert_allclose((offset[:, 0] / 2) ** 2 + offset[:, 1] ** 2, 1.0)
    np.testing.assert_allclose(
        np.abs(ellipse(np.zeros(2), np.diag([4.0, 1.0]), 2.0, points=65)).max(), 4.0
    )


def test_ellipse_is_robust_to_singular_covariances():
    flat = ellipse(np.zeros(2), np.array([[1.0, 1.0], [1.0, 1.0]]), 1.0)
    assert np.all(np.isfinite(flat))
    np.testing.assert_allclose(flat[:, 0], flat[:, 1], atol=1e-12)  # a segment on the diagonal
    point = ellipse(np.array([3.0, 4.0]), np.zeros((2, 2)), 2.0)
    np.testing.assert_allclose(point, np.tile([3.0, 4.0], (64, 1)))
    broken = ellipse(np.zeros(2), np.array([[np.nan, 0.0], [0.0, -1e-12]]), 1.0)
    assert np.all(np.isfinite(broken))


def test_a_large_set_is_fitted_on_a_subset_and_every_code_is_assigned():
    from latentexplorer.analysis.mixture import fit_gmm, fit_kmeans

    rng = np.random.default_rng(3)
    centres = np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0]])
    truth = rng.integers(0, 3, 120_000)
    codes = centres[truth] + rng.normal(0, 0.7, (len(truth), 2))
    for fit in (fit_gmm(codes, 3, max_fit=5_000), fit_kmeans(codes, 3, max_fit=5_000)):
        assert fit.fitted_on == 5_000
        assert fit.responsibilities.shape == (120_000, 3)
        # each true cluster maps to one component, for every code (not just the subset)
        labels = fit.labels
        majority = np.array([np.bincount(labels[truth == c]).argmax() for c in range(3)])
        assert len(set(majority.tolist())) == 3
        agreement = np.mean(labels == majority[truth])  # over all 120,000 codes
        assert agreement > 0.99
    small = fit_gmm(codes[:1_000], 3)
    assert small.fitted_on == 0  # all of them
