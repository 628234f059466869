"""Naming latent dimensions after the ground-truth factor they carry."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from latentexplorer.analysis.factors import dimension_factors, normalised_mutual_information
from latentexplorer.analysis.metrics import discretize
from latentexplorer.data.base import Factors


def synthetic(n: int = 4000, seed: int = 0):
    """Three factors; z0 encodes y, z1 is noise, z2 encodes x, z3 encodes shape weakly."""
    rng = np.random.default_rng(seed)
    sizes = (3, 16, 16)
    indices = np.stack([rng.integers(0, k, n) for k in sizes], axis=1)
    factors = Factors(indices=indices, names=("shape", "pos_x", "pos_y"),
                      values=tuple(np.arange(k, dtype=float) for k in sizes))
    codes = np.stack([
        indices[:, 2] + 0.1 * rng.standard_normal(n),
        rng.standard_normal(n),
        -indices[:, 1] + 0.1 * rng.standard_normal(n),
        indices[:, 0] + 0.5 * rng.standard_normal(n),
    ], axis=1)
    return codes, factors


def test_each_dimension_is_named_after_the_factor_it_encodes():
    codes, factors = synthetic()
    named = dimension_factors(codes, factors)
    assert [d.factor for d in named[:3]] == ["pos_y", None, "pos_x"]
    assert named[0].describe().startswith("y position (") and named[2].describe().startswith("x position (")
    assert named[1].describe() == "no single factor"
    assert named[0].score > 0.9 and named[2].score > 0.9
    assert named[3].factor == "shape" and named[3].score < named[0].score


def test_the_score_is_mutual_information_over_the_factor_entropy():
    codes, factors = synthetic(1000)
    scores = normalised_mutual_information(codes, factors.indices)
    binned = discretize(codes, 20)
    for j in range(codes.shape[1]):
        for k in range(3):
            expected = mutual_info_score(factors.indices[:, k], binned[:, j])
            expected /= mutual_info_score(factors.indices[:, k], factors.indices[:, k])
            assert scores[j, k] == pytest.approx(expected)


def test_large_sets_are_scored_on_a_subset_with_the_same_names():
    codes, factors = synthetic(30_000)
    full = dimension_factors(codes, factors, max_items=30_000)
    sub = dimension_factors(codes, factors, max_items=5_000)
    assert [d.factor for d in sub] == [d.factor for d in full]
    assert [d.score for d in sub] == pytest.approx([d.score for d in full], abs=0.05)
