"""p(x|z): what the decoder's output means and how a reconstruction is scored.

Bernoulli suits near-binary images (digits, sprites); Gaussian suits photographs.
The learned-variance Gaussian learns one shared log σ (Rybkin et al. 2021, σ-VAE),
which balances reconstruction against KL without hand-tuning β.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from latentexplorer.config import ModelConfig


class Likelihood(nn.Module):
    """Decoder output → log p(x|z) per item, and → the mean image."""

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Bernoulli(Likelihood):
    """Pixels as independent Bernoulli variables; the decoder outputs logits."""

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        # BCE with logits is the numerically safe form of x·log σ(l) + (1−x)·log(1−σ(l)).
        nll = F.binary_cross_entropy_with_logits(params, x.expand_as(params), reduction="none")
        return -nll.flatten(start_dim=-3).sum(-1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(params)


class Gaussian(Likelihood):
    """Pixels as independent Gaussians with mean from the decoder and a shared σ."""

    def __init__(self, sigma: float, learned: bool) -> None:
        super().__init__()
        log_sigma = torch.tensor(math.log(sigma))
        if learned:
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)

    def log_prob(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        log_sigma = self.log_sigma.clamp(-7.0, 3.0)
        z = (x - params) * torch.exp(-log_sigma)
        per_pixel = -0.5 * z.pow(2) - log_sigma - 0.5 * math.log(2 * math.pi)
        return per_pixel.flatten(start_dim=-3).sum(-1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        return params


def make_likelihood(config: ModelConfig) -> Likelihood:
    if config.likelihood == "bernoulli":
        return Bernoulli()
    return Gaussian(config.sigma, learned=config.likelihood == "gaussian-learned")
