"""Clusters of latent codes for colouring the scatter: GMM and k-means via scikit-learn.

A Gaussian mixture gives soft responsibilities, so a code between two clusters can be drawn in a
blend of their colours and faded by its uncertainty; BIC picks a number of components; matching
components across refits keeps each cluster's colour stable while the user changes K.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.mixture import GaussianMixture

# scikit-learn and scipy.optimize are imported inside the functions that fit or match: together
# they take ~1 s to import, and the app draws its first (grey) scatter without them.

# Okabe & Ito (2008) without black, then Paul Tol's "muted" scheme (without its pale grey,
# which Tol keeps for missing data): colour-blind-safe and distinct on a white or dark canvas.
_HEX = (
    "E69F00", "56B4E9", "009E73", "F0E442", "0072B2", "D55E00", "CC79A7",
    "882255", "117733", "332288", "CC6677", "999933", "AA4499", "44AA99", "88CCEE", "DDCC77",
)  # fmt: skip
PALETTE: np.ndarray = np.array([[int(h[k : k + 2], 16) for k in (0, 2, 4)] for h in _HEX], np.uint8)
PALETTE.setflags(write=False)

FIT_SUBSET = 50_000  # codes a mixture is fitted on at most; all codes are then assigned

# Viridis (van der Walt & Smith) at 11 evenly spaced stops: perceptually uniform, readable in
# grey and by colour-blind viewers; linear interpolation between stops is indistinguishable.
_VIRIDIS = np.array(
    [
        (68, 1, 84), (72, 36, 117), (65, 68, 135), (53, 95, 141), (42, 120, 142), (33, 145, 140),
        (34, 168, 132), (68, 191, 112), (122, 209, 81), (189, 223, 38), (253, 231, 37),
    ],
    dtype=np.float64,
)  # fmt: skip
NAN_COLOUR = np.array([128, 128, 128, 96], dtype=np.uint8)


def _as_codes(codes: np.ndarray) -> np.ndarray:
    z = np.asarray(codes, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 1:
        raise ValueError(f"expected latent codes of shape (N, D), got {z.shape}")
    return z


def _check_k(k: int, n: int) -> None:
    if k < 1:
        raise ValueError(f"the number of components must be at least 1, got {k}")
    if k > n:
        raise ValueError(f"cannot fit {k} components to {n} codes")


def entropy(responsibilities: np.ndarray) -> np.ndarray:
    """Per-row entropy in nats (0·log 0 = 0): 0 for a certain code, log K for a uniform one.

    One einsum over the rows: a million codes in ~10 ms (a ufunc sum along the short last
    axis took five times longer)."""
    r = np.asarray(responsibilities)
    r = r if r.dtype in (np.float32, np.float64) else r.astype(np.float64)
    logs = np.log(np.maximum(r, np.finfo(r.dtype).tiny))  # r = 0 contributes 0·finite = 0
    return -np.einsum("...k,...k->...", r, logs).astype(np.float64)


@dataclass(frozen=True, eq=False)
class MixtureFit:
    """A fitted mixture in a form the views need, whichever algorithm produced it.

    ``covariances`` are always full (K×D×D) so ellipses are drawn one way; ``responsibilities``
    are N×K float32 (a million codes × K stays small); k-means gives one-hot rows and no BIC.
    ``log_likelihood`` is the mean log-likelihood per code (nats), for GMMs only.
    """

    kind: str
    k: int
    means: np.ndarray
    covariances: np.ndarray
    weights: np.ndarray
    responsibilities: np.ndarray
    bic: float | None = None
    log_likelihood: float | None = None
    aic: float | None = None
    fitted_on: int = 0  # codes the algorithm saw (a seeded subset of a large set); 0: all

    @property
    def labels(self) -> np.ndarray:
        """Hard assignment: the most responsible component of each code."""
        return np.argmax(self.responsibilities, axis=1)

    def entropy(self) -> np.ndarray:
        """Uncertainty of each code's assignment, in nats."""
        return entropy(self.responsibilities)

    def reordered(self, order: Sequence[int] | np.ndarray) -> MixtureFit:
        """The same fit with component i taken from old component ``order[i]``."""
        order = np.asarray(order, dtype=np.intp)
        if order.shape != (self.k,) or not np.array_equal(np.sort(order), np.arange(self.k)):
            raise ValueError(
                f"order must be a permutation of 0..{self.k - 1}, got {order.tolist()}"
            )
        return replace(
            self,
            means=self.means[order],
            covariances=self.covariances[order],
            weights=self.weights[order],
            responsibilities=self.responsibilities[:, order],
        )


