"""k-means (Lloyd) and Gaussian-mixture EM advanced one iteration at a time.

scikit-learn fits both in one call; to *show* hard against soft assignment the views need every
iteration: the assignment (or responsibilities), the centres (or means and covariances) and the
objective after each step. The steppers follow scikit-learn's conventions so that, run to
convergence from the same initialisation, they end where ``KMeans(algorithm="lloyd")`` and
``GaussianMixture(covariance_type="full")`` end: the same tolerances, the same ``reg_covar``
on covariance diagonals, the same relocation of an emptied k-means cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KMEANS_TOL = 1e-4  # scikit-learn's KMeans default, relative to the data's mean variance
EM_TOL = 1e-3  # scikit-learn's GaussianMixture default, on the mean log-likelihood
REG_COVAR = 1e-6  # added to every covariance diagonal, as scikit-learn does
MAX_ITER = 1000

_ILL_DEFINED = (
    "a Gaussian component has an ill-defined covariance (a singleton or collapsed cluster); "
    "use fewer components or another seed"
)


def _as_points(points: np.ndarray) -> np.ndarray:
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"expected points of shape (N, d), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("the points contain NaN or infinite values")
    return x


def _check_k(k: int, n: int) -> None:
    if k < 1:
        raise ValueError(f"the number of clusters must be at least 1, got {k}")
    if k > n:
        raise ValueError(f"cannot make {k} clusters of {n} points")


def seeded_centres(points: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k initial centres chosen by k-means++ (scikit-learn's `kmeans_plusplus`), seeded, so a
    lesson can be repeated and k-means and EM can start from the same places."""
    from sklearn.cluster import kmeans_plusplus

    x = _as_points(points)
    _check_k(k, len(x))
    centres, _ = kmeans_plusplus(x, k, random_state=seed)
    return centres


def squared_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """N×K squared Euclidean distances, computed exactly (no |x|² − 2x·c + |c|² cancellation)."""
    return ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)


@dataclass(frozen=True, eq=False)
class KMeansState:
    """k-means after `iteration` steps: each point's cluster, the centres, their inertia."""

    centres: np.ndarray
    labels: np.ndarray
    inertia: float
    iteration: int
    converged: bool
    centre_shift: float = math.inf  # squared total move of the centres in the last step

    @property
    def objective(self) -> float:
        return self.inertia

    @property
    def k(self) -> int:
        return len(self.centres)


@dataclass(frozen=True, eq=False)
class MixtureState:
    """A Gaussian mixture after `iteration` EM steps.

    ``log_likelihood`` is the mean log-likelihood per point of these parameters, the quantity
    EM never decreases; ``lower_bound`` is scikit-learn's ``lower_bound_`` (the mean
    log-likelihood of the parameters before the last M-step), whose change decides convergence.
    ``responsibilities`` are those of these parameters (the next E-step).
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    responsibilities: np.ndarray
    log_likelihood: float
    lower_bound: float
    iteration: int
    converged: bool

    @property
    def objective(self) -> float:
        return self.log_likelihood

    @property
    def labels(self) -> np.ndarray:
        """Hard assignment: each point's most responsible component."""
        return np.argmax(self.responsibilities, axis=1)

    @property
    def k(self) -> int:
        return len(self.means)


class _Stepper:
    """What both algorithms share: a state, the objective after every step, run to the end."""

    state: KMeansState | MixtureState

    def __init__(self) -> None:
        self.history: list[float] = []  # the objective after each step (not the initial one)

    @property
    def iteration(self) -> int:
        return self.state.iteration

    @property
    def converged(self) -> bool:
        return self.state.converged

    def step(self):  # pragma: no cover - each algorithm defines it
        raise NotImplementedError

    def run(self, max_iter: int = MAX_ITER):
        """Step until converged or `max_iter` iterations in all; the final state."""
        while not self.state.converged and self.state.iteration < max_iter:
            self.step()
        return self.state


