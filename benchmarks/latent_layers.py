"""The maths behind two layers of the latent map, each against the obvious way, in the same run.

  - true posterior: `log_joint_grid` on a 100×100 grid for one digit and the bundled 2-D VAE
    (digits-vae-2d), against a loop that decodes one grid point at a time; and `evidence`
    (region search, zoom, IWAE-1000) end to end, with its log p(x) beside IWAE-5000;
  - aggregate posterior: `aggregate_density` of 70,000 items with 8-D codes on a 100×100 grid
    in the dims view (and PCA's), against a Python loop over the items that adds each one's
    Gaussian on the grid (PCA's, full covariance, timed on a tenth of the items and scaled);
    `aggregate_kl` of the same items with 500 and 1000 samples, against a loop over the
    samples that evaluates each one's mixture density with numpy (timed on 50, scaled).

OpenMP threads waiting for work sleep (OMP_WAIT_POLICY=PASSIVE unless set), as in the tests:
on this shared 2-core machine, with another process busy, spinning threads made the 100×100
grid take 60–400 ms instead of 15–25 ms.

    python benchmarks/latent_layers.py [--items 70000] [--repeats 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads its OpenMP runtime

import numpy as np  # noqa: E402
import torch  # noqa: E402
from atlas import verdict  # noqa: E402  (the benchmarks beside this one)
from scatter_scale import timed  # noqa: E402

TARGETS = {"grid": 150.0, "density": 300.0, "kl": 1000.0}  # ms


def true_posterior(repeats: int) -> None:
    from latentexplorer.analysis.true_posterior import evidence, log_joint_grid
    from latentexplorer.bundled import bundled_run
    from latentexplorer.checkpoint import load_run
    from latentexplorer.config import DataConfig
    from latentexplorer.data import load_dataset
    from latentexplorer.models import prior_log_prob
    from latentexplorer.models.base import eval_copy

    model = eval_copy(load_run(bundled_run("digits-vae-2d")).model)
    x = load_dataset(DataConfig(name="digits")).float_batch(slice(0, 1))
    axis = np.linspace(-4, 4, 100)
    log_joint_grid(model, x, axis, axis)  # warm
    ours = timed(lambda: log_joint_grid(model, x, axis, axis), repeats)

    @torch.no_grad()
    def per_point() -> np.ndarray:
        out = np.empty((len(axis), len(axis)))
        for i, y in enumerate(axis):
            for j, v in enumerate(axis):
                z = torch.tensor([[v, y]], dtype=torch.float32)
                out[i, j] = float(model.log_likelihood(x, model.decode(z)) + prior_log_prob(z))
        return out

    baseline = timed(per_point, 1)
    print(f"true posterior, 100×100 grid, digits-vae-2d: ours {ours:7.1f} ms   per-point decode loop "
          f"{baseline:8.1f} ms {baseline / ours:7.1f}×   {verdict(ours, TARGETS['grid'])}")
    result = evidence(model, x, k=1000)
    whole = timed(lambda: evidence(model, x, k=1000), max(3, repeats // 2))
    iwae = evidence(model, x, k=5000).iwae
    print(f"evidence() end to end (region, zoom to {len(result.xs)}², IWAE-1000): {whole:.1f} ms; "
          f"log p(x) {result.log_px:.3f}, IWAE-5000 {iwae:.3f}, ELBO {result.elbo:.3f}")


def codes(n: int, d: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 10-cluster mixture of codes, spread like a VAE's, and log σ² in [−4, −1]."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.2, (10, d))
    mu = centres[rng.integers(0, 10, n)] + rng.normal(0.0, 0.5, (n, d))
    return mu.astype(np.float32), rng.uniform(-4.0, -1.0, (n, d)).astype(np.float32)


def naive_density(mu: np.ndarray, logvar: np.ndarray, i: int, j: int, xs: np.ndarray,
                  ys: np.ndarray) -> np.ndarray:
    """Each item's axis-aligned Gaussian evaluated on the grid and added, one item at a time."""
    out = np.zeros((len(ys), len(xs)))
    for m, lv in zip(mu.astype(np.float64), logvar.astype(np.float64)):
        sx, sy = math.exp(lv[i] / 2), math.exp(lv[j] / 2)
        gx = np.exp(-0.5 * ((xs - m[i]) / sx) ** 2) / (sx * math.sqrt(2 * math.pi))
        gy = np.exp(-0.5 * ((ys - m[j]) / sy) ** 2) / (sy * math.sqrt(2 * math.pi))
        out += np.outer(gy, gx)
    return out / len(mu)


