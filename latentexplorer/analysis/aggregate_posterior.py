"""The aggregate posterior q(z) = (1/N) Σ q(z|xₙ) against the prior p(z) = N(0, I).

Sampling a model decodes z ~ p(z), so what it generates well is where q(z), the codes the
decoder was trained on, and p(z) agree. In a 2-D view both are densities: each q(z|xₙ) =
N(μₙ, diag σₙ²) maps through the view's affine projection to a 2-D Gaussian, and so does the
prior. Where p has mass and q has almost none (holes) prior samples decode to something the
decoder never saw. KL(q(z) ‖ p(z)) in the full latent space is the number behind the picture:
the part of the ELBO's KL term that the prior could still win back (Hoffman & Johnson 2016).

Densities are cell averages (a Gaussian's mass in each grid cell ÷ the cell's area), so a
posterior narrower than a cell still counts, and the grid integrates to the mass it covers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from latentexplorer.analysis.projection import Projection

MIN_SAMPLES = 32_768
"""Draws of the correlated part of the projected posteriors (full-covariance views): at least
this many in all, at least one per item."""
ITEM_CHUNK = 4096  # items per block of the separable product: stays in cache, bounds memory
HOLE_RATIO = 0.05  # q below this share of p is a hole
PRIOR_LEVEL = math.exp(-2.0)
"""p above this share of its peak: inside the prior's 2σ ellipse (86 % of its mass in 2-D)."""
KDE_SCALE = 0.5
"""Point posteriors' kernel, as a share of Scott's bandwidth: codes cluster (by class), and
Scott's rule, made for one Gaussian, would blur the clusters together."""
KL_BLOCK = 2**19
"""Samples × components per block of aggregate_kl: 4 MB of float64 stays in cache (a 65 MB
block took 3× as long per element)."""


@dataclass(frozen=True)
class KLEstimate:
    """A Monte-Carlo KL(q(z) ‖ p(z)) in nats: `kl` ± `se` from `samples` draws of q(z), the
    mixture of `items` posteriors; `note` says why it is not finite, or None."""

    kl: float
    se: float
    samples: int
    items: int
    note: str | None = None


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around increasing grid centres: midpoints, the ends half a step out."""
    c = np.asarray(centres, np.float64)
    if c.ndim != 1 or len(c) < 2 or np.any(np.diff(c) <= 0):
        raise ValueError("grid axes must be increasing 1-D arrays of at least 2 points")
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])


def _cell_mass(edges: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Mass of N(mean, std²) (one per row) in each cell between consecutive edges.

    Tail probabilities Φ(−|t|) are differenced, not Φ(t), so a cell far above a mean keeps its
    small mass in float32 instead of the rounding of 1 − 1; std 0 gives the indicator.
    """
    t = (edges[None, :] - mean[:, None]).mul_(std.clamp_min(1e-30).reciprocal()[:, None])
    tail = torch.special.ndtr(t.abs().neg_())
    same_side = (t[:, :-1] * t[:, 1:]) >= 0
    ta, tb = tail[:, :-1], tail[:, 1:]
    return torch.where(same_side, (ta - tb).abs_(), (1.0 - ta).sub_(tb).clamp_min_(0.0))


def _separable(mx: np.ndarray, my: np.ndarray, sx: np.ndarray, sy: np.ndarray, xs: np.ndarray,
               ys: np.ndarray) -> np.ndarray:
    """Mean over rows of the axis-aligned Gaussians' cell-averaged densities: D = Pyᵀ Px / N,
    one matrix product per block of items."""
    ex, ey = _edges(xs), _edges(ys)
    txe, tye = (torch.as_tensor(e, dtype=torch.float32) for e in (ex, ey))
    total = torch.zeros(len(ys), len(xs), dtype=torch.float32)
    for start in range(0, len(mx), ITEM_CHUNK):
        part = slice(start, start + ITEM_CHUNK)
        px = _cell_mass(txe, *(torch.as_tensor(v[part], dtype=torch.float32) for v in (mx, sx)))
        py = _cell_mass(tye, *(torch.as_tensor(v[part], dtype=torch.float32) for v in (my, sy)))
        total += py.T @ px
    area = np.outer(np.diff(ey), np.diff(ex))
    return total.double().numpy() / (max(len(mx), 1) * area)