class KMeansStepper(_Stepper):
    """Lloyd's k-means, one assignment + update per :meth:`step`.

    Converged, as in scikit-learn, when a step leaves every assignment unchanged or moves the
    centres by a squared total of at most ``tol`` × the mean variance of the points' features.
    The inertia (sum of squared distances to the assigned centres) never increases.
    """

    def __init__(self, points: np.ndarray, centres: np.ndarray, tol: float = KMEANS_TOL) -> None:
        super().__init__()
        self.points = _as_points(points)
        centres = np.array(centres, dtype=np.float64)
        if centres.ndim != 2 or centres.shape[1] != self.points.shape[1]:
            raise ValueError(
                f"need K×{self.points.shape[1]} initial centres, got shape {centres.shape}"
            )
        _check_k(len(centres), len(self.points))
        self.tol = float(np.mean(np.var(self.points, axis=0)) * tol) if tol else 0.0
        self.initial_centres = centres.copy()
        labels = np.argmin(squared_distances(self.points, centres), axis=1)
        self._previous_labels: np.ndarray | None = None  # scikit-learn starts from "none"
        self.state = KMeansState(centres, labels, self._inertia(centres, labels), 0, False)

    @classmethod
    def seeded(cls, points: np.ndarray, k: int, seed: int = 0, tol: float = KMEANS_TOL) -> KMeansStepper:
        """Start from k-means++ centres drawn with `seed`."""
        return cls(points, seeded_centres(points, k, seed), tol)

    def _inertia(self, centres: np.ndarray, labels: np.ndarray) -> float:
        return float(((self.points - centres[labels]) ** 2).sum())

    def step(self) -> KMeansState:
        """Assign every point to its nearest centre, then move each centre to its points' mean."""
        if self.state.converged:
            return self.state
        x, old = self.points, self.state.centres
        k = len(old)
        labels = np.argmin(squared_distances(x, old), axis=1)
        counts = np.bincount(labels, minlength=k).astype(np.float64)
        sums = np.zeros_like(old)
        np.add.at(sums, labels, x)
        self._relocate_empty(labels, counts, sums, old)
        centres = old.copy()  # a cluster that stays empty keeps its centre
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
        shift = float(((centres - old) ** 2).sum())
        strict = self._previous_labels is not None and np.array_equal(labels, self._previous_labels)
        converged = strict or shift <= self.tol
        if converged and not strict:  # labels that match the final centres, as scikit-learn
            labels = np.argmin(squared_distances(x, centres), axis=1)
        self._previous_labels = labels
        self.state = KMeansState(centres, labels, self._inertia(centres, labels),
                                 self.state.iteration + 1, converged, shift)
        self.history.append(self.state.inertia)
        return self.state

    def _relocate_empty(self, labels: np.ndarray, counts: np.ndarray, sums: np.ndarray,
                        old: np.ndarray) -> None:
        """An empty cluster takes the point farthest from its centre (scikit-learn's rule)."""
        empty = np.flatnonzero(counts == 0)
        if len(empty) == 0:
            return
        distances = ((self.points - old[labels]) ** 2).sum(axis=1)
        if distances.max() == 0:
            return
        far = np.argpartition(distances, -len(empty))[: -len(empty) - 1 : -1]
        for cluster, index in zip(empty, far):
            source = labels[index]
            sums[source] -= self.points[index]
            counts[source] -= 1
            sums[cluster] = self.points[index]
            counts[cluster] = 1


def _precision_cholesky(covariances: np.ndarray) -> np.ndarray:
    """Per component, the upper factor U with U Uᵀ = Σ⁻¹ (scikit-learn's precisions_cholesky_)."""
    from scipy.linalg import solve_triangular

    k, d, _ = covariances.shape
    out = np.empty_like(covariances)
    for i in range(k):
        try:
            chol = np.linalg.cholesky(covariances[i])
        except np.linalg.LinAlgError:
            raise ValueError(_ILL_DEFINED) from None
        out[i] = solve_triangular(chol, np.eye(d), lower=True).T
    return out


def _log_weighted_densities(x: np.ndarray, weights: np.ndarray, means: np.ndarray,
                            precision_chol: np.ndarray) -> np.ndarray:
    """N×K log(π_k N(x | μ_k, Σ_k))."""
    n, d = x.shape
    out = np.empty((n, len(means)))
    for i, (mu, u) in enumerate(zip(means, precision_chol)):
        y = x @ u - mu @ u
        out[:, i] = -0.5 * np.sum(y * y, axis=1) + np.log(np.diag(u)).sum()
    with np.errstate(divide="ignore"):  # a component of weight 0 has log-weight −∞
        return out - 0.5 * d * math.log(2 * math.pi) + np.log(weights)


