"""`latentexplorer evaluate`: the figures of a run on a fixed validation subset."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from latentexplorer.analysis.metrics import (
    active_units,
    iwae_bound,
    log_weights,
    mean_and_stderr,
    mig,
)
from latentexplorer.data.base import ImageSet
from latentexplorer.models import LatentModel


@dataclass(frozen=True)
class Evaluation:
    """Per-item figures in nats, each mean with its standard error over items."""

    n: int
    k: int
    recon: float  # E_q[log p(x|z)], Monte-Carlo over the k samples
    recon_se: float
    kl: float
    kl_se: float
    elbo: float
    elbo_se: float
    iwae: float
    iwae_se: float
    kl_per_dim: list[float]
    active_units: int
    latent_dim: int
    variational: bool
    mig: float | None = None
    mig_per_factor: dict[str, float] = field(default_factory=dict)
    best_dim_per_factor: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return _finite(asdict(self))

    def format_table(self) -> str:
        """A text table for the terminal."""
        rows = [("items", f"{self.n}"), ("reconstruction E_q[log p(x|z)]", _pm(self.recon, self.recon_se))]
        if self.variational:
            rows += [
                ("KL(q(z|x) || p(z))", _pm(self.kl, self.kl_se)),
                ("ELBO", _pm(self.elbo, self.elbo_se)),
                (f"IWAE bound (k={self.k})", _pm(self.iwae, self.iwae_se)),
            ]
        else:
            rows.append(("ELBO / IWAE", "n/a (an autoencoder has no posterior variance)"))
        rows.append(("active units", f"{self.active_units} of {self.latent_dim}"))
        rows.append(("KL per dimension", " ".join(f"{v:.2f}" for v in self.kl_per_dim)))
        if self.mig is not None:
            rows.append(("MIG", f"{self.mig:.3f}"))
            for name, gap in self.mig_per_factor.items():
                best = self.best_dim_per_factor[name]
                rows.append((f"  {name}", f"gap {gap:.3f}, best dimension z{best}"))
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _pm(mean: float, se: float) -> str:
    return f"{mean:.3f} ± {se:.3f} nats"


def _finite(value):
    """JSON has no NaN: replace non-finite floats by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def evaluation_subset(images: ImageSet, n: int, seed: int = 0) -> ImageSet:
    """A fixed, seeded subset of at most n items, so figures are comparable across runs."""
    if len(images) <= n:
        return images
    index = np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))
    return images.subset(index)


@torch.no_grad()
def encode_all(
    model: LatentModel,
    images: ImageSet,
    batch_size: int = 1024,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """μ and log σ² of q(z|x) for every item, as float32 arrays.

    Each batch is copied into arrays made up front: keeping every batch's small output alive
    until a final concatenate pinned the freed batch buffers in the C heap, which grew by
    ~0.6 KB an item (600 MB on a million items) instead of reusing them."""
    model.eval()
    mu = np.empty((len(images), model.latent_dim), np.float32)
    logvar = np.empty_like(mu)
    for start in range(0, len(images), batch_size):
        stop = min(start + batch_size, len(images))
        posterior = model.encode(images.float_batch(slice(start, stop)).to(model.device))
        mu[start:stop] = posterior.mu.float().cpu().numpy()
        logvar[start:stop] = posterior.logvar.float().cpu().numpy()
        if progress is not None:  # may raise to stop early
            progress(stop, len(images))
    return mu, logvar


@torch.no_grad()
def evaluate(
    model: LatentModel,
    images: ImageSet,
    *,
    n: int = 2000,
    k: int = 100,
    seed: int = 0,
    batch_size: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """ELBO, IWAE-k, KL per dimension, active units and (with factors) MIG on n items."""
    subset = evaluation_subset(images, n, seed)
    model.eval()
    torch.manual_seed(seed)
    recon, kl, iwae, kl_dims = [], [], [], []
    for start in range(0, len(subset), batch_size):
        x = subset.float_batch(slice(start, start + batch_size)).to(model.device)
        posterior = model.encode(x)
        if model.config.is_variational:
            log_w, log_lik = log_weights(model, x, k)
            item_kl = posterior.kl_per_dim()
            recon.append(log_lik.mean(-1))
            kl.append(item_kl.sum(-1))
            kl_dims.append(item_kl)
            iwae.append(iwae_bound(log_w))
        else:
            recon.append(model.log_likelihood(x, model.decode(posterior.mu)))
        if progress is not None:
            progress(min(start + batch_size, len(subset)), len(subset))
    recon_v = torch.cat(recon).double().cpu().numpy()
    mu, _ = encode_all(model, subset)
    if model.config.is_variational:
        kl_v = torch.cat(kl).double().cpu().numpy()
        iwae_v = torch.cat(iwae).double().cpu().numpy()
        kl_per_dim = torch.cat(kl_dims).double().mean(0).cpu().tolist()
    else:
        kl_v = iwae_v = np.full_like(recon_v, np.nan)
        kl_per_dim = [0.0] * model.latent_dim
    figures = {}
    for name, values in (("recon", recon_v), ("kl", kl_v), ("elbo", recon_v - kl_v), ("iwae", iwae_v)):
        figures[name], figures[f"{name}_se"] = mean_and_stderr(values)
    extra: dict = {}
    if subset.factors is not None and len(subset) > 1:
        score, gaps, best = mig(mu, subset.factors.indices)
        names = subset.factors.names
        extra = dict(
            mig=score,
            mig_per_factor={nm: float(g) for nm, g in zip(names, gaps)},
            best_dim_per_factor={nm: int(b) for nm, b in zip(names, best)},
        )
    return Evaluation(
        n=len(subset), k=k if model.config.is_variational else 0, kl_per_dim=[float(v) for v in kl_per_dim],
        active_units=int(active_units(mu).sum()), latent_dim=model.latent_dim,
        variational=model.config.is_variational, **figures, **extra,
    )
