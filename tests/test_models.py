"""The model protocol and the maths it teaches: KL, reparameterisation, β, AE vs VAE."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from latentexplorer.analysis.metrics import iwae_bound, log_weights
from latentexplorer.config import ModelConfig
from latentexplorer.errors import ConfigError
from latentexplorer.models import VAE, Autoencoder, Posterior, build_model


def test_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(16, 5), torch.randn(16, 5)
    ours = Posterior(mu, logvar).kl_per_dim()
    reference = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0))
    torch.testing.assert_close(ours, reference)


def test_posterior_log_prob_matches_torch():
    torch.manual_seed(1)
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
    z = torch.randn(7, 4, 3)
    expected = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    torch.testing.assert_close(Posterior(mu, logvar).log_prob(z), expected)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (1, 17, 23)])
@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_every_model_follows_the_protocol(shape, arch, kind):
    model = build_model(ModelConfig(kind=kind, image_shape=shape, architecture=arch, latent_dim=3))
    x = torch.rand(5, *shape)
    posterior = model.encode(x)
    assert posterior.mu.shape == (5, 3) and posterior.logvar.shape == (5, 3)
    assert model.decode(posterior.mu).shape == (5, *shape)
    image = model.mean(torch.randn(5, 3))
    assert image.shape == (5, *shape) and image.min() >= 0 and image.max() <= 1
    assert model.sample(4).shape == (4, *shape)
    terms = model.loss(x)
    assert terms.total.ndim == 0 and torch.isfinite(terms.total)
    assert terms.kl_per_dim.shape == (3,)


def test_gradients_reach_the_encoder_through_the_reparameterised_sample():
    torch.manual_seed(0)
    model = VAE(ModelConfig(image_shape=(1, 8, 8), latent_dim=2, architecture="mlp"))
    x = torch.rand(8, 1, 8, 8)
    posterior = model.encode(x)
    z = posterior.rsample()
    recon = -model.log_likelihood(x, model.decode(z)).mean()
    mu_grad, logvar_grad = torch.autograd.grad(
        recon, [posterior.mu, posterior.logvar], retain_graph=True
    )
    # Only the reconstruction term: σ receives a gradient solely through z = μ + σ·ε.
    assert mu_grad.abs().sum() > 0 and logvar_grad.abs().sum() > 0
    recon.backward()
    first_layer = model.encoder.net[0].weight
    assert first_layer.grad is not None and first_layer.grad.abs().sum() > 0


def test_autoencoder_has_zero_kl_and_a_point_posterior():
    model = Autoencoder(ModelConfig(kind="ae", image_shape=(1, 8, 8), latent_dim=2))
    x = torch.rand(6, 1, 8, 8)
    terms = model.loss(x)
    assert terms.kl.item() == 0 and terms.reg.item() == 0
    assert torch.all(terms.kl_per_dim == 0)
    assert torch.equal(terms.total, terms.recon)
    posterior = model.encode(x)
    assert torch.all(posterior.std == 0)
    torch.testing.assert_close(posterior.rsample(), posterior.mu)


def test_extreme_inputs_give_no_nan():
    model = VAE(ModelConfig(image_shape=(1, 8, 8), latent_dim=2, architecture="mlp"))
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.mul_(1e4)
    terms = model.loss(torch.rand(4, 1, 8, 8))
    assert torch.isfinite(terms.total)


def test_warmup_ramps_the_kl_weight_and_capacity_grows():
    model = VAE(ModelConfig(image_shape=(1, 8, 8), beta=4.0, warmup_epochs=2, capacity=10, capacity_epochs=5))
    assert model.kl_weight(0.0) == 0.0
    assert model.kl_weight(1.0) == pytest.approx(2.0)
    assert model.kl_weight(3.0) == pytest.approx(4.0)
    assert model.kl_weight(None) == pytest.approx(4.0)
    assert model.capacity_target(2.5) == pytest.approx(5.0)
    assert model.capacity_target(None) == pytest.approx(10.0)
    kl = torch.tensor([1.0, 2.0])
    # capacity: β·|KL − C|, with KL = 3 and C = 5 at 2.5 epochs
    assert model.regulariser(kl, 2.5).item() == pytest.approx(4.0 * abs(3.0 - 5.0))


def test_free_bits_floor_each_dimension():
    model = VAE(ModelConfig(image_shape=(1, 8, 8), latent_dim=2, free_bits=0.5))
    assert model.regulariser(torch.tensor([0.1, 2.0]), None).item() == pytest.approx(2.5)


def test_gaussian_likelihood_matches_torch_normal():
    config = ModelConfig(image_shape=(1, 4, 4), likelihood="gaussian", sigma=0.3)
    model = VAE(config)
    x, mean = torch.rand(3, 1, 4, 4), torch.rand(3, 1, 4, 4)
    expected = Normal(mean, 0.3).log_prob(x).flatten(1).sum(-1)
    torch.testing.assert_close(model.log_likelihood(x, mean), expected)


def test_bernoulli_likelihood_and_its_gradient_match_torch():
    """The hand-written Bernoulli NLL against torch's BCE with logits, extreme logits and
    grey pixels included, and against torch.distributions, in value and gradient."""
    from torch.distributions import Bernoulli as TorchBernoulli

    model = VAE(ModelConfig(image_shape=(1, 4, 4)))
    torch.manual_seed(3)
    logits = torch.cat([torch.randn(2, 1, 4, 4) * 5, torch.full((1, 1, 4, 4), 60.0), torch.full((1, 1, 4, 4), -60.0)])
    x = torch.rand(4, 1, 4, 4)
    x[:2] = x[:2].round()
    ours_logits = logits.clone().requires_grad_()
    ref_logits = logits.clone().requires_grad_()
    ours = model.log_likelihood(x, ours_logits)
    reference = -F.binary_cross_entropy_with_logits(ref_logits, x, reduction="none").flatten(1).sum(-1)
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-6)
    binary = TorchBernoulli(logits=logits[:2]).log_prob(x[:2]).flatten(1).sum(-1)
    torch.testing.assert_close(ours[:2], binary, atol=1e-4, rtol=1e-6)
    weights = torch.randn(4)
    (ours * weights).sum().backward()
    (reference * weights).sum().backward()
    torch.testing.assert_close(ours_logits.grad, ref_logits.grad)
    assert torch.autograd.gradcheck(
        lambda params: model.log_likelihood(x.double()[:2], params), logits[:2].double().requires_grad_()
    )


def test_learned_sigma_is_a_parameter():
    model = VAE(ModelConfig(image_shape=(1, 4, 4), likelihood="gaussian-learned"))
    assert any(name.endswith("log_sigma") for name, _ in model.named_parameters())


def test_elbo_is_below_the_iwae_bound_which_grows_with_k():
    torch.manual_seed(0)
    model = VAE(ModelConfig(image_shape=(1, 8, 8), latent_dim=2, architecture="mlp")).eval()
    with torch.no_grad():  # a decoder that depends strongly on z: q(z|x) is then a poor proposal
        for p in model.decoder.parameters():
            p.mul_(4.0)
    x = (torch.rand(64, 1, 8, 8) > 0.5).float()
    log_w, log_lik = log_weights(model, x, 1000)
    posterior = model.encode(x)
    elbo = (log_lik.mean(-1) - posterior.kl_per_dim().sum(-1)).mean()
    bounds = [iwae_bound(log_w[:, :k]).mean().item() for k in (1, 10, 100, 1000)]
    assert elbo.item() <= bounds[-1]
    assert bounds == sorted(bounds)
    assert bounds[-1] - bounds[0] > 0.1


def test_bad_configs_are_rejected_with_a_message():
    with pytest.raises(ConfigError, match="latent dimension"):
        ModelConfig(latent_dim=0)
    with pytest.raises(ConfigError, match="likelihood"):
        ModelConfig(likelihood="poisson")
    with pytest.raises(ConfigError, match="beta"):
        ModelConfig(beta=-1)


def test_prior_sample_is_standard_normal_in_closed_form():
    from latentexplorer.models import prior_log_prob

    z = torch.zeros(1, 4)
    assert prior_log_prob(z).item() == pytest.approx(-2 * math.log(2 * math.pi))
