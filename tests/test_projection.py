"""2-D views of the latent space: every view is linear and its inverse is exact."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import FactorAnalysis

from latentexplorer.analysis.projection import (
    PROJECTIONS,
    Projection,
    dims_projection,
    fa_projection,
    make_projection,
    pca_projection,
)


@pytest.fixture(scope="module")
def codes() -> np.ndarray:
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(5, 5)) * np.array([3.0, 2.0, 1.0, 0.5, 0.2])[:, None]
    return rng.normal(size=(400, 5)) @ mixing + rng.normal(size=5)


@pytest.mark.parametrize("kind", PROJECTIONS)
def test_round_trips(kind, codes):
    proj = make_projection(kind, codes, dims=(3, 1))
    rng = np.random.default_rng(1)
    xy = rng.normal(size=(20, 2)) * 3
    for base in [None, codes[7], rng.normal(size=5) * 4]:
        np.testing.assert_allclose(proj.transform(proj.inverse(xy, base)), xy, atol=1e-9)
        np.testing.assert_allclose(proj.transform(proj.inverse(xy[0], base)), xy[0], atol=1e-9)
        b = proj.mean if base is None else base
        np.testing.assert_allclose(proj.inverse(proj.transform(b), b), b, atol=1e-9)
    # one base per point
    bases = codes[:20]
    np.testing.assert_allclose(proj.transform(proj.inverse(xy, bases)), xy, atol=1e-9)


def test_shapes_and_dtype(codes):
    proj = pca_projection(codes)
    assert proj.transform(codes.astype(np.float32)).shape == (400, 2)
    assert proj.transform(codes).dtype == np.float64
    assert proj.transform(codes[0]).shape == (2,)
    assert proj.inverse(np.zeros(2)).shape == (5,)
    assert proj.inverse(np.zeros((3, 2))).shape == (3, 5)
    with pytest.raises(ValueError):
        proj.transform(np.zeros((3, 4)))
    with pytest.raises(ValueError):
        proj.inverse(np.zeros((3, 3)))


def test_projection_is_frozen(codes):
    proj = dims_projection(codes, 0, 1)
    with pytest.raises(AttributeError):
        proj.kind = "pca"
    with pytest.raises(ValueError):
        proj.matrix[0, 0] = 2.0


def test_dims_inverse_changes_exactly_the_two_chosen_coordinates(codes):
    proj = dims_projection(codes, 3, 1)
    assert proj.labels == ("z3", "z1")
    np.testing.assert_array_equal(proj.transform(codes), codes[:, [3, 1]])
    base = codes[11]
    z = proj.inverse(np.array([10.0, -20.0]), base)
    assert z[3] == 10.0 and z[1] == -20.0
    others = [0, 2, 4]
    np.testing.assert_array_equal(z[others], base[others])
    np.testing.assert_allclose(proj.inverse([0.5, 0.25])[others], codes.mean(0)[others])


def test_dims_errors(codes):
    with pytest.raises(ValueError, match="different"):
        dims_projection(codes, 2, 2)
    with pytest.raises(ValueError, match="out of range"):
        dims_projection(codes, 0, 5)
    with pytest.raises(ValueError, match="out of range"):
        dims_projection(codes, -1, 1)
    with pytest.raises(ValueError, match="unknown projection"):
        make_projection("tsne", codes)


def test_two_d_dims_is_identity():
    z = np.random.default_rng(2).normal(size=(50, 2))
    proj = make_projection("dims", z)
    np.testing.assert_array_equal(proj.matrix, np.eye(2))
    np.testing.assert_array_equal(proj.transform(z), z)
    p = make_projection("pca", z)  # D == 2 still works
    np.testing.assert_allclose(p.transform(p.inverse([[1.0, 2.0]])), [[1.0, 2.0]], atol=1e-9)


def test_fa_with_a_vanishing_factor_keeps_the_active_axis_exact():
    # Two factors cannot be identified in 2-D: FA zeroes the second, so its axis is always 0.
    z = np.random.default_rng(2).normal(size=(50, 2)) @ np.array([[2.0, 1.0], [0.0, 1.0]])
    p = make_projection("fa", z)
    assert p.info["active_factors"] == 1
    np.testing.assert_array_equal(p.matrix[1], 0.0)
    xy = p.transform(p.inverse([[1.0, 2.0]]))
    np.testing.assert_allclose(xy, [[1.0, 0.0]], atol=1e-9)
    np.testing.assert_allclose(p.transform(z), FactorAnalysis(2, svd_method="lapack", random_state=0).fit_transform(z))


def test_one_d_latent_falls_back_to_a_line():
    z = np.linspace(-2, 2, 30)[:, None]
    for kind in PROJECTIONS:
        proj = make_projection(kind, z)
        assert proj.kind == "dims" and proj.labels == ("z0", "")
        np.testing.assert_array_equal(proj.transform(z), np.c_[z[:, 0], np.zeros(30)])
        np.testing.assert_allclose(proj.inverse([[1.5, 7.0]]), [[1.5]])  # y carries nothing
    with pytest.raises(ValueError):
        dims_projection(z, 0, 0)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        pca_projection(z)


def test_pca_labels_carry_explained_variance():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(20000, 2)) * np.array([3.0, 1.0])  # variances 9 and 1
    proj = pca_projection(z)
    assert proj.labels == ("PC1 (90% var)", "PC2 (10% var)")
    np.testing.assert_allclose(np.abs(proj.matrix), np.eye(2), atol=0.02)
    np.testing.assert_allclose(proj.info["explained_variance_ratio"], [0.9, 0.1], atol=0.01)
    np.testing.assert_allclose(proj.offset, z.mean(0))


def test_fa_transform_equals_sklearn(codes):
    proj = fa_projection(codes, seed=0)
    reference = FactorAnalysis(n_components=2, svd_method="lapack", random_state=0).fit(codes)
    np.testing.assert_allclose(proj.transform(codes), reference.transform(codes), atol=1e-10)
    np.testing.assert_allclose(proj.info["noise_variance"], reference.noise_variance_)
    assert proj.labels == ("F1", "F2")
    assert proj.info["active_factors"] == 2


@pytest.mark.parametrize("kind", PROJECTIONS)
def test_project_covariance_matches_projected_samples(kind, codes):
    proj = make_projection(kind, codes, dims=(0, 4))
    rng = np.random.default_rng(4)
    root = rng.normal(size=(5, 5))
    cov = root @ root.T
    samples = rng.multivariate_normal(np.zeros(5), cov, size=200000)
    empirical = np.cov(proj.transform(samples), rowvar=False)
    projected = proj.project_covariance(cov)
    np.testing.assert_allclose(projected, proj.matrix @ cov @ proj.matrix.T)
    np.testing.assert_allclose(projected, empirical, rtol=0.03, atol=0.03 * np.abs(projected).max())
    stacked = proj.project_covariance(np.stack([cov, 2 * cov, np.eye(5)]))
    assert stacked.shape == (3, 2, 2)
    np.testing.assert_allclose(stacked[1], 2 * projected)


def test_projection_can_be_built_directly():
    proj = Projection("dims", [[1, 0, 0], [0, 0, 1]], np.zeros(3), ("a", "b"), np.ones(3))
    assert proj.dim == 3 and proj.matrix.dtype == np.float64
    np.testing.assert_array_equal(proj.inverse([5.0, 6.0]), [5.0, 1.0, 6.0])
    with pytest.raises(ValueError):
        Projection("dims", np.eye(3), np.zeros(3), ("a", "b"), np.zeros(3))
