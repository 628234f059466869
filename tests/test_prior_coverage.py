"""The prior-coverage figures of the Compare tab, against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from latentexplorer.analysis.prior_coverage import prior_coverage, prior_samples


def test_codes_that_follow_the_prior_are_covered():
    codes = np.random.default_rng(1).standard_normal((3000, 2))
    cover = prior_coverage(codes)
    assert cover.inside == pytest.approx(0.95, abs=0.015)
    assert 0.5 < cover.gap < 1.5


@pytest.mark.parametrize("scale", [3.0, 6.0])
def test_codes_spread_wider_than_the_prior_are_mostly_outside_it(scale):
    codes = scale * np.random.default_rng(2).standard_normal((3000, 2))
    cover = prior_coverage(codes)
    # |z|² / s² is χ²₂, so P(|z|² < q) = 1 − exp(−q / 2s²) with q the χ²₂ 95 % quantile
    expected = 1 - np.exp(-(-2 * np.log(0.05)) / (2 * scale**2))
    assert cover.inside == pytest.approx(expected, abs=0.02)
    assert cover.gap > 2 * prior_coverage(codes / scale).gap


def test_prior_samples_share_leading_coordinates_across_latent_sizes():
    assert np.array_equal(prior_samples(8, 2, seed=3), prior_samples(8, 10, seed=3)[:, :2])
    assert not np.array_equal(prior_samples(8, 2, seed=3), prior_samples(8, 2, seed=4))