def _check_codes(mu: np.ndarray, logvar: np.ndarray, dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    mu = np.asarray(mu, np.float64)
    var = np.exp(np.asarray(logvar, np.float64))  # log σ² = −inf (a point posterior) → 0
    if mu.ndim != 2 or var.shape != mu.shape:
        raise ValueError(f"expected μ and log σ² of the same shape N×D, got {mu.shape} and {var.shape}")
    if dim is not None and mu.shape[1] != dim:
        raise ValueError(f"the projection expects {dim}-D codes, got {mu.shape[1]}-D")
    return mu, var


def aggregate_density(mu: np.ndarray, logvar: np.ndarray, projection: Projection, xs: np.ndarray,
                      ys: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Density of the projected q(z) at the grid's cells (len(ys) × len(xs), per unit area).

    Each item projects to N(mₙ, Sₙ) with Sₙ = A diag(σₙ²) Aᵀ. Where Sₙ is axis-aligned (the
    "dims" view, always) the density is separable per item and exact: the mean over items of
    the outer products of each axis's cell masses, one matrix product. A full Sₙ (PCA and FA
    views) is split into an axis-aligned part (1 − |ρₙ|)·diag(Sₙ), still exact, and a rank-one
    part along the correlation's direction, which is sampled (seeded; at least MIN_SAMPLES
    draws in all): a Rao-Blackwellised mixture whose noise shrinks with |ρ|, vectorised.
    Point posteriors (an autoencoder's, σ = 0) become a smoothed histogram of the projected μ:
    a Gaussian kernel per axis of half Scott's bandwidth (n^(−1/6) · spread / 2), at least a
    cell wide.
    """
    mu, var = _check_codes(mu, logvar, projection.dim)
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    if len(mu) == 0:
        return np.zeros((len(ys), len(xs)))
    a = projection.matrix
    m = projection.transform(mu)
    sxx, syy, sxy = var @ a[0] ** 2, var @ a[1] ** 2, var @ (a[0] * a[1])
    point = ~np.any(var > 0, axis=1)
    if point.any():
        widths = np.median(np.diff(xs)), np.median(np.diff(ys))
        spread = KDE_SCALE * m[point].std(axis=0) * point.sum() ** (-1 / 6)
        bandwidth = np.maximum(spread, widths) ** 2
        sxx, syy = np.where(point, bandwidth[0], sxx), np.where(point, bandwidth[1], syy)
    scale = np.sqrt(sxx * syy)
    rho = np.divide(sxy, scale, out=np.zeros_like(sxy), where=scale > 0).clip(-1.0, 1.0)
    if not np.any(rho):
        return _separable(m[:, 0], m[:, 1], np.sqrt(sxx), np.sqrt(syy), xs, ys)
    repeats = max(1, math.ceil(MIN_SAMPLES / len(m)))
    t = np.random.default_rng(seed).standard_normal((repeats, len(m)))
    r = np.sqrt(np.abs(rho))
    cx = (m[:, 0] + t * r * np.sqrt(sxx)).ravel()
    cy = (m[:, 1] + t * r * np.sign(rho) * np.sqrt(syy)).ravel()
    keep = np.sqrt(1.0 - np.abs(rho))
    sx, sy = np.tile(keep * np.sqrt(sxx), repeats), np.tile(keep * np.sqrt(syy), repeats)
    return _separable(cx, cy, sx, sy, xs, ys)


def prior_density(projection: Projection, latent_dim: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Density of the projected prior N(A(0 − offset), A Aᵀ) at the grid (len(ys) × len(xs)).

    Cell-averaged like q's when A Aᵀ is diagonal (the dims and PCA views), so the two compare
    cell for cell; evaluated at the cell centres otherwise (FA).
    """
    if latent_dim != projection.dim:
        raise ValueError(f"the projection expects {projection.dim}-D codes, not {latent_dim}-D")
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    mean = projection.transform(np.zeros(latent_dim))
    cov = projection.matrix @ projection.matrix.T
    if abs(cov[0, 1]) <= 1e-12 * max(cov[0, 0], cov[1, 1], 1e-300):
        sd = np.sqrt(np.diag(cov))
        return _separable(mean[:1], mean[1:], sd[:1], sd[1:], xs, ys)
    inverse = np.linalg.inv(cov)
    dx, dy = xs[None, :] - mean[0], ys[:, None] - mean[1]
    q = inverse[0, 0] * dx**2 + 2 * inverse[0, 1] * dx * dy + inverse[1, 1] * dy**2
    return np.exp(-0.5 * q) / (2 * math.pi * math.sqrt(np.linalg.det(cov)))


def prior_peak(projection: Projection) -> float:
    """The projected prior's largest density, 1 / (2π √det(A Aᵀ)); inf if the view is
    degenerate (a 1-D latent, an inactive FA factor)."""
    det = float(np.linalg.det(projection.matrix @ projection.matrix.T))
    return 1.0 / (2 * math.pi * math.sqrt(det)) if det > 0 else math.inf


def holes(q_density: np.ndarray, p_density: np.ndarray, *, ratio: float = HOLE_RATIO,
          level: float = PRIOR_LEVEL, p_peak: float | None = None) -> np.ndarray:
    """Cells where the prior puts mass and q(z) has almost none: p ≥ level·peak (inside the
    prior's 2σ ellipse by default) and q < ratio·p (a twentieth).

    The peak defaults to the largest p on the grid, right when the view shows the prior's
    centre; pass `prior_peak(projection)` otherwise.
    """
    q, p = np.asarray(q_density, np.float64), np.asarray(p_density, np.float64)
    if q.shape != p.shape:
        raise ValueError(f"q and p must be on the same grid, got {q.shape} and {p.shape}")
    peak = float(p.max()) if p_peak is None else float(p_peak)
    return (p >= level * peak) & (q < ratio * p)


def aggregate_kl(mu: np.ndarray, logvar: np.ndarray, *, samples: int = 1000, seed: int = 0) -> KLEstimate:
    """KL(q(z) ‖ p(z)) in the full latent space, by Monte Carlo over M = `samples` draws.

    z_m ~ q(z): an item uniformly, then z ~ q(z|xₙ). log q(z_m) is the exact mixture over all
    N items, logsumexp_n log N(z_m; μₙ, σₙ²) − log N (two matrix products per block of items,
    float64, in cache-sized blocks); log p(z_m) = log N(z_m; 0, I). kl is the mean of
    log q − log p, se its standard deviation / √M. A point posterior (σ = 0: an autoencoder)
    makes q(z) a sum of spikes, whose KL to any density is infinite: kl = inf with a note.
    """
    mu, var = _check_codes(mu, logvar)
    n, dim = mu.shape
    if n == 0:
        raise ValueError("the aggregate posterior needs at least one item")
    if samples < 2:
        raise ValueError(f"samples must be at least 2, got {samples}")
    if not np.all(var > 0) or not np.all(np.isfinite(var)):
        return KLEstimate(math.inf, math.nan, 0, n, "not defined: the posteriors have zero variance "
                          "(an autoencoder), so q(z) is a set of points and KL(q ‖ p) is infinite")
    rng = np.random.default_rng(seed)
    which = rng.integers(0, n, samples)
    z = torch.as_tensor(mu[which] + np.sqrt(var[which]) * rng.standard_normal((samples, dim)))
    precision = torch.as_tensor(1.0 / var)
    scaled = torch.as_tensor(mu) * precision
    const = (torch.as_tensor(mu) * scaled).sum(1) + torch.as_tensor(np.log(var)).sum(1) + dim * math.log(2 * math.pi)
    z2 = z * z
    log_q = torch.full((samples,), -math.inf, dtype=torch.float64)
    chunk = max(64, KL_BLOCK // samples)
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        quad = torch.addmm(const[part][None, :], z2, precision[part].T)
        quad.addmm_(z, scaled[part].T, alpha=-2.0)  # (z − μ)ᵀ Σ⁻¹ (z − μ) + log det + D log 2π
        log_q = torch.logaddexp(log_q, torch.logsumexp(quad.mul_(-0.5), dim=1))
    log_q -= math.log(n)
    log_p = -0.5 * (z2.sum(1) + dim * math.log(2 * math.pi))
    d = (log_q - log_p).numpy()
    return KLEstimate(float(d.mean()), float(d.std(ddof=1) / math.sqrt(samples)), samples, n)
