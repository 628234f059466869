"""The aggregate posterior against the prior, ready to draw in a 2-D view: q(z) and p(z) on a
grid, the holes, and their colours. Shared by the Explorer's layer and the Compare tab, so the
two rooms show the same picture of the same numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentexplorer.analysis import mixture as mix
from latentexplorer.analysis.aggregate_posterior import (
    aggregate_density,
    holes,
    prior_density,
    prior_peak,
)

Q_RGB = (31, 100, 190)
HOLE_RGB = (214, 39, 40)


@dataclass(frozen=True)
class AggregateView:
    """q(z) and p(z) on the grid xs × ys of a view, and where q leaves the prior's mass empty."""

    xs: np.ndarray
    ys: np.ndarray
    q: np.ndarray
    p: np.ndarray
    holes: np.ndarray
    p_peak: float  # the projected prior's largest density (its 2σ ellipse is at e⁻²·peak)

    @property
    def hole_fraction(self) -> float:
        """The share of the prior's 2σ region on the grid that is a hole."""
        inside = self.p >= self.p_peak * np.exp(-2.0)
        return float(self.holes[inside].mean()) if inside.any() else 0.0

    def rgba(self, opacity: float) -> tuple[np.ndarray, np.ndarray]:
        """(q(z) in blue, alpha rising with the density; the holes in red), rows along ys."""
        q = self.q / max(float(self.q.max()), 1e-300)
        shade = np.zeros((*q.shape, 4), np.uint8)
        shade[..., :3] = Q_RGB
        shade[..., 3] = np.clip(255 * opacity * np.sqrt(q), 0, 255).astype(np.uint8)
        hole = np.zeros((*q.shape, 4), np.uint8)
        hole[self.holes] = (*HOLE_RGB, int(110 * opacity))
        return shade, hole


def density_in_view(mu: np.ndarray, logvar: np.ndarray, projection, latent_dim: int, xs: np.ndarray,
                    ys: np.ndarray) -> AggregateView:
    """q(z), p(z) and the holes on the grid (runs in a task)."""
    q = aggregate_density(mu, logvar, projection, xs, ys)
    p = prior_density(projection, latent_dim, xs, ys)
    peak = prior_peak(projection)
    return AggregateView(xs, ys, q, p, holes(q, p, p_peak=peak), peak)


def prior_contours(projection, latent_dim: int, sigmas=(1.0, 2.0, 3.0)) -> list[np.ndarray]:
    """The projected prior N(0, I)'s n-σ ellipses, as closed polygons."""
    centre = projection.transform(np.zeros(latent_dim))
    cov = projection.project_covariance(np.eye(latent_dim))
    return [mix.ellipse(centre, cov, float(s)) for s in sigmas]


def covering_grid(xy: np.ndarray, projection, latent_dim: int, n: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """A square grid holding the codes and the prior's 3σ region (the Compare tab's fixed view)."""
    ring = prior_contours(projection, latent_dim, (3.0,))[0]
    both = np.concatenate([xy, ring])
    lo, hi = both.min(axis=0), both.max(axis=0)
    pad = 0.05 * (hi - lo).max()
    lo, hi = lo - pad, hi + pad
    return np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
