"""Figures of a trained model: ELBO, the importance-weighted bound, KL per dimension,
active units, and the mutual information gap on ground-truth factors."""

from __future__ import annotations

import math

import numpy as np
import torch

from latentexplorer.models import LatentModel, prior_log_prob


@torch.no_grad()
def log_weights(model: LatentModel, x: torch.Tensor, k: int, chunk: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """k importance samples per item: log w = log p(x|z) + log p(z) − log q(z|x), z ~ q(z|x).

    Returns (log_w, log_px_given_z), both items × k. Samples are drawn `chunk` at a
    time so memory stays bounded for k = 1000.
    """
    posterior = model.encode(x)
    log_w, log_lik = [], []
    for start in range(0, k, chunk):
        m = min(chunk, k - start)
        z = posterior.rsample(m)  # m × B × D
        params = model.decode(z.reshape(-1, z.shape[-1]))
        ll = model.log_likelihood(x.repeat(m, 1, 1, 1), params).reshape(m, -1)
        log_w.append(ll + prior_log_prob(z) - posterior.log_prob(z))
        log_lik.append(ll)
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


def discretize(values: np.ndarray, bins: int = 20) -> np.ndarray:
    """Each column binned into equal-width bins (for mutual information with discrete factors)."""
    values = np.asarray(values, dtype=float)
    out = np.zeros(values.shape, dtype=np.int64)
    for j in range(values.shape[1]):
        column = values[:, j]
        edges = np.histogram_bin_edges(column, bins=bins)
        out[:, j] = np.digitize(column, edges[1:-1])
    return out


def mutual_information_matrix(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> np.ndarray:
    """I(z_j; v_k) in nats for every latent dimension j and factor k (latents binned)."""
    from sklearn.metrics import mutual_info_score

    binned = discretize(codes, bins)
    return np.array(
        [[mutual_info_score(factors[:, k], binned[:, j]) for k in range(factors.shape[1])]
         for j in range(binned.shape[1])]
    )


def factor_entropy(factors: np.ndarray) -> np.ndarray:
    """H(v_k) in nats for each discrete factor."""
    out = []
    for k in range(factors.shape[1]):
        _, counts = np.unique(factors[:, k], return_counts=True)
        p = counts / counts.sum()
        out.append(float(-(p * np.log(p)).sum()))
    return np.array(out)


def mig(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> tuple[float, np.ndarray, np.ndarray]:
    """Mutual information gap (Chen et al. 2018).

    For each factor, the gap between the two latent dimensions most informative about
    it, divided by the factor's entropy; averaged over factors (constant factors are
    skipped). Returns (MIG, gap per factor, best dimension per factor).
    """
    mi = mutual_information_matrix(codes, factors, bins)
    entropy = factor_entropy(factors)
    ordered = np.sort(mi, axis=0)[::-1]
    second = ordered[1] if mi.shape[0] > 1 else np.zeros(mi.shape[1])
    keep = entropy > 0
    gaps = np.where(keep, (ordered[0] - second) / np.where(keep, entropy, 1.0), np.nan)
    return float(np.nanmean(gaps)) if keep.any() else float("nan"), gaps, mi.argmax(axis=0)
