"""The importance-weighted curve on a linear-Gaussian model, whose log p(x) is known in closed form.

p(z) = N(0, I), p(x|z) = N(Wz + b, σ²I)  ⇒  p(x) = N(b, WWᵀ + σ²I). W has orthogonal columns,
so the true posterior is a diagonal Gaussian that the project's Posterior can represent exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal

from latentexplorer.analysis.evaluation import iwae_curve
from latentexplorer.config import ModelConfig
from latentexplorer.data.base import ImageSet
from latentexplorer.errors import UserError
from latentexplorer.models import VAE, Autoencoder

SHAPE = (1, 4, 4)
PIXELS, LATENT, SIGMA = 16, 2, 0.5
N = 200


def _linear_gaussian(exact: bool) -> tuple[VAE, ImageSet, torch.Tensor]:
    """The model with q(z|x) exact or deliberately off (mean shrunk, variance too wide); its
    data, sampled from p(x); and the true log p(x) of each item."""
    gen = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(PIXELS, LATENT, generator=gen))
    scales = torch.tensor([1.5, 0.7])
    w, b = q * scales, 0.3 * torch.randn(PIXELS, generator=gen)
    config = ModelConfig(kind="vae", image_shape=SHAPE, latent_dim=LATENT, architecture="mlp",
                         hidden=(4,), likelihood="gaussian", sigma=SIGMA)
    model = VAE(config)
    post_var = 1.0 / (1.0 + scales**2 / SIGMA**2)
    gain = post_var[:, None] * w.T / SIGMA**2  # μ = Σ Wᵀ (x − b) / σ²
    logvar = post_var.log()
    if not exact:
        gain, logvar = 0.7 * gain, logvar + 0.7
    encoder = nn.Linear(PIXELS, 2 * LATENT)
    decoder = nn.Linear(LATENT, PIXELS)
    with torch.no_grad():
        encoder.weight.copy_(torch.cat([gain, torch.zeros(LATENT, PIXELS)]))
        encoder.bias.copy_(torch.cat([-gain @ b, logvar]))
        decoder.weight.copy_(w)
        decoder.bias.copy_(b)
    model.encoder = nn.Sequential(nn.Flatten(), encoder)
    model.decoder = nn.Sequential(decoder, nn.Unflatten(1, SHAPE))
    marginal = MultivariateNormal(b, w @ w.T + SIGMA**2 * torch.eye(PIXELS))
    x = marginal.sample((N,))
    images = ImageSet(x.reshape(N, *SHAPE).numpy().astype(np.float32), "linear-gaussian")
    return model, images, marginal.log_prob(x).double()


def test_bound_climbs_to_the_true_log_likelihood_with_an_imperfect_posterior():
    model, images, log_px = _linear_gaussian(exact=False)
    curve = iwae_curve(model, images, (1, 10, 100, 1000), n=N, seed=0)
    truth = float(log_px.mean())
    gaps = truth - np.array(curve.bound)
    assert curve.ks == [1, 10, 100, 1000]
    assert gaps[0] > 0.3  # the posterior is visibly off: the ELBO is loose
    assert np.all(np.diff(gaps) < 0) and np.all(gaps > -3 * np.array(curve.bound_se))
    assert abs(gaps[-1]) < 3 * curve.bound_se[-1] and abs(gaps[-1]) < 0.05
    assert curve.elbo < truth and curve.elbo == pytest.approx(curve.bound[0])
    assert curve.elbo == pytest.approx(curve.recon - curve.kl)
    # the closed-form KL per dimension agrees with the Monte-Carlo KL of the table
    assert sum(curve.kl_per_dim) == pytest.approx(curve.kl, abs=3 * curve.kl_se + 0.02)


def test_with_the_exact_posterior_every_bound_is_log_p_x_without_noise():
    model, images, log_px = _linear_gaussian(exact=True)
    truth = float(log_px.mean())
    first = iwae_curve(model, images, (1, 10, 100), n=N, seed=0)
    again = iwae_curve(model, images, (1, 10, 100), n=N, seed=7)
    for curve in (first, again):
        assert curve.bound == pytest.approx([truth] * 3, abs=1e-4)
        assert curve.elbo == pytest.approx(truth, abs=1e-4)
    assert first.bound == pytest.approx(again.bound, abs=1e-5)  # other samples, same value


def test_progress_reports_every_sample_and_can_cancel():
    model, images, _ = _linear_gaussian(exact=False)
    seen = []
    iwae_curve(model, images, (1, 100), n=50, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (50 * 100, 50 * 100) and all(a <= b for (a, _), (b, _) in zip(seen, seen[1:]))

    def stop(done: int, total: int) -> None:
        raise InterruptedError

    with pytest.raises(InterruptedError):
        iwae_curve(model, images, (1, 100), n=50, progress=stop)


def test_bad_ks_and_autoencoders_are_refused_with_a_reason():
    model, images, _ = _linear_gaussian(exact=False)
    with pytest.raises(UserError, match="divide"):
        iwae_curve(model, images, (1, 3, 10), n=10)
    with pytest.raises(UserError, match="at least 1"):
        iwae_curve(model, images, (0, 10), n=10)
    ae = Autoencoder(ModelConfig(kind="ae", image_shape=SHAPE, latent_dim=2, architecture="mlp", hidden=(4,)))
    with pytest.raises(UserError, match="autoencoder"):
        iwae_curve(ae, images, n=10)
