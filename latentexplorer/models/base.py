"""The protocol every latent model follows, so the explorer treats AE, VAE and β-VAE alike.

encode(x) → Posterior(mu, logvar)   q(z|x), a diagonal Gaussian (zero variance for an AE)
decode(z) → likelihood parameters   e.g. Bernoulli logits
mean(z)   → image in [0, 1]         what the GUI shows
loss(x)   → LossTerms               recon, KL, KL per dimension, total
sample(n) → images decoded from z ~ p(z) = N(0, I)
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from latentexplorer.config import ModelConfig
from latentexplorer.models.likelihoods import Likelihood, make_likelihood
from latentexplorer.models.networks import build_networks

LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0
"""Clamp for log σ²: exp() of it stays finite in float32 and σ never reaches exactly 0."""


@dataclass(frozen=True)
class Posterior:
    """q(z|x) = N(mu, diag(exp(logvar))), optionally with a full covariance shared by all items.

    `cov` is for linear-Gaussian models such as factor analysis, whose posterior
    covariance is full; neural models leave it None.
    """

    mu: torch.Tensor
    logvar: torch.Tensor
    cov: torch.Tensor | None = None

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def rsample(self, n: int | None = None) -> torch.Tensor:
        """The reparameterisation trick: z = μ + σ·ε with ε ~ N(0, I).

        Randomness lives in ε, outside the network, so gradients flow through μ and σ
        to the encoder. With `n`, returns n samples per item (n × batch × dim).
        """
        shape = self.mu.shape if n is None else (n, *self.mu.shape)
        eps = torch.randn(shape, dtype=self.mu.dtype, device=self.mu.device)
        return self.mu + self.std * eps

    def kl_per_dim(self) -> torch.Tensor:
        """KL(q(z|x) ‖ N(0, I)) per item and dimension, in closed form (Kingma & Welling 2014, App. B).

        ½(μ² + σ² − 1 − log σ²), shape batch × dim.
        """
        return 0.5 * (self.mu.pow(2) + self.logvar.exp() - 1.0 - self.logvar)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z|x) summed over dimensions (z may carry leading sample dimensions)."""
        return _diag_normal_log_prob(z, self.mu, self.logvar)

    def detach(self) -> Posterior:
        return Posterior(
            self.mu.detach(), self.logvar.detach(), None if self.cov is None else self.cov.detach()
        )


def eval_copy(model: nn.Module) -> nn.Module:
    """A copy of a model for looking at it: on the CPU, in eval mode, no gradients; never the
    model an optimiser is changing (the explorer's copy, a training run's epoch snapshot)."""
    model = copy.deepcopy(model).cpu().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def prior_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last dimension."""
    return -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)


def _diag_normal_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)


@dataclass(frozen=True)
class LossTerms:
    """One batch's objective, averaged over items (nats per item).

    recon: −E_q[log p(x|z)] (one Monte-Carlo sample); kl: KL(q ‖ p) summed over
    dimensions; kl_per_dim: its split by dimension; reg: the regulariser actually
    added to the loss (β·KL, warm-up or capacity applied); total = recon + reg.
    """

    recon: torch.Tensor
    kl: torch.Tensor
    kl_per_dim: torch.Tensor
    reg: torch.Tensor
    total: torch.Tensor

    @property
    def elbo(self) -> torch.Tensor:
        """The evidence lower bound, −(recon + KL): what β = 1 without annealing maximises."""
        return -(self.recon + self.kl)


class LatentModel(nn.Module):
    """Shared machinery: networks from the config, the likelihood, decoding and sampling."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.likelihood: Likelihood = make_likelihood(config)
        self.encoder, self.decoder = build_networks(
            config,
            encoder_outputs=2 * config.latent_dim if config.is_variational else config.latent_dim,
            decoder_channels=config.image_shape[0],
        )

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, x: torch.Tensor) -> Posterior:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Likelihood parameters for z (batch × dim → batch × C' × H × W)."""
        return self.decoder(z)

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """The image the model expects at z, in [0, 1]: what the explorer displays."""
        return self.likelihood.mean(self.decode(z)).clamp(0.0, 1.0)

    def log_likelihood(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per item, summed over pixels."""
        return self.likelihood.log_prob(x, params)

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per item for codes z (batch × dim); a sequence model overrides it, as its
        likelihood needs the decoder run on x itself."""
        return self.log_likelihood(x, self.decode(z))

    def forward(self, x: torch.Tensor, progress: float | None = None) -> LossTerms:
        """The training objective; `progress` is the fraction of epochs done (for annealing)."""
        raise NotImplementedError

    def loss(self, x: torch.Tensor, progress: float | None = None) -> LossTerms:
        return self(x, progress)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images decoded from z ~ N(0, I), the prior."""
        z = torch.randn(n, self.latent_dim, generator=generator).to(self.device)
        return self.mean(z)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean: the reconstruction the explorer shows beside an original."""
        return self.mean(self.encode(x).mu)
