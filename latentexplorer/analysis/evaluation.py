"""`latentexplorer evaluate` and the ELBO tab: the figures of a run on a fixed validation subset.

The importance-weighted curve shows how loose the ELBO is: IWAE-k (Burda et al. 2016) rises
towards log p(x) as k grows, so the distance from the ELBO to the curve's top is, at least,
what the approximate posterior costs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from latentexplorer.analysis.disentanglement import dci, mig, sap
from latentexplorer.analysis.metrics import (
    active_units,
    iwae_bound,
    log_weights,
    mean_and_stderr,
)
from latentexplorer.data.base import Factors, ImageSet
from latentexplorer.errors import UserError
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
    sap: float | None = None
    sap_per_factor: dict[str, float] = field(default_factory=dict)
    dci_disentanglement: float | None = None
    dci_completeness: float | None = None
    dci_informativeness: float | None = None
    curve: IwaeCurve | None = None

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
        if self.curve is not None:
            rows.append((f"importance-weighted bound ({self.curve.n} items)", ""))
            rows.append(("  ELBO", _pm(self.curve.elbo, self.curve.elbo_se)))
            for k, bound, se in zip(self.curve.ks, self.curve.bound, self.curve.bound_se):
                rows.append((f"  IWAE k={k}", _pm(bound, se)))
        if self.mig is not None:
            rows.append(("MIG", f"{self.mig:.3f}"))
            if self.sap is not None:
                rows.append(("SAP", f"{self.sap:.3f}"))
            if self.dci_disentanglement is not None:
                rows.append(("DCI disentanglement", f"{self.dci_disentanglement:.3f}"))
                rows.append(("DCI completeness", f"{self.dci_completeness:.3f}"))
                rows.append(("DCI informativeness", f"{self.dci_informativeness:.3f}"))
            for name, gap in self.mig_per_factor.items():
                best = self.best_dim_per_factor[name]
                sap_gap = self.sap_per_factor.get(name, float("nan"))
                rows.append((f"  {name}", f"MIG gap {gap:.3f}, SAP gap {sap_gap:.3f}, best dimension z{best}"))
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


ACTIVE_THRESHOLD = 0.01  # nats of KL, or variance of μ across items


@dataclass(frozen=True)
class IwaeCurve:
    """The importance-weighted bound against k, with the ELBO it starts from (nats per item,
    each mean ± standard error over items).

    The ELBO, reconstruction and KL are Monte-Carlo averages over all max(k) samples, so
    recon − KL = ELBO exactly and the ELBO equals IWAE-1; `kl_per_dim` is the closed form.
    """

    n: int
    ks: list[int]
    bound: list[float]
    bound_se: list[float]
    recon: float
    recon_se: float
    kl: float
    kl_se: float
    elbo: float
    elbo_se: float
    kl_per_dim: list[float]
    mu_variance: list[float]  # Cov_x(E_q[z_j]): how much each dimension's mean moves

    def active_dims(self, threshold: float = ACTIVE_THRESHOLD) -> list[bool]:
        """A dimension is active when its KL exceeds `threshold` nats or its mean varies
        across items by more than `threshold` (Burda et al. 2016)."""
        return [kl > threshold or var > threshold for kl, var in zip(self.kl_per_dim, self.mu_variance)]


@dataclass(frozen=True)
class FactorScores:
    """Disentanglement scores on ground-truth factors (see `analysis.disentanglement`)."""

    mig: float
    mig_per_factor: dict[str, float]
    best_dim_per_factor: dict[str, int]
    sap: float
    sap_per_factor: dict[str, float]
    dci_disentanglement: float
    dci_completeness: float
    dci_informativeness: float


def factor_scores(codes: np.ndarray, factors: Factors, seed: int = 0) -> FactorScores:
    """MIG, SAP and DCI of the codes (posterior means) against the ground-truth factors."""
    score, gaps, best = mig(codes, factors.indices)
    sap_score, sap_gaps, _ = sap(codes, factors.indices, seed)
    dci_scores = dci(codes, factors.indices, seed)
    names = factors.names
    return FactorScores(
        mig=score,
        mig_per_factor={nm: float(g) for nm, g in zip(names, gaps)},
        best_dim_per_factor={nm: int(b) for nm, b in zip(names, best)},
        sap=sap_score,
        sap_per_factor={nm: float(g) for nm, g in zip(names, sap_gaps)},
        dci_disentanglement=dci_scores.disentanglement,
        dci_completeness=dci_scores.completeness,
        dci_informativeness=dci_scores.informativeness,
    )


def check_ks(ks: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """The ks sorted; each must divide the largest, so IWAE-k averages disjoint groups."""
    ks = tuple(sorted(set(int(k) for k in ks)))
    if not ks or ks[0] < 1:
        raise UserError("the numbers of importance samples k must be at least 1")
    bad = [k for k in ks if ks[-1] % k]
    if bad:
        raise UserError(f"every k must divide the largest ({ks[-1]}); {', '.join(map(str, bad))} does not")
    return ks


@torch.no_grad()
def iwae_curve(
    model: LatentModel,
    images: ImageSet,
    ks: tuple[int, ...] = (1, 10, 100, 1000),
    *,
    n: int = 500,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> IwaeCurve:
    """The importance-weighted bound for each k in `ks` on a fixed subset of n items.

    max(ks) samples are drawn per item once (in chunks, so memory stays bounded); IWAE-k for
    a smaller k is the average over the max(ks)/k disjoint groups of k of them. Groups nest,
    so the estimates never decrease with k and the ELBO never exceeds them.
    `progress(samples done, samples in all)` may raise to stop early.
    """
    if not model.config.is_variational:
        raise UserError("an autoencoder has no ELBO: its posterior has zero variance and no KL to a prior")
    ks = check_ks(ks)
    k_max = ks[-1]
    subset = evaluation_subset(images, n, seed)
    model.eval()
    torch.manual_seed(seed)
    chunk = min(64, k_max)
    batch = max(1, 4096 // chunk)
    total, done = len(subset) * k_max, 0
    bounds: list[list[torch.Tensor]] = [[] for _ in ks]
    recon, elbo, kl_dims, mus = [], [], [], []

    def on_chunk(samples: int) -> None:
        nonlocal done
        done += samples * len(x)
        if progress is not None:
            progress(done, total)

    for start in range(0, len(subset), batch):
        x = subset.float_batch(slice(start, start + batch)).to(model.device)
        posterior = model.encode(x)
        log_w, log_lik = log_weights(model, x, k_max, chunk, on_chunk)
        log_w = log_w.double()
        for i, k in enumerate(ks):
            groups = log_w.reshape(len(x), k_max // k, k)
            bounds[i].append(iwae_bound(groups).mean(-1))
        recon.append(log_lik.double().mean(-1))
        elbo.append(log_w.mean(-1))
        kl_dims.append(posterior.kl_per_dim().double())
        mus.append(posterior.mu.double())
    recon_v, elbo_v = (torch.cat(v).cpu().numpy() for v in (recon, elbo))
    figures = {}
    for name, values in (("recon", recon_v), ("kl", recon_v - elbo_v), ("elbo", elbo_v)):
        figures[name], figures[f"{name}_se"] = mean_and_stderr(values)
    stats = [mean_and_stderr(torch.cat(b).cpu().numpy()) for b in bounds]
    mu = torch.cat(mus)
    return IwaeCurve(
        n=len(subset), ks=list(ks), bound=[m for m, _ in stats], bound_se=[se for _, se in stats],
        kl_per_dim=torch.cat(kl_dims).mean(0).cpu().tolist(),
        mu_variance=(mu.var(0, unbiased=False) if len(mu) > 1 else torch.zeros(mu.shape[1])).cpu().tolist(),
        **figures,
    )


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
    ks: tuple[int, ...] = (),
    curve_n: int = 500,
) -> Evaluation:
    """ELBO, IWAE-k, KL per dimension, active units and (with factors) MIG, SAP and DCI on
    n items; with `ks`, the importance-weighted curve on a fixed subset of min(n, curve_n) items."""
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
            recon.append(model.log_px_given_z(x, posterior.mu))
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
        extra = asdict(factor_scores(mu, subset.factors, seed))
    if model.config.is_variational and ks:
        extra["curve"] = iwae_curve(model, images, ks, n=min(n, curve_n), seed=seed)
    return Evaluation(
        n=len(subset), k=k if model.config.is_variational else 0, kl_per_dim=[float(v) for v in kl_per_dim],
        active_units=int(active_units(mu).sum()), latent_dim=model.latent_dim,
        variational=model.config.is_variational, **figures, **extra,
    )


FACTOR_ITEMS = 2000  # items the disentanglement scores of the ELBO tab use: a few seconds at most


@dataclass(frozen=True)
class EvaluationResult:
    """What the ELBO tab shows: the bound against k and, with ground-truth factors, MIG/SAP/DCI."""

    curve: IwaeCurve
    scores: FactorScores | None  # None when the data have no factors


def evaluate_model(model: LatentModel, images: ImageSet, ks: tuple[int, ...], n: int, seed: int = 0,
                   progress: Callable[[int, int], None] | None = None,
                   check: Callable[..., None] | None = None) -> EvaluationResult:
    """The IWAE curve of `n` items and, when the data have factors, the disentanglement scores
    of FACTOR_ITEMS items. `progress(done, total)` counts samples; `check` is called per batch
    of the scores' encoding (either may raise to cancel)."""
    curve = iwae_curve(model, images, ks, n=n, seed=seed, progress=progress)
    scores = None
    if images.factors is not None and len(images) > 1:
        subset = evaluation_subset(images, FACTOR_ITEMS, seed)
        mu, _ = encode_all(model, subset, progress=check)
        if check is not None:
            check()
        scores = factor_scores(mu, subset.factors, seed)
    return EvaluationResult(curve, scores)
