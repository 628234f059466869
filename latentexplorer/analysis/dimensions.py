"""Per-dimension statistics of a set of codes, and the grids of codes the sliders' figures
decode: the β-VAE traversal and the Kingma & Welling manifold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIVE_VARIANCE = 0.01  # Burda et al.: a dimension is active when Var(μ_j) exceeds this


@dataclass(frozen=True)
class DimensionStats:
    order: np.ndarray  # dimensions, most informative first (by KL, or by variance for an AE)
    kl: np.ndarray | None
    variance: np.ndarray
    active: np.ndarray
    low: np.ndarray  # slider range
    high: np.ndarray


def dimension_stats(mu: np.ndarray, logvar: np.ndarray, variational: bool) -> DimensionStats:
    """Per latent dimension: average KL (VAEs), variance of μ over the data, activity and the
    slider range (±3 prior σ for a VAE, whose prior is N(0, I); ±3 code σ for an AE)."""
    mu = np.asarray(mu, np.float64)
    var = mu.var(axis=0)
    if variational:
        lv = np.asarray(logvar, np.float64)
        kl = (0.5 * (mu**2 + np.exp(lv) - 1.0 - lv)).mean(axis=0)
        order = np.argsort(-kl, kind="stable")
        low, high = np.full_like(var, -3.0), np.full_like(var, 3.0)
    else:
        kl = None
        order = np.argsort(-var, kind="stable")
        spread = 3.0 * np.sqrt(np.maximum(var, 1e-12))
        centre = mu.mean(axis=0)
        low, high = centre - spread, centre + spread
    return DimensionStats(order=order, kl=kl, variance=var, active=var > ACTIVE_VARIANCE, low=low, high=high)


def traversal_codes(stats: DimensionStats, base: np.ndarray, dims: list[int],
                    steps: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Each dimension of `dims` swept over its slider range, the others at `base`.
    Returns (values: len(dims)×steps, codes: len(dims)×steps×D)."""
    base = np.asarray(base, np.float64)
    values = np.stack([np.linspace(stats.low[d], stats.high[d], steps) for d in dims])
    zs = np.repeat(base[None, None], steps, axis=1).repeat(len(dims), axis=0).copy()
    for row, d in enumerate(dims):
        zs[row, :, d] = values[row]
    return values, zs


def manifold_codes(n: int = 15) -> np.ndarray:
    """An n×n grid of 2-D codes placed through the inverse Gaussian CDF, so each cell holds
    equal prior mass (Kingma & Welling 2014, Fig. 4); rows top (y high) to bottom. n²×2."""
    from scipy.stats import norm

    grid = norm.ppf(np.linspace(0.5 / n, 1 - 0.5 / n, n))
    return np.array([[x, y] for y in grid[::-1] for x in grid])
