"""q(z|x) drawn in a 2-D view: the 1σ and 2σ contours of the posterior's covariance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentexplorer.analysis.mixture import ellipse
from latentexplorer.analysis.projection import Projection


@dataclass(frozen=True)
class PosteriorShape:
    """One code's posterior in the current view: its μ and the 1σ and 2σ contours of the
    posterior's covariance projected by the view (exact: the views are linear)."""

    centre: np.ndarray
    one_sigma: np.ndarray
    two_sigma: np.ndarray


def posterior_shape(projection: Projection, mu: np.ndarray, logvar: np.ndarray,
                    shared_covariance: np.ndarray | None = None) -> PosteriorShape:
    """N(μ, diag σ²) in the view; factor analysis passes its full covariance, shared by all items."""
    cov = shared_covariance if shared_covariance is not None else np.diag(np.exp(np.asarray(logvar, np.float64)))
    centre = projection.transform(np.asarray(mu, np.float64))
    cov2 = projection.project_covariance(cov)
    return PosteriorShape(centre, ellipse(centre, cov2, 1.0), ellipse(centre, cov2, 2.0))
