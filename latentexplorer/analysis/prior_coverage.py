"""How well the prior N(0, I) matches where a model puts its data codes.

Sampling a model means decoding z ~ N(0, I), so what matters is whether prior samples and
data codes occupy the same region. An autoencoder is never asked to put its codes there:
its codes may spread far wider than the prior (then prior samples only ever decode to the
few classes near the origin) or sit in a corner of it (then most prior samples land in holes
and decode to garbage). A VAE's KL term pulls its aggregate posterior towards the prior.
Two figures make the mismatch measurable in either case:

- `inside`: the share of data codes inside the prior's central 95 % region
  (|z|² below the χ²_d 95 % quantile); ≈ 0.95 when codes follow N(0, I).
- `gap`: the mean distance from a data code to its nearest prior sample, in units of the
  prior samples' own nearest-neighbour spacing; about 1 when codes follow N(0, I), large
  when the prior never reaches much of the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRIOR_SAMPLES = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class PriorCoverage:
    inside: float
    gap: float
    n_samples: int

    def describe(self) -> str:
        return (f"{100 * self.inside:.0f} % of the codes lie in the prior's central 95 % region; "
                f"a code's nearest prior sample is {self.gap:.1f}× farther than prior samples "
                "are from each other")


def prior_samples(n: int, dim: int, seed: int) -> np.ndarray:
    """n draws of z ~ N(0, I) that agree in their leading coordinates for any `dim` ≤ 128,
    so two models with different latent sizes are shown the same samples where they can be."""
    return np.random.default_rng(seed).standard_normal((n, 128))[:, :dim]


def prior_coverage(codes: np.ndarray, n_samples: int = PRIOR_SAMPLES, seed: int = 0) -> PriorCoverage:
    """`inside` and `gap` (see the module's docstring) for N × d codes, with seeded samples."""
    from scipy.stats import chi2
    from sklearn.neighbors import NearestNeighbors

    codes = np.asarray(codes, np.float64)
    dim = codes.shape[1]
    inside = float((np.einsum("ij,ij->i", codes, codes) < chi2.ppf(LEVEL, dim)).mean())
    samples = prior_samples(n_samples, dim, seed)
    index = NearestNeighbors(n_neighbors=2).fit(samples)
    to_prior, _ = index.kneighbors(codes, n_neighbors=1)
    spacing, _ = index.kneighbors(samples, n_neighbors=2)  # the first neighbour is the sample itself
    return PriorCoverage(inside, float(to_prior.mean() / spacing[:, 1].mean()), n_samples)
