"""The variational autoencoder (Kingma & Welling 2014) and its β-VAE variants.

β-VAE (Higgins et al. 2017) weights the KL by β; KL warm-up (Bowman et al. 2016)
ramps that weight from 0 over the first epochs so the decoder learns to use z
before the KL can switch it off; capacity annealing (Burgess et al. 2018) instead
pulls the KL towards a target C that grows over training; free bits (Kingma et
al. 2016) stop charging for a dimension whose KL is below a floor.
"""

from __future__ import annotations

import torch

from latentexplorer.models.base import LOGVAR_MAX, LOGVAR_MIN, LatentModel, LossTerms, Posterior


class VAE(LatentModel):
    """A VAE; with `kind="betavae"` the same class, its β taken from the config."""

    def encode(self, x: torch.Tensor) -> Posterior:
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return Posterior(mu, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX))

    def forward(self, x: torch.Tensor, progress: float | None = None) -> LossTerms:
        posterior = self.encode(x)
        z = posterior.rsample()  # reparameterised: gradients reach the encoder through μ and σ
        recon = -self.log_likelihood(x, self.decode(z)).mean()
        kl_per_dim = posterior.kl_per_dim().mean(0)
        kl = kl_per_dim.sum()
        reg = self.regulariser(kl_per_dim, progress)
        return LossTerms(recon=recon, kl=kl, kl_per_dim=kl_per_dim, reg=reg, total=recon + reg)

    def kl_weight(self, progress: float | None) -> float:
        """β, ramped linearly from 0 over `warmup_epochs` (full β when progress is unknown)."""
        cfg = self.config
        if progress is None or cfg.warmup_epochs <= 0:
            return cfg.beta
        return cfg.beta * min(1.0, progress / cfg.warmup_epochs)

    def capacity_target(self, progress: float | None) -> float:
        """C grows linearly to `capacity` nats over `capacity_epochs`."""
        cfg = self.config
        if progress is None or cfg.capacity_epochs <= 0:
            return cfg.capacity
        return cfg.capacity * min(1.0, progress / cfg.capacity_epochs)

    def regulariser(self, kl_per_dim: torch.Tensor, progress: float | None) -> torch.Tensor:
        """The KL term as it enters the loss: β·KL, or β·|KL − C| with capacity annealing."""
        cfg = self.config
        if cfg.free_bits > 0:
            kl_per_dim = kl_per_dim.clamp(min=cfg.free_bits)
        kl = kl_per_dim.sum()
        if cfg.capacity > 0:
            kl = (kl - self.capacity_target(progress)).abs()
        return self.kl_weight(progress) * kl
