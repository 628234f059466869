"""The aggregate posterior q(z) against the prior: the projected density (exact in the dims
view, Rao-Blackwellised sampling in PCA's), the prior's density, holes, and KL(q(z) ‖ p(z))."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from latentexplorer.analysis.aggregate_posterior import (
    aggregate_density,
    aggregate_kl,
    holes,
    prior_density,
    prior_peak,
)
from latentexplorer.analysis.projection import make_projection


def _codes(n: int, d: int, seed: int = 0, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mu = rng.normal(shift, 1.0, (n, d)) * np.linspace(1.5, 0.5, d)
    return mu.astype(np.float32), rng.uniform(-3, -0.5, (n, d)).astype(np.float32)


def test_kl_is_zero_when_every_posterior_is_the_prior_and_small_when_they_add_up_to_it():
    same = aggregate_kl(np.zeros((500, 3)), np.zeros((500, 3)), samples=400)
    assert abs(same.kl) <= 2 * same.se + 1e-9 and same.items == 500 and same.samples == 400
    assert same.note is None
    rng = np.random.default_rng(0)
    s = 0.6  # μ ~ N(0, (1 − s²) I), σ = s: the aggregate is N(0, I) as N grows
    mu = rng.normal(0.0, math.sqrt(1 - s * s), (5000, 4))
    estimate = aggregate_kl(mu, np.full_like(mu, math.log(s * s)), samples=1000)
    assert estimate.kl + 2 * estimate.se >= 0.0 and estimate.kl < 0.05


def test_kl_of_identical_posteriors_is_the_closed_form_and_grows_with_the_shift():
    kls = []
    for shift in (0.0, 1.0, 2.0):
        d, s = 3, 0.5
        mu = np.full((200, d), shift)
        estimate = aggregate_kl(mu, np.full_like(mu, math.log(s * s)), samples=2000, seed=1)
        closed = 0.5 * (d * s * s + d * shift**2 - d - d * math.log(s * s))  # q = N(shift, s² I)
        assert estimate.kl == pytest.approx(closed, abs=4 * estimate.se + 1e-9)
        kls.append(estimate)
    for near, far in zip(kls, kls[1:]):
        assert far.kl - near.kl > 3 * math.hypot(near.se, far.se)
    mu, logvar = _codes(2000, 4)
    moved = [aggregate_kl(mu + shift, logvar, samples=500).kl for shift in (0.0, 1.0, 2.0)]
    assert moved[0] < moved[1] < moved[2]


def test_kl_of_an_autoencoder_is_infinite_with_a_note():
    estimate = aggregate_kl(np.zeros((10, 2)), np.full((10, 2), -np.inf))
    assert estimate.kl == math.inf and "zero variance" in estimate.note


def _cell_reference(mu, logvar, projection, xs, ys):
    """The dims view the slow way: each item's cell masses per axis, one item at a time."""
    ex = np.concatenate([[xs[0] - (xs[1] - xs[0]) / 2], (xs[1:] + xs[:-1]) / 2, [xs[-1] + (xs[-1] - xs[-2]) / 2]])
    ey = np.concatenate([[ys[0] - (ys[1] - ys[0]) / 2], (ys[1:] + ys[:-1]) / 2, [ys[-1] + (ys[-1] - ys[-2]) / 2]])
    i, j = (int(np.flatnonzero(row)[0]) for row in projection.matrix)
    out = np.zeros((len(ys), len(xs)))
    for m, lv in zip(mu.astype(float), logvar.astype(float)):
        px = np.diff(norm.cdf(ex, m[i], math.exp(lv[i] / 2)))
        py = np.diff(norm.cdf(ey, m[j], math.exp(lv[j] / 2)))
        out += np.outer(py, px)
    return out / len(mu) / np.outer(np.diff(ey), np.diff(ex))


def test_dims_view_density_is_exact_and_integrates_to_one():
    mu, logvar = _codes(60, 5)
    projection = make_projection("dims", mu, dims=(3, 1))
    xs, ys = np.linspace(-3, 3, 31), np.linspace(-4, 4, 23)
    density = aggregate_density(mu, logvar, projection, xs, ys)
    assert density.shape == (23, 31)
    np.testing.assert_allclose(density, _cell_reference(mu, logvar, projection, xs, ys), atol=1e-5)
    wide = np.linspace(-12, 12, 200)
    cell = (wide[1] - wide[0]) ** 2
    assert aggregate_density(mu, logvar, projection, wide, wide).sum() * cell == pytest.approx(1.0, abs=1e-4)
    # where posteriors are wide against a cell, the cell average is the density at its centre
    broad = np.full_like(logvar, math.log(0.8))
    fine = np.linspace(-3, 3, 121)
    centre = np.zeros((121, 121))
    for m in mu.astype(float):
        centre += np.outer(norm.pdf(fine, m[1], math.sqrt(0.8)), norm.pdf(fine, m[3], math.sqrt(0.8)))
    got = aggregate_density(mu, broad, projection, fine, fine)
    np.testing.assert_allclose(got, centre / len(mu), rtol=2e-3, atol=1e-6)


