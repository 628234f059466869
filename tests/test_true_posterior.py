"""The true posterior p(z|x) on a grid: log p(x) against importance sampling on the bundled
2-D VAE, the linear models' closed forms, refusals, and a region that cuts the posterior off."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from latentexplorer.analysis.true_posterior import evidence, log_joint_grid
from latentexplorer.bundled import bundled_run
from latentexplorer.checkpoint import load_run
from latentexplorer.config import DataConfig, ModelConfig
from latentexplorer.data import load_dataset
from latentexplorer.models import build_model, fit_linear_model, prior_log_prob
from latentexplorer.models.wrapped import wrap

ITEMS = 20


@pytest.fixture(scope="module")
def vae():
    return load_run(bundled_run("digits-vae-2d")).model


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return load_dataset(DataConfig(name="digits")).float_batch()


@pytest.fixture(scope="module")
def evidences(vae, digits):
    return [evidence(vae, digits[i], k=5000, seed=i) for i in range(ITEMS)]


def _importance_estimate(model, x: torch.Tensor, mean: np.ndarray, cov: np.ndarray, k: int = 5000) -> float:
    """log p(x) by importance sampling from N(mean, 2·cov): a proposal wider than the posterior,
    so the weights are light-tailed and the estimate is tight (unlike q(z|x), often too narrow)."""
    g = torch.Generator().manual_seed(1)
    chol = torch.linalg.cholesky(torch.as_tensor(2.0 * cov))
    z = torch.as_tensor(mean) + torch.randn(k, 2, generator=g, dtype=torch.float64) @ chol.T
    proposal = torch.distributions.MultivariateNormal(torch.as_tensor(mean), scale_tril=chol)
    with torch.no_grad():
        ll = model.log_px_given_z(x[None].expand(k, -1, -1, -1), z.float()).double()
    log_w = ll + prior_log_prob(z) - proposal.log_prob(z)
    return float(torch.logsumexp(log_w, 0) - math.log(k))


def test_grid_log_px_agrees_with_importance_sampling_on_the_bundled_vae(vae, digits, evidences):
    log_px = np.array([e.log_px for e in evidences])
    iwae = np.array([e.iwae for e in evidences])
    # IWAE-5000 is a noisy lower bound: on items whose q(z|x) is narrower than p(z|x) its
    # weights are heavy-tailed (0.1-0.2 nats either way on a few of these 20), so it is
    # compared on average; a wide proposal fitted to the grid checks every item.
    assert abs(log_px.mean() - iwae.mean()) < 0.05
    assert np.median(np.abs(log_px - iwae)) < 0.05
    for i, e in enumerate(evidences):
        assert e.covered and e.warning is None and e.edge_mass < 1e-4
        assert abs(e.log_px - _importance_estimate(vae, digits[i], e.mean, e.cov)) < 0.05
        assert e.gap > 0 and e.gap == pytest.approx(e.log_px - e.elbo)  # KL(q ‖ p(z|x)) ≥ 0
        cell = (e.xs[1] - e.xs[0]) * (e.ys[1] - e.ys[0])
        assert np.exp(e.log_post).sum() * cell == pytest.approx(1.0)
        assert e.log_post.shape == (len(e.ys), len(e.xs)) and e.k == 5000


def test_log_joint_grid_is_log_likelihood_plus_prior_at_each_point(vae, digits):
    xs, ys = np.linspace(-2, 2, 7), np.linspace(-1, 3, 5)
    grid = log_joint_grid(vae, digits[3], xs, ys)
    assert grid.shape == (5, 7)
    with torch.no_grad():
        for i, j in ((0, 0), (4, 6), (2, 5)):
            z = torch.tensor([[xs[j], ys[i]]], dtype=torch.float32)
            expected = vae.log_likelihood(digits[3:4], vae.decode(z)) + prior_log_prob(z)
            assert grid[i, j] == pytest.approx(float(expected), abs=1e-4)


def _linear(kind: str, digits: torch.Tensor):
    return fit_linear_model(ModelConfig(kind=kind, image_shape=(1, 8, 8), latent_dim=2), digits)


@pytest.mark.parametrize("kind", ["pca", "fa"])
def test_linear_models_grid_posterior_is_the_closed_form_gaussian(digits, kind):
    model = _linear(kind, digits)
    flat = digits.reshape(len(digits), -1).double()
    w = model.components.T  # D × 2: decode(z) = W z + μ
    psi = model.pixel_variance()
    marginal = torch.distributions.MultivariateNormal(model.data_mean, w @ w.T + torch.diag(psi))
    for i in (0, 7, 42):
        x = digits[i:i + 1].double()
        e = evidence(model, x)
        if kind == "fa":  # its encoder is the exact posterior, a full covariance
            posterior = model.encode(x)
            mean, cov = posterior.mu[0].numpy(), posterior.cov.numpy()
            assert abs(e.gap) < 1e-6 and e.iwae == pytest.approx(e.log_px, abs=1e-6)
        else:  # PCA encodes by projection; with W = Uᵀ, p(z|x) = N(U(x − μ)/(1 + σ²), σ²/(1 + σ²) I)
            s2 = float(model.noise_variance)
            mean = model.encode(x).mu[0].numpy() / (1 + s2)
            cov = np.eye(2) * s2 / (1 + s2)
            assert math.isnan(e.elbo) and math.isnan(e.iwae), "a point posterior has no ELBO"
        np.testing.assert_allclose(e.mean, mean, rtol=1e-2, atol=1e-2 * np.abs(mean).max())
        np.testing.assert_allclose(e.cov, cov, rtol=0, atol=1e-2 * np.abs(cov).max())
        np.testing.assert_allclose(np.diag(e.cov), np.diag(cov), rtol=1e-2)
        assert e.log_px == pytest.approx(float(marginal.log_prob(flat[i])), abs=1e-4)
        assert e.covered


def test_a_latent_that_is_not_two_dimensional_is_refused(digits):
    model = build_model(ModelConfig(kind="vae", image_shape=(1, 8, 8), latent_dim=3, hidden=(16,))).eval()
    with pytest.raises(ValueError, match="2-D latents only.*3 dimensions"):
        evidence(model, digits[0])
    with pytest.raises(ValueError, match="2-D latents only"):
        log_joint_grid(model, digits[0], np.zeros(3), np.zeros(3))


def test_a_region_that_cuts_the_posterior_off_is_reported(vae, digits, evidences):
    e = evidences[0]
    (mx, my), (sx, sy) = e.mean, np.sqrt(np.diag(e.cov))
    cut = evidence(vae, digits[0], k=100, region=(mx - sx, mx + sx, my - 3 * sy, my + 3 * sy))
    assert not cut.covered and cut.edge_mass > 1e-4
    assert "edge of the region" in cut.warning
    assert cut.region == pytest.approx((mx - sx, mx + sx, my - 3 * sy, my + 3 * sy))
    assert cut.log_px < e.log_px
    with pytest.raises(ValueError, match="x0 < x1"):
        evidence(vae, digits[0], region=(1.0, 0.0, 0.0, 1.0))


def test_other_kinds_of_model_autoencoder_sequence_vae_and_a_wrapped_module(digits):
    ae = load_run(bundled_run("digits-ae-2d")).model
    e = evidence(ae, digits[0], k=10)
    assert math.isfinite(e.log_px) and math.isnan(e.elbo) and np.all(e.q_sigma == 0)

    torch.manual_seed(0)
    seq = build_model(ModelConfig(kind="seqvae", image_shape=(1, 12, 3), latent_dim=2, hidden=(8,),
                                  likelihood="gaussian")).eval()
    strokes = torch.zeros(1, 1, 12, 3)
    strokes[0, 0, :6, :2] = torch.linspace(-1, 1, 6)[:, None]
    strokes[0, 0, :6, 2] = 1.0
    e = evidence(seq, strokes, k=50, resolution=41)
    assert math.isfinite(e.log_px) and e.iwae <= e.log_px + 0.5

    class Module(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc, self.dec = nn.Linear(64, 4), nn.Linear(2, 64)

        def encode(self, x):
            return self.enc(x.flatten(1)).chunk(2, dim=-1)

        def decode(self, z):
            return torch.sigmoid(self.dec(z))

    torch.manual_seed(0)
    wrapped = wrap(Module(), image_shape=(1, 8, 8))
    e = evidence(wrapped, digits[0], k=1000)
    assert e.covered and e.iwae < e.log_px + 0.05  # an untrained encoder: a loose bound
    assert abs(e.log_px - _importance_estimate(wrapped, digits[0], e.mean, e.cov)) < 0.05
