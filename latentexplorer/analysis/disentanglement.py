"""How well single latent dimensions capture single ground-truth factors.

Three scores from the literature, each in [0, 1], higher meaning more disentangled:

- MIG (Chen et al. 2018): the gap in mutual information between the two dimensions most
  informative about a factor, relative to the factor's entropy.
- SAP (Kumar et al. 2018): the gap in how well the two best single dimensions *predict* a
  factor.
- DCI disentanglement (Eastwood & Williams 2018): how concentrated each dimension's
  importance for predicting the factors is on one factor.

Factors are discrete indices (as the sprites provide). Constant factors carry no information
and are skipped; without factors every score is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_CLASSES = 10
"""Factors with more distinct values than this (positions, angles) are predicted as ordered
quantities (R² of a regression); the others (shape, scale) as classes."""


def discretize(values: np.ndarray, bins: int = 20) -> np.ndarray:
    """Each column binned into equal-width bins (for mutual information with discrete factors)."""
    values = np.asarray(values, dtype=float)
    out = np.zeros(values.shape, dtype=np.int64)
    for j in range(values.shape[1]):
        column = values[:, j]
        edges = np.histogram_bin_edges(column, bins=bins)
        out[:, j] = np.digitize(column, edges[1:-1])
    return out


def mutual_information_matrix(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> np.ndarray:
    """I(z_j; v_k) in nats for every latent dimension j and factor k (latents binned)."""
    from sklearn.metrics import mutual_info_score

    binned = discretize(codes, bins)
    mi = [[mutual_info_score(factors[:, k], binned[:, j]) for k in range(factors.shape[1])]
          for j in range(binned.shape[1])]
    return np.array(mi, dtype=float).reshape(binned.shape[1], factors.shape[1])


def factor_entropy(factors: np.ndarray) -> np.ndarray:
    """H(v_k) in nats for each discrete factor."""
    out = []
    for k in range(factors.shape[1]):
        _, counts = np.unique(factors[:, k], return_counts=True)
        p = counts / counts.sum()
        out.append(float(-(p * np.log(p)).sum()))
    return np.array(out)


def _top_gap(scores: np.ndarray) -> np.ndarray:
    """Per column (factor), best minus second-best row (dimension)."""
    ordered = np.sort(scores, axis=0)[::-1]
    second = ordered[1] if scores.shape[0] > 1 else np.zeros(scores.shape[1])
    return ordered[0] - second


def _best_dims(scores: np.ndarray) -> np.ndarray:
    if scores.size == 0:
        return np.zeros(scores.shape[1], dtype=np.int64)
    return scores.argmax(axis=0)


def _mean_or_nan(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def mig(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> tuple[float, np.ndarray, np.ndarray]:
    """Mutual information gap (Chen et al. 2018).

    For each factor, the gap between the two latent dimensions most informative about
    it, divided by the factor's entropy; averaged over factors (constant factors are
    skipped). Returns (MIG, gap per factor, best dimension per factor).
    """
    mi = mutual_information_matrix(codes, factors, bins)
    entropy = factor_entropy(factors)
    keep = entropy > 0
    gaps = np.where(keep, _top_gap(mi) / np.where(keep, entropy, 1.0), np.nan)
    return _mean_or_nan(gaps), gaps, _best_dims(mi)


def _split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded half/half train/test split, so predictability is measured on held-out items."""
    order = np.random.default_rng(seed).permutation(n)
    return order[: n // 2], order[n // 2:]


def _is_categorical(column: np.ndarray) -> bool:
    return len(np.unique(column)) <= MAX_CLASSES


def _single_dim_skill(z: np.ndarray, v: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int) -> float:
    """How well one dimension alone predicts a factor on held-out items, 0 = no better than
    guessing, 1 = perfect: a shallow tree (it can cut a dimension into intervals, which one
    linear threshold cannot) scored by accuracy above the majority class, or by R²."""
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    x = z.reshape(-1, 1)
    if _is_categorical(v):
        classes = len(np.unique(v[train]))
        tree = DecisionTreeClassifier(max_leaf_nodes=max(2, 2 * classes), min_samples_leaf=5, random_state=seed)
        tree.fit(x[train], v[train])
        accuracy = float((tree.predict(x[test]) == v[test]).mean())
        _, counts = np.unique(v[train], return_counts=True)
        majority = float(np.mean(v[test] == np.unique(v[train])[counts.argmax()]))
        return max(0.0, (accuracy - majority) / (1.0 - majority)) if majority < 1.0 else 0.0
    tree = DecisionTreeRegressor(max_leaf_nodes=32, min_samples_leaf=5, random_state=seed)
    tree.fit(x[train], v[train].astype(float))
    return max(0.0, float(tree.score(x[test], v[test].astype(float))))


def sap(codes: np.ndarray, factors: np.ndarray, seed: int = 0) -> tuple[float, np.ndarray, np.ndarray]:
    """Separated attribute predictability (Kumar et al. 2018).

    For each factor, the predictability score of every single dimension (see
    `_single_dim_skill`); the factor's SAP is the best score minus the second best,
    so a factor spread over several dimensions scores low even when it is well
    captured. Returns (SAP, gap per factor, best dimension per factor).
    """
    codes, factors = np.asarray(codes, dtype=float), np.asarray(factors)
    d, f = codes.shape[1], factors.shape[1]
    train, test = _split(len(codes), seed)
    scores = np.zeros((d, f))
    keep = np.array([len(np.unique(factors[:, k])) > 1 for k in range(f)], dtype=bool)
    for k in np.flatnonzero(keep):
        for j in range(d):
            scores[j, k] = _single_dim_skill(codes[:, j], factors[:, k], train, test, seed)
    gaps = np.where(keep, _top_gap(scores), np.nan)
    return _mean_or_nan(gaps), gaps, _best_dims(scores)


@dataclass(frozen=True)
class DCIScores:
    """Eastwood & Williams (2018). disentanglement: each dimension matters for one factor;
    completeness: each factor is captured by one dimension; informativeness: held-out
    prediction skill of all dimensions together (mean over factors); importance: D × F."""

    disentanglement: float
    completeness: float
    informativeness: float
    importance: np.ndarray


def _entropy_normalised(p: np.ndarray, base: int) -> np.ndarray:
    """Row entropies of the distributions `p` (rows sum to 1), in units of log(base)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis=1) / np.log(max(base, 2))


def dci(codes: np.ndarray, factors: np.ndarray, seed: int = 0) -> DCIScores:
    """DCI scores from the feature importances of a small random forest per factor.

    A forest (rather than the paper's lasso) reads factors that a dimension encodes
    non-linearly, and stays under a second on 2,000 items.
    """
    from sklearn.ensemble import (
        RandomForestClassifier,
        RandomForestRegressor,
    )

    codes, factors = np.asarray(codes, dtype=float), np.asarray(factors)
    d, f = codes.shape[1], factors.shape[1]
    keep = [k for k in range(f) if len(np.unique(factors[:, k])) > 1]
    importance = np.zeros((d, f))
    if not keep or d == 0:
        nan = float("nan")
        return DCIScores(nan, nan, nan, importance)
    train, test = _split(len(codes), seed)
    skill = []
    for k in keep:
        v = factors[:, k]
        forest_cls = RandomForestClassifier if _is_categorical(v) else RandomForestRegressor
        forest = forest_cls(n_estimators=30, max_depth=6, min_samples_leaf=5, max_features=None,
                           random_state=seed, n_jobs=1)
        target = v if _is_categorical(v) else v.astype(float)
        forest.fit(codes[train], target[train])
        importance[:, k] = forest.feature_importances_
        skill.append(max(0.0, float(forest.score(codes[test], target[test]))))
    r = importance[:, keep]
    total = r.sum()
    dim_weight = r.sum(axis=1) / total
    by_dim = r / np.maximum(r.sum(axis=1, keepdims=True), 1e-12)
    disentanglement = float((dim_weight * (1.0 - _entropy_normalised(by_dim, len(keep)))).sum())
    factor_weight = r.sum(axis=0) / total
    by_factor = (r / np.maximum(r.sum(axis=0, keepdims=True), 1e-12)).T
    completeness = float((factor_weight * (1.0 - _entropy_normalised(by_factor, d))).sum())
    return DCIScores(disentanglement, completeness, float(np.mean(skill)), importance)