def test_pca_view_density_matches_each_items_projected_gaussian():
    rng = np.random.default_rng(2)
    n, d = 300, 4
    mu = rng.normal(0, 1, (n, d)) @ rng.normal(0, 1, (d, d))  # correlated codes: a tilted PCA plane
    logvar = np.log(rng.uniform(0.05, 0.6, (n, d)))
    projection = make_projection("pca", mu)
    xs, ys = np.linspace(-6, 6, 61), np.linspace(-5, 5, 51)
    density = aggregate_density(mu, logvar, projection, xs, ys)
    means = projection.transform(mu)
    covs = projection.project_covariance(np.exp(logvar)[:, :, None] * np.eye(d))
    assert np.abs(covs[:, 0, 1]).max() > 0.05, "the view must mix dimensions for this test"
    sub = np.linspace(-0.4, 0.4, 5)  # each cell averaged over 5 × 5 points
    fx = (xs[:, None] + sub[None] * (xs[1] - xs[0])).ravel()
    fy = (ys[:, None] + sub[None] * (ys[1] - ys[0])).ravel()
    gx, gy = np.meshgrid(fx, fy)
    reference = np.zeros_like(gx)
    for m, c in zip(means, covs):
        inv = np.linalg.inv(c)
        dx, dy = gx - m[0], gy - m[1]
        q = inv[0, 0] * dx**2 + 2 * inv[0, 1] * dx * dy + inv[1, 1] * dy**2
        reference += np.exp(-0.5 * q) / (2 * math.pi * math.sqrt(np.linalg.det(c)))
    reference = reference.reshape(51, 5, 61, 5).mean(axis=(1, 3)) / n
    assert np.abs(density - reference).sum() / reference.sum() < 0.03
    assert density.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0]) == pytest.approx(reference.sum() * 0.2 * 0.2, rel=1e-2)


def test_an_autoencoders_codes_become_a_smoothed_histogram():
    rng = np.random.default_rng(3)
    mu = np.concatenate([rng.normal(-2, 0.3, (400, 3)), rng.normal(2, 0.3, (400, 3))])
    xs = np.linspace(-8, 8, 161)
    for kind in ("dims", "pca"):
        projection = make_projection(kind, mu)
        density = aggregate_density(mu, np.full_like(mu, -np.inf), projection, xs, xs)
        assert density.sum() * 0.1**2 == pytest.approx(1.0, abs=1e-3)
        peak = np.unravel_index(density.argmax(), density.shape)
        nearest = np.min(np.linalg.norm(projection.transform(mu) - [xs[peak[1]], xs[peak[0]]], axis=1))
        assert nearest < 0.3


def test_prior_density_and_the_holes_q_leaves_in_it():
    rng = np.random.default_rng(4)
    mu = rng.normal(1.7, 0.25, (3000, 2))  # every code in the upper right corner of the prior
    logvar = np.full_like(mu, math.log(0.2**2))
    projection = make_projection("dims", mu)
    xs = np.linspace(-4, 4, 81)
    q = aggregate_density(mu, logvar, projection, xs, xs)
    p = prior_density(projection, 2, xs, xs)
    gx, gy = np.meshgrid(xs, xs)
    np.testing.assert_allclose(p, np.exp(-(gx**2 + gy**2) / 2) / (2 * math.pi), rtol=2e-2)  # cell means
    assert prior_peak(projection) == pytest.approx(1 / (2 * math.pi))
    found = holes(q, p, p_peak=prior_peak(projection))
    radius = np.hypot(gx, gy)
    assert not np.any(found & (radius > 2.0 + 0.1)), "holes lie inside the prior's 2σ circle"
    assert not np.any(found & (q >= 0.05 * p)), "never where q has mass"
    assert found[np.abs(gy + 1) < 0.05][np.abs(xs + 1) < 0.05].all()  # (−1, −1): far from the codes
    assert found[(radius < 2) & (gx < 0)].mean() > 0.99
    assert not found[np.argmin(np.abs(xs - 1.7)), np.argmin(np.abs(xs - 1.7))]
    assert holes(p, p).sum() == 0


def test_prior_density_in_a_factor_analysis_view_is_the_projected_gaussian():
    mu, logvar = _codes(2000, 5)
    projection = make_projection("fa", mu)
    xs = np.linspace(-8, 8, 161)
    p = prior_density(projection, 5, xs, xs)
    assert p.sum() * 0.1**2 == pytest.approx(1.0, abs=1e-3)
    assert p.max() == pytest.approx(prior_peak(projection), rel=0.05)
    with pytest.raises(ValueError, match="5-D"):
        prior_density(projection, 4, xs, xs)
