"""Which ground-truth factor each latent dimension is about.

For data with known factors (sprites), a dimension is named after the factor it carries
the most information about, I(z_j; v_k) / H(v_k): the share of the factor's entropy that
the dimension explains, 1 when z_j determines v_k. Below a threshold no factor is named,
which is what an entangled or unused dimension looks like.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentexplorer.analysis.metrics import factor_entropy, mutual_information_matrix
from latentexplorer.data.base import Factors

READABLE_NAMES = {"pos_x": "x position", "pos_y": "y position"}
NAMING_THRESHOLD = 0.15
"""Normalised mutual information below which a dimension is 'no single factor': the binned
estimate of an unused dimension reaches about 0.1 on a few thousand items."""
MAX_ITEMS = 20_000


@dataclass(frozen=True)
class DimensionFactor:
    """The factor a latent dimension is most informative about, with I(z; v)/H(v) per factor."""

    dim: int
    factor: str | None  # None: no factor reaches the threshold
    score: float  # the best factor's normalised mutual information
    scores: dict[str, float]

    def describe(self) -> str:
        """E.g. `x position (0.82)`, or `no single factor`."""
        if self.factor is None:
            return "no single factor"
        return f"{readable(self.factor)} ({self.score:.2f})"


def readable(name: str) -> str:
    return READABLE_NAMES.get(name, name.replace("_", " "))


def normalised_mutual_information(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> np.ndarray:
    """I(z_j; v_k) / H(v_k), dimensions × factors; constant factors score 0."""
    mi = mutual_information_matrix(np.asarray(codes, dtype=float), np.asarray(factors), bins)
    entropy = factor_entropy(np.asarray(factors))
    return np.where(entropy > 0, mi / np.where(entropy > 0, entropy, 1.0), 0.0)


def dimension_factors(
    codes: np.ndarray,
    factors: Factors,
    threshold: float = NAMING_THRESHOLD,
    bins: int = 20,
    max_items: int = MAX_ITEMS,
    seed: int = 0,
) -> list[DimensionFactor]:
    """For every latent dimension (codes: items × dims), its most informative factor.

    Large sets are scored on a seeded random `max_items`, which keeps a million codes to
    a fraction of a second and changes the scores in the second decimal at most."""
    codes = np.asarray(codes)
    indices = factors.indices
    if len(codes) != len(indices):
        raise ValueError(f"{len(codes)} codes for {len(indices)} factor rows")
    if len(codes) > max_items:
        pick = np.sort(np.random.default_rng(seed).choice(len(codes), max_items, replace=False))
        codes, indices = codes[pick], indices[pick]
    scores = normalised_mutual_information(codes, indices, bins)
    out = []
    for j, row in enumerate(scores):
        best = int(np.argmax(row))
        named = row[best] >= threshold
        out.append(DimensionFactor(
            dim=j, factor=factors.names[best] if named else None, score=float(row[best]),
            scores={name: float(v) for name, v in zip(factors.names, row)},
        ))
    return out