class GaussianMixtureStepper(_Stepper):
    """EM for a mixture of full-covariance Gaussians, one M-step + E-step per :meth:`step`.

    Converged, as in scikit-learn, when the mean log-likelihood lower bound changes by less than
    ``tol`` from one step to the next; ``reg_covar`` is added to every estimated covariance's
    diagonal. The mean log-likelihood never decreases.
    """

    def __init__(self, points: np.ndarray, weights: np.ndarray, means: np.ndarray,
                 covariances: np.ndarray, tol: float = EM_TOL, reg_covar: float = REG_COVAR) -> None:
        super().__init__()
        self.points = x = _as_points(points)
        n, d = x.shape
        means = np.array(means, dtype=np.float64)
        if means.ndim != 2 or means.shape[1] != d:
            raise ValueError(f"need K×{d} initial means, got shape {means.shape}")
        k = len(means)
        _check_k(k, n)
        weights = np.array(weights, dtype=np.float64)
        covariances = np.array(covariances, dtype=np.float64)
        if weights.shape != (k,) or np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
            raise ValueError(f"need {k} initial weights ≥ 0 that sum to 1")
        if covariances.shape != (k, d, d):
            raise ValueError(f"need {k}×{d}×{d} initial covariances, got shape {covariances.shape}")
        self.tol, self.reg_covar = float(tol), float(reg_covar)
        self.initial = (weights.copy(), means.copy(), covariances.copy())
        ll, resp = self._e_step(weights, means, covariances)
        self.state = MixtureState(weights, means, covariances, resp, ll, -math.inf, 0, False)

    @classmethod
    def seeded(cls, points: np.ndarray, k: int, seed: int = 0, tol: float = EM_TOL,
               reg_covar: float = REG_COVAR) -> GaussianMixtureStepper:
        """Start from :func:`seeded_mixture`."""
        return cls(points, *seeded_mixture(points, k, seed, reg_covar), tol=tol, reg_covar=reg_covar)

    def _e_step(self, weights, means, covariances) -> tuple[float, np.ndarray]:
        """Mean log-likelihood per point and the N×K responsibilities."""
        from scipy.special import logsumexp

        weighted = _log_weighted_densities(self.points, weights, means, _precision_cholesky(covariances))
        log_norm = logsumexp(weighted, axis=1)
        return float(np.mean(log_norm)), np.exp(weighted - log_norm[:, None])

    def step(self) -> MixtureState:
        """M-step from the current responsibilities, then the E-step of the new parameters."""
        if self.state.converged:
            return self.state
        s = self.state
        nk, means, covariances = estimate_gaussians(self.points, s.responsibilities, self.reg_covar)
        weights = nk / nk.sum()
        lower_bound = s.log_likelihood  # of the parameters the M-step started from
        ll, resp = self._e_step(weights, means, covariances)
        converged = abs(lower_bound - s.lower_bound) < self.tol
        self.state = MixtureState(weights, means, covariances, resp, ll, lower_bound,
                                  s.iteration + 1, converged)
        self.history.append(ll)
        return self.state


def estimate_gaussians(points: np.ndarray, responsibilities: np.ndarray,
                       reg_covar: float = REG_COVAR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EM's M-step: (soft counts N_k, means, full covariances + reg_covar·I), as scikit-learn
    computes them (N_k carries its 10·eps, so an emptied component does not divide by zero)."""
    x, r = np.asarray(points, np.float64), np.asarray(responsibilities, np.float64)
    nk = r.sum(axis=0) + 10 * np.finfo(np.float64).eps
    means = r.T @ x / nk[:, None]
    d = x.shape[1]
    covariances = np.empty((len(nk), d, d))
    for i in range(len(nk)):
        diff = x - means[i]
        covariances[i] = (r[:, i] * diff.T) @ diff / nk[i]
        covariances[i].flat[:: d + 1] += reg_covar
    return nk, means, covariances


def seeded_mixture(points: np.ndarray, k: int, seed: int = 0,
                   reg_covar: float = REG_COVAR) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Initial (weights, means, covariances) for EM: means at the k-means++ centres of
    :func:`seeded_centres` (where k-means with the same seed starts), weights and covariances
    of the points nearest to each centre, so the first ellipses already outline regions."""
    x = _as_points(points)
    centres = seeded_centres(x, k, seed)
    labels = np.argmin(squared_distances(x, centres), axis=1)
    counts = np.bincount(labels, minlength=k)
    d = x.shape[1]
    overall = np.atleast_2d(np.cov(x, rowvar=False, bias=True)) if len(x) > 1 else np.zeros((d, d))
    covariances = np.empty((k, d, d))
    for i in range(k):
        members = x[labels == i]
        cov = np.atleast_2d(np.cov(members, rowvar=False, bias=True)) if len(members) > 1 else overall
        covariances[i] = cov + reg_covar * np.eye(d)
    weights = np.maximum(counts, 1) / np.maximum(counts, 1).sum()
    return weights, centres, covariances
