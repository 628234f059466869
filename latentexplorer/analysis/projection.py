"""2-D views of a d-dimensional latent space, each with an exact inverse.

Every view is linear, ``xy = (z - offset) @ matrix.T``, so the scatter can draw codes, Gaussian
means and covariance ellipses in the same frame, and a point the user clicks or drags to maps
back to a full latent vector (the rest of which comes from a base code) for the decoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# scikit-learn is imported by the PCA and FA views only: the default view (two dimensions) needs
# none of it, and importing it would delay the app's first picture by ~1 s.

PROJECTIONS = ("dims", "pca", "fa")


def _frozen(array: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A read-only float64 copy, so a frozen Projection cannot be changed through its arrays."""
    out = np.array(array, dtype=np.float64, copy=True)
    if shape is not None and out.shape != shape:
        raise ValueError(f"expected shape {shape}, got {out.shape}")
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Projection:
    """A linear 2-D view of latent codes: ``transform(z) = (z - offset) @ matrix.T``.

    ``mean`` is the codes' mean: the default base for :meth:`inverse`, so a point clicked on an
    empty canvas decodes with the other coordinates at their average.
    """

    kind: str
    matrix: np.ndarray
    offset: np.ndarray
    labels: tuple[str, str]
    mean: np.ndarray
    info: dict = field(default_factory=dict)
    _pinv: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        matrix = _frozen(self.matrix)
        if matrix.ndim != 2 or matrix.shape[0] != 2 or matrix.shape[1] < 1:
            raise ValueError(f"a projection matrix is 2×D, got shape {matrix.shape}")
        dim = matrix.shape[1]
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "offset", _frozen(self.offset, (dim,)))
        object.__setattr__(self, "mean", _frozen(self.mean, (dim,)))
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "_pinv", _frozen(np.linalg.pinv(matrix)))  # D×2

    @property
    def dim(self) -> int:
        """Latent dimension D the projection expects."""
        return self.matrix.shape[1]

    def _codes(self, codes: np.ndarray) -> np.ndarray:
        z = np.asarray(codes, dtype=np.float64)
        if z.ndim not in (1, 2) or z.shape[-1] != self.dim:
            raise ValueError(
                f"expected codes of shape (N, {self.dim}) or ({self.dim},), got {z.shape}"
            )
        return z

    def transform(self, codes: np.ndarray) -> np.ndarray:
        """N×D codes → N×2 view coordinates (a single D vector → (2,))."""
        return (self._codes(codes) - self.offset) @ self.matrix.T

    def inverse(self, xy: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """Full latent vectors that land on ``xy`` and differ from ``base`` as little as possible.

        ``base + pinv(matrix) @ (xy - transform(base))``: only the in-view component of base is
        replaced (for "dims" exactly the two shown coordinates), so dragging a point keeps what
        the view does not show. ``base`` defaults to the codes' mean; it may be one D vector or
        one per point (M×D).
        """
        xy = np.asarray(xy, dtype=np.float64)
        if xy.shape[-1:] != (2,) or xy.ndim > 2:
            raise ValueError(f"expected points of shape (M, 2) or (2,), got {xy.shape}")
        base = self.mean if base is None else self._codes(base)
        return base + (xy - self.transform(base)) @ self._pinv.T

    def project_covariance(self, cov: np.ndarray) -> np.ndarray:
        """(…×D×D) latent covariances → (…×2×2) covariances in this view: ``A Σ Aᵀ``.

        Exact for a linear map, so GMM ellipses drawn from it match the projected samples.
        """
        cov = np.asarray(cov, dtype=np.float64)
        if cov.shape[-2:] != (self.dim, self.dim):
            raise ValueError(
                f"expected covariances of shape (..., {self.dim}, {self.dim}), got {cov.shape}"
            )
        return self.matrix @ cov @ self.matrix.T


def _as_codes(codes: np.ndarray) -> np.ndarray:
    z = np.asarray(codes, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 1:
        raise ValueError(f"expected latent codes of shape (N, D) with D ≥ 1, got {z.shape}")
    return z


def _mean(z: np.ndarray) -> np.ndarray:
    return z.mean(axis=0) if len(z) else np.zeros(z.shape[1])


def dims_projection(codes: np.ndarray, i: int, j: int) -> Projection:
    """View two latent coordinates as they are: x = z_i, y = z_j (the most literal view)."""
    z = _as_codes(codes)
    dim = z.shape[1]
    for name, k in (("i", i), ("j", j)):
        if not 0 <= k < dim:
            raise ValueError(
                f"dimension {name}={k} is out of range for a {dim}-D latent (0..{dim - 1})"
            )
    if i == j:
        raise ValueError(f"choose two different dimensions, got z{i} twice")
    matrix = np.zeros((2, dim))
    matrix[0, i] = matrix[1, j] = 1.0
    return Projection("dims", matrix, np.zeros(dim), (f"z{i}", f"z{j}"), _mean(z))


def line_projection(codes: np.ndarray) -> Projection:
    """The view of a 1-D latent: x = z0, y = 0 (labels "z0", "").

    A 1-D latent has no second axis, so y carries nothing: ``inverse`` ignores it and
    ``transform(inverse(xy))`` returns (x, 0).
    """
    z = _as_codes(codes)
    if z.shape[1] != 1:
        raise ValueError(f"the line view is for 1-D latents, got D={z.shape[1]}")
    return Projection("dims", np.array([[1.0], [0.0]]), np.zeros(1), ("z0", ""), _mean(z))


def _check_fit(z: np.ndarray, what: str) -> None:
    if z.shape[1] < 2:
        raise ValueError(f"{what} needs a latent with at least 2 dimensions, got D={z.shape[1]}")
    if len(z) < 2:
        raise ValueError(f"{what} needs at least 2 codes, got {len(z)}")


def pca_projection(codes: np.ndarray, seed: int = 0) -> Projection:
    """The plane of greatest variance (sklearn PCA, 2 components); labels give the share of
    variance each axis explains, so the user sees how much of the latent the view hides."""
    from sklearn.decomposition import PCA

    z = _as_codes(codes)
    _check_fit(z, "PCA")
    pca = PCA(n_components=2, random_state=seed).fit(z)
    ratio = np.nan_to_num(pca.explained_variance_ratio_, nan=0.0)
    labels = (f"PC1 ({round(100 * ratio[0])}% var)", f"PC2 ({round(100 * ratio[1])}% var)")
    info = {
        "explained_variance_ratio": ratio.copy(),
        "explained_variance": pca.explained_variance_.copy(),
    }
    return Projection("pca", pca.components_, pca.mean_, labels, _mean(z), info)


FA_MAX_POINTS = 20_000
"""Factor analysis is fitted on a seeded sample of at most this many codes (then applied to all)."""


def fa_projection(codes: np.ndarray, seed: int = 0) -> Projection:
    """Two factors of a factor analysis (sklearn FactorAnalysis, 2 factors).

    Unlike PCA, FA models per-dimension noise, so dimensions that are mostly noise (collapsed
    VAE units) do not steer the view. The view is the posterior mean of the factors, identical
    to ``FactorAnalysis.transform``: ``(I + W Ψ⁻¹ Wᵀ)⁻¹ W Ψ⁻¹ (z − μ)``.

    A factor for which FA finds no common variance above the noise (always the second one for
    D == 2, and both for isotropic codes) has zero loadings, so its axis is identically 0 and
    the inverse can only honour the active axes; ``info["active_factors"]`` counts them.
    """
    from sklearn.decomposition import FactorAnalysis

    z = _as_codes(codes)
    _check_fit(z, "factor analysis")
    fit_on = z
    if len(z) > FA_MAX_POINTS:  # FA's EM is slow on big sets; the map is estimated well from a sample
        fit_on = z[np.random.default_rng(seed).choice(len(z), FA_MAX_POINTS, replace=False)]
    fa = FactorAnalysis(n_components=2, svd_method="lapack", random_state=seed).fit(fit_on)
    w_psi = fa.components_ / fa.noise_variance_  # W Ψ⁻¹, 2×D
    cov_factors = np.linalg.inv(np.eye(2) + w_psi @ fa.components_.T)  # symmetric 2×2
    matrix = cov_factors @ w_psi
    info = {
        "noise_variance": fa.noise_variance_.copy(),
        "active_factors": int(np.count_nonzero(np.any(fa.components_ != 0, axis=1))),
        "components": fa.components_.copy(),
        "log_likelihood": float(fa.loglike_[-1]) if len(fa.loglike_) else None,
    }
    return Projection("fa", matrix, fa.mean_, ("F1", "F2"), _mean(z), info)


def make_projection(
    kind: str, codes: np.ndarray, dims: tuple[int, int] = (0, 1), seed: int = 0
) -> Projection:
    """The projection the view selector names: "dims" (uses ``dims``), "pca" or "fa".

    A 1-D latent has a single sensible view, so for D == 1 every kind gives the line view
    (x = z0, y = 0, kind "dims"; see :func:`line_projection`).
    """
    if kind not in PROJECTIONS:
        raise ValueError(f"unknown projection {kind!r}; choose one of {', '.join(PROJECTIONS)}")
    z = _as_codes(codes)
    if z.shape[1] == 1:
        return line_projection(z)
    if kind == "dims":
        return dims_projection(z, int(dims[0]), int(dims[1]))
    if kind == "pca":
        return pca_projection(z, seed=seed)
    return fa_projection(z, seed=seed)