def naive_full_density(means: np.ndarray, covs: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Each item's projected 2-D Gaussian (full covariance) evaluated on the grid, one at a time."""
    gx, gy = np.meshgrid(xs, ys)
    out = np.zeros_like(gx)
    for m, c in zip(means, covs):
        inv = np.linalg.inv(c)
        dx, dy = gx - m[0], gy - m[1]
        out += np.exp(-0.5 * (inv[0, 0] * dx**2 + 2 * inv[0, 1] * dx * dy + inv[1, 1] * dy**2)) / (
            2 * math.pi * math.sqrt(np.linalg.det(c)))
    return out / len(means)


def naive_kl(mu: np.ndarray, logvar: np.ndarray, samples: int, seed: int = 0) -> float:
    """The same estimate, one sample at a time: log q(z) over every item with numpy."""
    rng = np.random.default_rng(seed)
    mu, logvar = mu.astype(np.float64), logvar.astype(np.float64)
    var, d = np.exp(logvar), mu.shape[1]
    norm = logvar.sum(1) + d * math.log(2 * math.pi)
    total = 0.0
    for _ in range(samples):
        n = rng.integers(len(mu))
        z = mu[n] + np.sqrt(var[n]) * rng.standard_normal(d)
        log_components = -0.5 * (((z - mu) ** 2 / var).sum(1) + norm)
        top = log_components.max()
        log_q = top + math.log(np.exp(log_components - top).sum()) - math.log(len(mu))
        total += log_q + 0.5 * (z @ z + d * math.log(2 * math.pi))
    return total / samples


def aggregate(n: int, repeats: int) -> None:
    from latentexplorer.analysis.aggregate_posterior import aggregate_density, aggregate_kl
    from latentexplorer.analysis.projection import make_projection

    mu, logvar = codes(n)
    axis = np.linspace(-5, 5, 100)
    dims = make_projection("dims", mu)
    aggregate_density(mu, logvar, dims, axis, axis)  # warm
    ours = timed(lambda: aggregate_density(mu, logvar, dims, axis, axis), repeats)
    baseline = timed(lambda: naive_density(mu, logvar, 0, 1, axis, axis), 1)
    print(f"aggregate density, {n:,} items 8-D, dims view 100×100: ours {ours:6.1f} ms   per-item loop "
          f"{baseline:8.1f} ms {baseline / ours:6.1f}×   {verdict(ours, TARGETS['density'])}")
    pca = make_projection("pca", mu)
    ours_pca = timed(lambda: aggregate_density(mu, logvar, pca, axis, axis), repeats)
    part = slice(0, max(1, n // 10))  # the loop is timed on a tenth of the items, then scaled
    covs = pca.project_covariance(np.exp(logvar[part].astype(np.float64))[:, :, None] * np.eye(8))
    means = pca.transform(mu[part])
    baseline_pca = timed(lambda: naive_full_density(means, covs, axis, axis), 1) * n / len(means)
    print(f"aggregate density, {n:,} items 8-D, PCA view 100×100 : ours {ours_pca:6.1f} ms   per-item loop "
          f"{baseline_pca:8.1f} ms {baseline_pca / ours_pca:6.1f}× (loop timed on {len(means):,} items, "
          f"scaled)   {verdict(ours_pca, TARGETS['density'])}")
    naive_samples = 50
    baseline_kl = timed(lambda: naive_kl(mu, logvar, naive_samples), 1) / naive_samples
    for samples in (500, 1000):
        estimate = aggregate_kl(mu, logvar, samples=samples)
        ms = timed(lambda s=samples: aggregate_kl(mu, logvar, samples=s), max(3, repeats // 2))
        loop = baseline_kl * samples
        print(f"aggregate KL(q(z) ‖ p(z)), {n:,} items, {samples} samples: ours {ms:6.1f} ms   per-sample "
              f"loop {loop:7.1f} ms {loop / ms:5.1f}× (timed on {naive_samples} samples, scaled)   "
              f"kl {estimate.kl:.3f} ± {estimate.se:.3f} nats   {verdict(ms, TARGETS['kl'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=70_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, help="torch threads (a background task may get one)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    true_posterior(args.repeats)
    aggregate(args.items, args.repeats)


if __name__ == "__main__":
    main()
