"""How good a clustering is: agreement with the true labels, and BIC/AIC for choosing K.

ARI and NMI compare an assignment with labels the clustering never saw (chance level 0 for
ARI, whatever the number of clusters); BIC and AIC score a Gaussian mixture for each K by its
likelihood less a price per parameter, BIC's price growing with the number of points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latentexplorer.analysis import mixture as mix

CRITERIA_POINTS = 20_000  # points the mixtures for BIC/AIC are fitted on at most


@dataclass(frozen=True)
class AssignmentScores:
    """Adjusted Rand index (1: the labels' partition, ~0: chance) and normalised mutual
    information (1: the same partition, 0: independent) of an assignment."""

    ari: float
    nmi: float


def assignment_scores(true_labels: np.ndarray, assignment: np.ndarray) -> AssignmentScores:
    """ARI and NMI of a cluster assignment against the true labels (scikit-learn's metrics)."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    truth, found = np.asarray(true_labels).ravel(), np.asarray(assignment).ravel()
    if truth.shape != found.shape:
        raise ValueError(f"need one label per assigned point: {truth.shape} labels, {found.shape} assignments")
    return AssignmentScores(float(adjusted_rand_score(truth, found)),
                            float(normalized_mutual_info_score(truth, found)))


@dataclass(frozen=True, eq=False)
class InformationCriteria:
    """BIC and AIC (lower is better) of a Gaussian mixture for each K in ``ks``, all fitted on
    the same ``fitted_on`` of ``total`` points."""

    ks: np.ndarray
    bic: np.ndarray
    aic: np.ndarray
    fitted_on: int
    total: int

    @property
    def best_bic_k(self) -> int:
        return int(self.ks[np.argmin(self.bic)])

    @property
    def best_aic_k(self) -> int:
        return int(self.ks[np.argmin(self.aic)])

    @property
    def subsampled(self) -> bool:
        return self.fitted_on < self.total


def information_criteria(
    codes: np.ndarray,
    ks: Sequence[int] = range(1, 16),
    seed: int = 0,
    max_points: int | None = CRITERIA_POINTS,
    covariance_type: str = "full",
) -> InformationCriteria:
    """BIC and AIC of a GMM (scikit-learn, k-means initialisation seeded with `seed`) per K.

    Every K is fitted on the same seeded random subset of at most `max_points` points, so the
    values stay comparable across K and the curve stays quick on a million points; K larger
    than the number of points is left out.
    """
    z = mix.fit_subset(mix._as_codes(codes), max_points, seed)
    fitted = mix.gmm_per_k(z, ks, seed, covariance_type)
    return InformationCriteria(
        ks=np.array([f.k for f in fitted]),
        bic=np.array([f.bic for f in fitted]),
        aic=np.array([f.aic for f in fitted]),
        fitted_on=len(z),
        total=len(codes),
    )