def _full_covariances(gm: GaussianMixture, dim: int) -> np.ndarray:
    """sklearn stores covariances in a shape that depends on covariance_type; make them K×D×D."""
    cov, k = gm.covariances_, gm.n_components
    if gm.covariance_type == "full":
        return np.array(cov, dtype=np.float64)
    if gm.covariance_type == "tied":
        return np.broadcast_to(cov, (k, dim, dim)).astype(np.float64)
    if gm.covariance_type == "diag":
        return cov[:, :, None] * np.eye(dim)
    return cov[:, None, None] * np.eye(dim)  # spherical


def subset_indices(n: int, max_points: int | None, seed: int = 0) -> np.ndarray | None:
    """Sorted indices of a seeded random `max_points` of `n` items, or None when all fit."""
    if max_points is None or n <= max_points:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def fit_subset(codes: np.ndarray, max_fit: int | None, seed: int = 0) -> np.ndarray:
    """The codes a fit sees: all of them, or a seeded random subset of `max_fit` (EM on a
    million codes takes minutes; on 50,000 the components are the same to a few decimals,
    and every code is then assigned by the fitted model)."""
    chosen = subset_indices(len(codes), max_fit, seed)
    return codes if chosen is None else codes[chosen]


def _in_chunks(function, z: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    """function(z) evaluated chunk by chunk: bounded temporaries on a million codes."""
    return np.concatenate([function(z[i : i + chunk]) for i in range(0, len(z), chunk)])


def fit_gmm(
    codes: np.ndarray,
    k: int,
    seed: int = 0,
    covariance_type: str = "full",
    max_iter: int = 200,
    reg_covar: float = 1e-6,
    max_fit: int | None = FIT_SUBSET,
) -> MixtureFit:
    """A Gaussian mixture fitted by EM (sklearn, k-means initialisation, one start) on at
    most `max_fit` codes; every code gets its responsibilities from the fitted model.

    Soft responsibilities are the point: they show which codes sit between clusters.
    BIC and the mean log-likelihood are those of the codes EM saw.
    """
    from sklearn.mixture import GaussianMixture

    z = _as_codes(codes)
    _check_k(k, len(z))
    seen = fit_subset(z, max_fit, seed)
    gm = GaussianMixture(
        n_components=k,
        covariance_type=covariance_type,
        max_iter=max_iter,
        reg_covar=reg_covar,
        n_init=1,
        random_state=seed,
    ).fit(seen)
    return MixtureFit(
        kind="gmm",
        k=k,
        means=np.array(gm.means_, dtype=np.float64),
        covariances=_full_covariances(gm, z.shape[1]),
        weights=np.array(gm.weights_, dtype=np.float64),
        responsibilities=_in_chunks(lambda c: gm.predict_proba(c).astype(np.float32), z),
        bic=float(gm.bic(seen)),
        aic=float(gm.aic(seen)),
        log_likelihood=float(gm.score(seen)),
        fitted_on=len(seen) if len(seen) < len(z) else 0,
    )


def fit_kmeans(codes: np.ndarray, k: int, seed: int = 0, reg_covar: float = 1e-6,
               max_fit: int | None = FIT_SUBSET) -> MixtureFit:
    """k-means (sklearn, on at most `max_fit` codes; every code is then assigned to its
    nearest centroid) as a mixture with one-hot responsibilities.

    Each component's covariance is the within-cluster covariance of its members plus
    ``reg_covar``·I, so its ellipse shows the cluster's spread (a point for a singleton).
    """
    from sklearn.cluster import KMeans

    z = _as_codes(codes)
    _check_k(k, len(z))
    seen = fit_subset(z, max_fit, seed)
    km = KMeans(n_clusters=k, n_init="auto", random_state=seed).fit(seen)
    labels = km.labels_ if len(seen) == len(z) else _in_chunks(km.predict, z)
    dim = z.shape[1]
    counts = np.bincount(labels, minlength=k)
    covariances = np.empty((k, dim, dim))
    for c in range(k):
        members = z[labels == c] - km.cluster_centers_[c]
        scatter = members.T @ members / max(counts[c], 1)
        covariances[c] = scatter + reg_covar * np.eye(dim)
    responsibilities = np.zeros((len(z), k), dtype=np.float32)
    responsibilities[np.arange(len(z)), labels] = 1.0
    return MixtureFit(
        kind="kmeans",
        k=k,
        means=np.array(km.cluster_centers_, dtype=np.float64),
        covariances=covariances,
        weights=counts / len(z),
        responsibilities=responsibilities,
        fitted_on=len(seen) if len(seen) < len(z) else 0,
    )


def gmm_per_k(
    codes: np.ndarray, ks: Sequence[int], seed: int = 0, covariance_type: str = "full"
) -> list[MixtureFit]:
    """A GMM for each K in `ks` on all of `codes` (pass `fit_subset`'s codes), K larger than
    the number of codes left out: the one fitting loop behind `bic_curve` and
    `cluster_quality.information_criteria`, so their BICs agree exactly."""
    z = _as_codes(codes)
    fitted = [
        fit_gmm(z, int(k), seed=seed, covariance_type=covariance_type, max_fit=None)
        for k in ks
        if 1 <= k <= len(z)
    ]
    if not fitted:
        raise ValueError(f"none of K={list(ks)} can be fitted to {len(z)} codes")
    return fitted


def bic_curve(
    codes: np.ndarray,
    ks: Sequence[int] = range(1, 11),
    seed: int = 0,
    max_points: int = 20000,
    covariance_type: str = "full",
) -> dict[int, float]:
    """BIC of a GMM for each K (lower is better).

    Every K is fitted on the same seeded random subsample of at most ``max_points`` codes, so
    the curve stays fast on a million codes and its values stay comparable; K larger than the
    number of codes is left out. AIC alongside: `cluster_quality.information_criteria`.
    """
    z = fit_subset(_as_codes(codes), max_points, seed)
    return {f.k: float(f.bic) for f in gmm_per_k(z, ks, seed, covariance_type)}


def choose_k(
    codes: np.ndarray, ks: Sequence[int] = range(1, 11), seed: int = 0
) -> tuple[int, dict[int, float]]:
    """The K with the lowest BIC, and the whole curve so the GUI can plot it."""
    curve = bic_curve(codes, ks, seed=seed)
    return min(curve, key=curve.__getitem__), curve


def _assignment(previous_means: np.ndarray, new_means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian matching on Euclidean distance: (previous indices, new indices), paired."""
    from scipy.optimize import linear_sum_assignment

    prev = np.asarray(previous_means, dtype=np.float64)
    new = np.asarray(new_means, dtype=np.float64)
    if prev.ndim != 2 or new.ndim != 2 or prev.shape[1] != new.shape[1]:
        raise ValueError(f"means must be K×D with the same D, got {prev.shape} and {new.shape}")
    cost = np.linalg.norm(prev[:, None, :] - new[None, :, :], axis=-1)
    return linear_sum_assignment(cost)


def match_components(previous_means: np.ndarray, new_means: np.ndarray) -> np.ndarray:
    """A permutation of the new components that lines them up with the previous ones.

    Component i of ``fit.reordered(order)`` is the new component matched to previous component
    i; unmatched new components (K grew) follow in their original order. When K shrinks, the
    matched components keep the relative order of their previous partners; use
    :func:`stable_colour_indices` to keep their colours too.
    """
    rows, cols = _assignment(previous_means, new_means)
    matched = cols[np.argsort(rows)]
    unmatched = np.setdiff1d(np.arange(len(np.asarray(new_means))), matched)
    return np.concatenate([matched, unmatched]).astype(np.intp)


def stable_colour_indices(
    previous_means: np.ndarray, previous_colour_indices: np.ndarray, new_means: np.ndarray
) -> np.ndarray:
    """Colour index for each new component: a matched component inherits its partner's colour,
    an unmatched one gets the smallest index no matched component uses, so a refit does not
    repaint clusters the user already knows."""
    previous_colour_indices = np.asarray(previous_colour_indices, dtype=np.intp)
    if previous_colour_indices.shape != (len(np.asarray(previous_means)),):
        raise ValueError("need one previous colour index per previous component")
    rows, cols = _assignment(previous_means, new_means)
    colours = np.full(len(np.asarray(new_means)), -1, dtype=np.intp)
    colours[cols] = previous_colour_indices[rows]
    used = set(colours[cols].tolist())
    free = (c for c in range(len(used) + len(colours)) if c not in used)
    for j in np.flatnonzero(colours < 0):
        colours[j] = next(free)
    return colours


def palette(n: int) -> np.ndarray:
    """n colours (n×3 uint8) from :data:`PALETTE`, cycling when n exceeds it."""
    return PALETTE[np.arange(max(n, 0)) % len(PALETTE)]


def blend_colours(
    responsibilities: np.ndarray,
    colours: np.ndarray,
    fade_uncertain: bool = True,
    min_alpha: float = 0.25,
) -> np.ndarray:
    """N×4 RGBA: the responsibility-weighted mix of component colours, faded by uncertainty.

    A code between two clusters shows a visible mix of their colours; alpha falls linearly with
    the normalised entropy H/log K from 255 (certain) to ``min_alpha``·255 (uniform). One
    matmul over all codes, so it is cheap on a million points.
    """
    r = np.asarray(responsibilities, dtype=np.float32)
    c = np.asarray(colours)[:, :3].astype(np.float32)
    if r.ndim != 2 or r.shape[1] != len(c):
        raise ValueError(
            f"need one colour per component: {r.shape} responsibilities, {len(c)} colours"
        )
    out = np.empty((len(r), 4), dtype=np.uint8)
    k = r.shape[1]
    for start in range(0, len(r), 65_536):  # bounded temporaries: the peak of a 1M-point colouring
        rows = r[start : start + 65_536]
        block = out[start : start + 65_536]
        block[:, :3] = np.clip(np.rint(rows @ c), 0, 255)
        if fade_uncertain and k > 1:
            uncertainty = np.clip(entropy(rows) / math.log(k), 0.0, 1.0)
            block[:, 3] = np.rint(255.0 * (1.0 - (1.0 - min_alpha) * uncertainty))
        else:
            block[:, 3] = 255
    return out


def hard_colours(labels: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """N×4 opaque RGBA: each code in its component's colour."""
    c = np.asarray(colours)[:, :3].astype(np.uint8)
    out = np.full((len(labels), 4), 255, dtype=np.uint8)
    out[:, :3] = c[np.asarray(labels, dtype=np.intp)]
    return out


def scalar_colours(
    values: np.ndarray, vmin: float | None = None, vmax: float | None = None
) -> np.ndarray:
    """N×4 RGBA through viridis for a continuous quantity (posterior σ, a factor's value).

    The range defaults to the finite values' min and max; NaN/inf codes get a faint grey so
    they stay visible without claiming a value.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(v)
    lo = vmin if vmin is not None else (v[finite].min() if finite.any() else 0.0)
    hi = vmax if vmax is not None else (v[finite].max() if finite.any() else 1.0)
    span = hi - lo
    t = np.where(finite, (np.where(finite, v, lo) - lo) / span if span > 0 else 0.5, 0.0)
    t = np.clip(t, 0.0, 1.0) * (len(_VIRIDIS) - 1)
    below = np.minimum(t.astype(np.intp), len(_VIRIDIS) - 2)
    frac = (t - below)[:, None]
    out = np.empty((len(v), 4), dtype=np.uint8)
    out[:, :3] = np.rint(_VIRIDIS[below] * (1 - frac) + _VIRIDIS[below + 1] * frac)
    out[:, 3] = 255
    out[~finite] = NAN_COLOUR
    return out


def ellipse(mean2: np.ndarray, cov2: np.ndarray, n_sigma: float, points: int = 64) -> np.ndarray:
    """Closed polygon (points×2, first == last) on the n-σ contour of a 2-D Gaussian.

    Uses the eigendecomposition of the symmetrised covariance; negative or non-finite parts
    (singular or numerically broken covariances) are clipped to zero, which degenerates the
    ellipse into a segment or a point instead of failing.
    """
    mean2 = np.asarray(mean2, dtype=np.float64).reshape(2)
    cov = np.nan_to_num(
        np.asarray(cov2, dtype=np.float64).reshape(2, 2), nan=0.0, posinf=0.0, neginf=0.0
    )
    eigvals, eigvecs = np.linalg.eigh(0.5 * (cov + cov.T))
    axes = eigvecs * np.sqrt(np.clip(eigvals, 0.0, None))  # columns: principal semi-axes at 1σ
    angle = np.linspace(0.0, 2.0 * np.pi, max(points, 3))
    circle = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    poly = mean2 + n_sigma * circle @ axes.T
    poly[-1] = poly[0]
    return poly
