"""The true posterior p(z|x) ∝ p(x|z) p(z) of one item, on a grid, for models with a 2-D latent.

With two latent dimensions the posterior can be computed, not approximated: p(x|z) p(z) on a
fine grid, normalised, is p(z|x), and its sum is p(x). Beside the encoder's q(z|x) it shows
what the ELBO gives up: gap = log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)), the price of the
approximate posterior, and IWAE-k shows how much of it k importance samples win back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from latentexplorer.analysis.metrics import iwae_bound, log_weights
from latentexplorer.models import LatentModel, Posterior, prior_log_prob

EDGE_TOLERANCE = 1e-4
"""Posterior mass in the grid's outer ring above which the region is widened (and, if it
stays, reported as not covering the posterior)."""
PRIOR_HALF_WIDTH = 4.0  # the prior's ±4 box: 1 − 6e-5 of N(0, 1) per axis
Q_HALF_WIDTH = 6.0  # q(z|x)'s ±6σ box
WIDEN_ROUNDS = 3
ZOOM_ROUNDS = 4
MASS_LOG_FLOOR = -18.0
"""Cells whose log density is this far below the peak hold no mass worth a grid point (a
Gaussian's ±6σ); the grid zooms onto the rest, so the peak is resolved by ~100 points a side."""
ZOOM_GAIN = 0.6  # zoom again only while the box shrinks below this share of a side
MIN_PEAK_CELLS = 16  # cells within 2 nats of the peak for the Riemann sum to be trusted
DEFAULT_RESOLUTION = 101
GRID_CHUNK = 4096  # grid points decoded at once: bounds memory for large images


@dataclass(frozen=True, eq=False)
class Evidence:
    """log p(x) of one item from the grid posterior, with the bounds it is compared against.

    `log_post` (len(ys) × len(xs)) is normalised so exp(log_post)·Δx·Δy sums to 1 over the
    grid; `mean` and `cov` are its moments. `q_*` describe the encoder's q(z|x) (`q_cov` is
    diag(σ²) unless the model gives a full covariance, as factor analysis does). `elbo` (the mean
    log weight) and `iwae` (IWAE-k) use the same k seeded samples of q; both are NaN for a point posterior (an autoencoder, PCA). `gap` = log_px −
    elbo = KL(q(z|x) ‖ p(z|x)). `region` (x0, x1, y0, y1) is the area searched, `edge_mass`
    the largest share of the posterior found in an outer ring of grid cells; `covered` is
    False, with a `warning`, when the mass reaches the region's edge or the peak is too
    narrow for the grid.
    """

    log_px: float
    xs: np.ndarray
    ys: np.ndarray
    log_post: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    q_mu: np.ndarray
    q_sigma: np.ndarray
    q_cov: np.ndarray
    elbo: float
    iwae: float
    k: int
    gap: float
    edge_mass: float
    covered: bool
    warning: str | None
    region: tuple[float, float, float, float]


def check_two_dimensional(model: LatentModel) -> None:
    """Refuse a model whose latent is not 2-D: the grid is what makes the posterior exact,
    and a grid's cost grows as resolution^d."""
    if model.latent_dim != 2:
        raise ValueError(
            f"the true posterior is computed on a grid for 2-D latents only; this model's latent "
            f"has {model.latent_dim} dimensions"
        )


def _dtype(model: LatentModel) -> torch.dtype:
    """The model's own float type: float64 for the linear models, so their closed forms hold."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _item(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one item of shape 1×C×H×W, got {tuple(x.shape)}")
    return x


@torch.no_grad()
def log_joint_grid(model: LatentModel, x: torch.Tensor, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """log p(x|z) + log p(z) at z = (xs[j], ys[i]), as a len(ys) × len(xs) float64 array.

    Decodes the grid in batches through the model's own `log_px_given_z` (a sequence VAE's
    teacher-forced likelihood included); the model should be in eval mode.
    """
    check_two_dimensional(model)
    dtype, device = _dtype(model), model.device
    x = _item(x).to(device=device, dtype=dtype)
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    gx, gy = np.meshgrid(xs, ys)
    z = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=dtype, device=device)
    out = np.empty(len(z))
    for start in range(0, len(z), GRID_CHUNK):
        chunk = z[start:start + GRID_CHUNK]
        ll = model.log_px_given_z(x.expand(len(chunk), *x.shape[1:]), chunk)
        out[start:start + len(chunk)] = (ll + prior_log_prob(chunk)).double().cpu().numpy()
    return out.reshape(len(ys), len(xs))


def _axes(region: tuple[float, float, float, float], n: int) -> tuple[np.ndarray, np.ndarray]:
    x0, x1, y0, y1 = region
    return np.linspace(x0, x1, n), np.linspace(y0, y1, n)


def _normalised(lj: np.ndarray) -> np.ndarray:
    """Posterior mass per cell (sums to 1)."""
    p = np.exp(lj - lj.max())
    return p / p.sum()


def _edge_masses(mass: np.ndarray) -> tuple[float, float, float, float, float]:
    """Mass in the outer ring, then in the left, right, bottom and top edge lines."""
    inner = mass[1:-1, 1:-1].sum() if min(mass.shape) > 2 else 0.0
    return (float(1.0 - inner), float(mass[:, 0].sum()), float(mass[:, -1].sum()),
            float(mass[0].sum()), float(mass[-1].sum()))


def _widen(region: tuple[float, float, float, float], mass: np.ndarray) -> tuple[float, float, float, float]:
    """Push out by the region's width (or height) each side whose edge line holds mass; all
    four when the mass is spread along the ring with no side above the tolerance."""
    x0, x1, y0, y1 = region
    w, h = x1 - x0, y1 - y0
    _, left, right, bottom, top = _edge_masses(mass)
    sides = [m > EDGE_TOLERANCE / 4 for m in (left, right, bottom, top)]
    if not any(sides):
        sides = [True] * 4
    return (x0 - w * sides[0], x1 + w * sides[1], y0 - h * sides[2], y1 + h * sides[3])


def _mass_box(lj: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[float, float, float, float]:
    """The cells within MASS_LOG_FLOOR of the peak, padded by one cell and kept in the grid."""
    rows, cols = np.nonzero(lj >= lj.max() + MASS_LOG_FLOOR)
    i0, i1 = max(rows.min() - 1, 0), min(rows.max() + 1, len(ys) - 1)
    j0, j1 = max(cols.min() - 1, 0), min(cols.max() + 1, len(xs) - 1)
    return float(xs[j0]), float(xs[j1]), float(ys[i0]), float(ys[i1])


def _q_summary(model: LatentModel, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray, Posterior]:
    posterior = model.encode(x.to(device=model.device, dtype=_dtype(model)))
    mu = posterior.mu[0].double().cpu().numpy()
    if posterior.cov is not None:
        cov = posterior.cov.double().cpu().numpy().reshape(-1, 2, 2)[0]
    else:
        cov = np.diag(np.exp(posterior.logvar[0].double().cpu().numpy()))
    return mu, np.sqrt(np.diag(cov)), cov, posterior


def _bounds(model: LatentModel, x: torch.Tensor, posterior: Posterior, cov: np.ndarray, k: int,
            seed: int) -> tuple[float, float]:
    """(ELBO, IWAE-k) of one item from the same k seeded samples of q(z|x), the global RNG
    untouched. The ELBO is the mean log weight, as in `evaluation.iwae_curve`: its variance
    vanishes as q approaches p(z|x), so an exact posterior (factor analysis) gives gap 0."""
    if not np.all(np.isfinite(cov)) or np.linalg.det(cov) <= 0:
        return float("nan"), float("nan")
    mu = posterior.mu[:1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if posterior.cov is None:
            log_w, _ = log_weights(model, x, k, chunk=min(k, 512))
        else:  # a full covariance (factor analysis): log_weights samples the diagonal only
            log_w = _full_cov_weights(model, x, mu, torch.as_tensor(cov, dtype=mu.dtype), k)
    log_w = log_w.double()
    return float(log_w.mean()), float(iwae_bound(log_w)[0])


def _full_cov_weights(model: LatentModel, x: torch.Tensor, mu: torch.Tensor, cov: torch.Tensor,
                      k: int, chunk: int = 512) -> torch.Tensor:
    """As `metrics.log_weights` (1 × k log weights) for one item whose q(z|x) = N(mu, cov) has
    a full covariance."""
    q = torch.distributions.MultivariateNormal(mu[0], covariance_matrix=cov)
    log_w = []
    for start in range(0, k, chunk):
        z = q.sample((min(chunk, k - start),))
        ll = model.log_px_given_z(x.expand(len(z), *x.shape[1:]), z)
        log_w.append(ll + prior_log_prob(z) - q.log_prob(z))
    return torch.cat(log_w)[None]


def _moments(mass: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    px, py = mass.sum(0), mass.sum(1)
    mean = np.array([px @ xs, py @ ys])
    dx, dy = xs - mean[0], ys - mean[1]
    cxy = dy @ mass @ dx
    cov = np.array([[px @ dx**2, cxy], [cxy, py @ dy**2]])
    return mean, cov


@torch.no_grad()
def evidence(
    model: LatentModel,
    x: torch.Tensor,
    *,
    k: int = 1000,
    seed: int = 0,
    resolution: int = DEFAULT_RESOLUTION,
    region: tuple[float, float, float, float] | None = None,
) -> Evidence:
    """log p(x) by integrating p(x|z) p(z) over a grid that covers the posterior's mass.

    The region starts as q(z|x)'s mean ± 6σ merged with the prior's ±4 box and is widened
    (up to 3 times) while more than 1e-4 of the mass lies in its outer ring; the grid then
    zooms onto the cells within 18 nats of the peak (up to 4 times), so a narrow posterior is
    still resolved by ~resolution points a side. log p(x) = logsumexp(log joint) + log(ΔxΔy).
    `region` (x0, x1, y0, y1) fixes the area instead: no widening, so a region that cuts the
    posterior off is reported (covered False), not corrected.
    """
    check_two_dimensional(model)
    if resolution < 8:
        raise ValueError(f"resolution must be at least 8 points a side, got {resolution}")
    if k < 1:
        raise ValueError(f"k must be at least 1 importance sample, got {k}")
    x = _item(x).to(device=model.device, dtype=_dtype(model))
    q_mu, q_sigma, q_cov, posterior = _q_summary(model, x)
    if region is None:
        reach = np.where(np.isfinite(q_sigma), Q_HALF_WIDTH * q_sigma, 0.0)
        lo = np.minimum(q_mu - reach, -PRIOR_HALF_WIDTH)
        hi = np.maximum(q_mu + reach, PRIOR_HALF_WIDTH)
        box = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
    else:
        box = tuple(float(v) for v in region)
        if not (box[0] < box[1] and box[2] < box[3]):
            raise ValueError(f"a region is (x0, x1, y0, y1) with x0 < x1 and y0 < y1, got {region}")
    for round_ in range(WIDEN_ROUNDS + 1):
        xs, ys = _axes(box, resolution)
        lj = _finite(log_joint_grid(model, x, xs, ys))
        edge = _edge_masses(_normalised(lj))[0]
        if region is not None or edge <= EDGE_TOLERANCE or round_ == WIDEN_ROUNDS:
            break
        box = _widen(box, _normalised(lj))
    for _ in range(ZOOM_ROUNDS):
        zoom = _mass_box(lj, xs, ys)
        if zoom[1] - zoom[0] > ZOOM_GAIN * (xs[-1] - xs[0]) and zoom[3] - zoom[2] > ZOOM_GAIN * (ys[-1] - ys[0]):
            break
        xs, ys = _axes(zoom, resolution)
        lj = _finite(log_joint_grid(model, x, xs, ys))
        edge = max(edge, _edge_masses(_normalised(lj))[0])
    cell = (xs[1] - xs[0]) * (ys[1] - ys[0])
    peak = lj.max()
    log_px = float(peak + np.log(np.exp(lj - peak).sum()) + math.log(cell))
    mass = _normalised(lj)
    mean, cov = _moments(mass, xs, ys)
    warnings = []
    if edge > EDGE_TOLERANCE:
        warnings.append(f"the posterior's mass reaches the edge of the region ({edge:.1e} of it in "
                        "the outer ring): log p(x) may be too low")
    peak_cells = int((lj >= peak - 2.0).sum())
    if peak_cells < MIN_PEAK_CELLS:
        warnings.append(f"the posterior's peak spans only {peak_cells} grid cells: log p(x) may be "
                        "inaccurate; raise the resolution")
    elbo, iwae = _bounds(model, x, posterior, q_cov, k, seed)
    return Evidence(
        log_px=log_px, xs=xs, ys=ys, log_post=lj - log_px, mean=mean, cov=cov,
        q_mu=q_mu, q_sigma=q_sigma, q_cov=q_cov, elbo=elbo, iwae=iwae, k=k, gap=log_px - elbo,
        edge_mass=edge, covered=not warnings, warning="; ".join(warnings) or None, region=box,
    )


def _finite(lj: np.ndarray) -> np.ndarray:
    if np.isnan(lj).any() or not np.isfinite(lj.max()):
        raise ValueError("the model's log p(x|z) p(z) is not finite on the grid")
    return lj
