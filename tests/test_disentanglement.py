"""MIG, SAP and DCI on synthetic codes whose disentanglement is known by construction."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.stats import special_ortho_group

from latentexplorer.analysis import metrics
from latentexplorer.analysis.disentanglement import dci, mig, sap
from latentexplorer.analysis.evaluation import factor_scores
from latentexplorer.data.base import Factors

N = 2000
LEVELS = (3, 6, 8, 16)  # a categorical factor and ordered ones, as the sprites have


def _factors(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, levels, N) for levels in LEVELS], axis=1)


def _disentangled(factors: np.ndarray, nuisance: int = 2, seed: int = 1) -> np.ndarray:
    """Each factor on its own dimension (scaled to unit range, small noise), plus pure-noise dims."""
    rng = np.random.default_rng(seed)
    signal = factors / (np.array(LEVELS) - 1) * 4.0 - 2.0
    codes = signal + 0.03 * rng.standard_normal(signal.shape)
    return np.hstack([codes, rng.standard_normal((N, nuisance))])


@pytest.fixture(scope="module")
def codes():
    factors = _factors()
    clean = _disentangled(factors)
    rotation = special_ortho_group.rvs(clean.shape[1], random_state=3)
    return factors, clean, clean @ rotation


# DCI's entropy is over only four factors, so a dimension that mixes two of them still scores
# 0.5: random rotations of these codes land at 0.2–0.45, against 1.0 unrotated.
@pytest.mark.parametrize(
    "score, mixed_below",
    [(mig, 0.3), (sap, 0.3), (lambda c, f: (dci(c, f).disentanglement,), 0.45)],
    ids=["MIG", "SAP", "DCI"],
)
def test_disentangled_codes_score_high_and_rotated_codes_low(codes, score, mixed_below):
    factors, clean, rotated = codes
    assert score(clean, factors)[0] > 0.9
    assert score(rotated, factors)[0] < mixed_below


def test_best_dimension_per_factor_is_the_one_that_encodes_it(codes):
    factors, clean, _ = codes
    assert list(mig(clean, factors)[2]) == [0, 1, 2, 3]
    assert list(sap(clean, factors)[2]) == [0, 1, 2, 3]
    importance = dci(clean, factors).importance
    assert list(importance.argmax(axis=0)) == [0, 1, 2, 3]


def test_dci_completeness_and_informativeness(codes):
    factors, clean, rotated = codes
    good, mixed = dci(clean, factors), dci(rotated, factors)
    assert good.completeness > 0.9 and mixed.completeness < 0.4
    assert good.informativeness > 0.9  # the factors are all there, readable from the codes


def test_scores_are_fast_enough_for_the_gui(codes):
    factors, clean, _ = codes
    start = time.perf_counter()
    factor_scores(clean, Factors(factors, ("a", "b", "c", "d"), tuple(range(n) for n in LEVELS)))
    assert time.perf_counter() - start < 10.0


def test_constant_factors_are_skipped(codes):
    factors, clean, _ = codes
    with_constant = np.hstack([factors, np.zeros((N, 1), dtype=factors.dtype)])
    for score in (mig, sap):
        total, per_factor, _ = score(clean, with_constant)
        assert np.isnan(per_factor[-1]) and np.all(np.isfinite(per_factor[:-1]))
        assert total == pytest.approx(np.nanmean(per_factor)) and total > 0.7
    result = dci(clean, with_constant)
    assert np.all(result.importance[:, -1] == 0) and result.disentanglement > 0.9


def test_factor_free_and_all_constant_inputs_give_nan_not_errors(codes):
    _, clean, _ = codes
    for factors in (np.zeros((N, 0), dtype=int), np.ones((N, 2), dtype=int)):
        assert np.isnan(mig(clean, factors)[0])
        assert np.isnan(sap(clean, factors)[0])
        assert np.isnan(dci(clean, factors).disentanglement)


def test_mig_stays_importable_from_metrics():
    assert metrics.mig is mig
