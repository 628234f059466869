"""The deterministic autoencoder, following the same protocol as the VAE.

Its posterior is a point mass (zero variance, log σ² = −∞) and it has no KL
term, so nothing pulls its codes towards N(0, I): the explorer shows the holes
this leaves, where prior samples decode to garbage.
"""

from __future__ import annotations

import torch

from latentexplorer.models.base import LatentModel, LossTerms, Posterior


class Autoencoder(LatentModel):
    def encode(self, x: torch.Tensor) -> Posterior:
        mu = self.encoder(x)
        return Posterior(mu, torch.full_like(mu, float("-inf")))

    def forward(self, x: torch.Tensor, progress: float | None = None) -> LossTerms:
        mu = self.encoder(x)
        recon = -self.log_likelihood(x, self.decode(mu)).mean()
        zero = recon.new_zeros(())
        return LossTerms(
            recon=recon, kl=zero, kl_per_dim=mu.new_zeros(mu.shape[-1]), reg=zero, total=recon
        )
