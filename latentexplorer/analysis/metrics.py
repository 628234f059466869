"""Figures of a trained model: ELBO, the importance-weighted bound, KL per dimension and
active units. The scores on ground-truth factors (MIG, SAP, DCI) live in `disentanglement`
and are re-exported here."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from latentexplorer.analysis.disentanglement import (  # noqa: F401  (re-exported)
    discretize,
    factor_entropy,
    mig,
    mutual_information_matrix,
)
from latentexplorer.models import LatentModel, prior_log_prob


@torch.no_grad()
def log_weights(
    model: LatentModel, x: torch.Tensor, k: int, chunk: int = 64,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """k importance samples per item: log w = log p(x|z) + log p(z) − log q(z|x), z ~ q(z|x).

    Returns (log_w, log_px_given_z), both items × k. Samples are drawn `chunk` at a
    time so memory stays bounded for k = 1000; `on_chunk(samples)` is told after each
    chunk (and may raise to stop).
    """
    posterior = model.encode(x)
    log_w, log_lik = [], []
    for start in range(0, k, chunk):
        m = min(chunk, k - start)
        z = posterior.rsample(m)  # m × B × D
        ll = model.log_px_given_z(x.repeat(m, 1, 1, 1), z.reshape(-1, z.shape[-1])).reshape(m, -1)
        log_w.append(ll + prior_log_prob(z) - posterior.log_prob(z))
        log_lik.append(ll)
        if on_chunk is not None:
            on_chunk(m)
    return torch.cat(log_w).T, torch.cat(log_lik).T


def iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """Per item, log (1/k) Σ w_i (Burda et al. 2016): a lower bound on log p(x) that
    tightens as k grows; k = 1 is a one-sample ELBO estimate."""
    return torch.logsumexp(log_w, dim=-1) - math.log(log_w.shape[-1])


def mean_and_stderr(values: np.ndarray) -> tuple[float, float]:
    """Mean over items and its standard error."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()), float("nan")
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


def active_units(mu: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Dimensions whose posterior mean varies across the data, Cov_x(E_q[z_j]) > 0.01
    (Burda et al. 2016): the units the model actually uses."""
    return np.asarray(mu).var(axis=0) > threshold
