"""PCA and factor analysis as latent models with the same protocol as the neural ones.

Both are linear-Gaussian: decode(z) = W z + μ. Seeing them beside an autoencoder and a VAE
shows what the networks add: PCA is the linear autoencoder (its codes are projections, a
point posterior like the AE's), factor analysis is the linear VAE (its posterior is exact
and Gaussian, with a full covariance shared by every item). They are fitted in closed form
by scikit-learn on the flattened images in [0, 1]; the parameters are buffers, so a fitted
model saves to safetensors like any run.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from latentexplorer.config import ModelConfig
from latentexplorer.errors import ConfigError
from latentexplorer.models.base import LatentModel, LossTerms, Posterior

FIT_SEED = 0


class LinearLatentModel(LatentModel):
    """decode(z) = components' linear map + mean; parameters are float64 buffers.

    The networks and likelihood modules of `LatentModel` are not built: everything here is a
    fixed matrix, and p(x|z) is a Gaussian whose variance the subclass defines.
    """

    def __init__(self, config: ModelConfig) -> None:
        nn.Module.__init__(self)
        self.config = config
        n_pixels = math.prod(config.image_shape)
        if config.latent_dim > n_pixels:
            raise ConfigError(
                f"a {config.kind.upper()} of {n_pixels}-pixel images has at most {n_pixels} "
                f"latent dimensions, got {config.latent_dim}"
            )
        d = config.latent_dim
        self.register_buffer("components", torch.zeros(d, n_pixels, dtype=torch.float64))
        self.register_buffer("data_mean", torch.zeros(n_pixels, dtype=torch.float64))

    @property
    def device(self) -> torch.device:
        return self.components.device

    @property
    def n_pixels(self) -> int:
        return self.components.shape[1]

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1).to(self.components.dtype)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """W z + μ as images (the mean of p(x|z)); leading sample dimensions are kept."""
        flat = z.to(self.components.dtype) @ self.components + self.data_mean
        return flat.reshape(*z.shape[:-1], *self.config.image_shape).to(z.dtype)

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode(z).clamp(0.0, 1.0)

    def pixel_variance(self) -> torch.Tensor:
        """Var of p(x|z) per pixel (D,)."""
        raise NotImplementedError

    def log_likelihood(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """log N(x; params, diag(pixel variance)) per item, summed over pixels."""
        var = self.pixel_variance()
        diff = x.reshape(*x.shape[:-3], -1).to(var.dtype) - params.reshape(*params.shape[:-3], -1).to(var.dtype)
        per_pixel = -0.5 * (diff.pow(2) / var + torch.log(var) + math.log(2 * math.pi))
        return per_pixel.sum(-1).to(params.dtype)

    def forward(self, x: torch.Tensor, progress: float | None = None) -> LossTerms:
        posterior = self.encode(x)
        recon = -self.log_likelihood(x, self.decode(posterior.mu)).mean()
        if self.config.is_variational:
            kl_per_dim = posterior.kl_per_dim().mean(0)
        else:
            kl_per_dim = posterior.mu.new_zeros(self.latent_dim)
        kl = kl_per_dim.sum()
        return LossTerms(recon=recon, kl=kl, kl_per_dim=kl_per_dim, reg=kl, total=recon + kl)

    def fit(self, x: np.ndarray) -> LinearLatentModel:
        """Fit on flattened images (N × D in [0, 1]) with scikit-learn; returns self."""
        raise NotImplementedError

    def summary(self) -> str:
        """One line for the explorer's status bar."""
        raise NotImplementedError


class PCAModel(LinearLatentModel):
    """Principal component analysis: encode = projection onto the components (a point
    posterior, like the autoencoder's), decode = the components' map back plus the mean.

    p(x|z) is probabilistic PCA's isotropic Gaussian, σ² = the mean variance of the discarded
    directions (Tipping & Bishop 1999), so a reconstruction can be scored like any run's."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        d = config.latent_dim
        self.register_buffer("explained_variance", torch.zeros(d, dtype=torch.float64))
        self.register_buffer("explained_variance_ratio", torch.zeros(d, dtype=torch.float64))
        self.register_buffer("noise_variance", torch.ones((), dtype=torch.float64))

    def encode(self, x: torch.Tensor) -> Posterior:
        mu = ((self._flat(x) - self.data_mean) @ self.components.T).to(x.dtype)
        return Posterior(mu, torch.full_like(mu, float("-inf")))

    def pixel_variance(self) -> torch.Tensor:
        return self.noise_variance.clamp_min(1e-6).expand(self.n_pixels)

    def fit(self, x: np.ndarray) -> PCAModel:
        from sklearn.decomposition import PCA

        pca = PCA(n_components=self.latent_dim, random_state=FIT_SEED).fit(x)
        self._set(
            components=pca.components_, data_mean=pca.mean_, explained_variance=pca.explained_variance_,
            explained_variance_ratio=pca.explained_variance_ratio_, noise_variance=pca.noise_variance_,
        )
        return self

    def summary(self) -> str:
        ratio = self.explained_variance_ratio.cpu().numpy()
        per = ", ".join(f"{100 * r:.1f}" for r in ratio[:8]) + (", …" if len(ratio) > 8 else "")
        return f"explained variance per component {per} % (total {100 * ratio.sum():.1f} %)"

    def _set(self, **arrays: np.ndarray) -> None:
        for name, value in arrays.items():
            getattr(self, name).copy_(torch.as_tensor(np.asarray(value, np.float64)))


class FactorAnalysisModel(LinearLatentModel):
    """Factor analysis: x = W z + μ + ε, z ~ N(0, I), ε ~ N(0, Ψ) with Ψ diagonal.

    Its posterior is exact: q(z|x) = N((I + WᵀΨ⁻¹W)⁻¹ WᵀΨ⁻¹ (x − μ), (I + WᵀΨ⁻¹W)⁻¹), a full
    covariance that does not depend on x (Bishop, PRML §12.2.4). `components` holds Wᵀ (d × D)
    as scikit-learn's `components_` does, `noise_variance` holds Ψ."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.register_buffer("noise_variance", torch.ones(self.n_pixels, dtype=torch.float64))

    def posterior_covariance(self) -> torch.Tensor:
        """(I + WᵀΨ⁻¹W)⁻¹, d × d."""
        w_psi = self.components / self.noise_variance
        eye = torch.eye(self.latent_dim, dtype=w_psi.dtype, device=w_psi.device)
        return torch.linalg.inv(eye + w_psi @ self.components.T)

    def encode(self, x: torch.Tensor) -> Posterior:
        cov = self.posterior_covariance()
        projection = (self.components / self.noise_variance).T @ cov  # D × d: Ψ⁻¹W Σ
        mu = (self._flat(x) - self.data_mean) @ projection
        logvar = torch.log(torch.diagonal(cov)).expand_as(mu)
        return Posterior(mu.to(x.dtype), logvar.to(x.dtype), cov.to(x.dtype))

    def pixel_variance(self) -> torch.Tensor:
        return self.noise_variance

    def fit(self, x: np.ndarray) -> FactorAnalysisModel:
        from sklearn.decomposition import FactorAnalysis

        fa = FactorAnalysis(n_components=self.latent_dim, random_state=FIT_SEED).fit(x)
        for name, value in (("components", fa.components_), ("data_mean", fa.mean_),
                            ("noise_variance", fa.noise_variance_)):
            getattr(self, name).copy_(torch.as_tensor(np.asarray(value, np.float64)))
        return self

    def summary(self) -> str:
        psi = self.noise_variance.cpu().numpy()
        return (f"noise variance Ψ per pixel: mean {psi.mean():.3g}, "
                f"range {psi.min():.2g} – {psi.max():.3g}")


LINEAR_MODELS: dict[str, type[LinearLatentModel]] = {"pca": PCAModel, "fa": FactorAnalysisModel}


def fit_linear_model(config: ModelConfig, x: np.ndarray | torch.Tensor) -> LinearLatentModel:
    """A PCA or factor analysis of images (N × C × H × W, or N × D, in [0, 1])."""
    if config.kind not in LINEAR_MODELS:
        raise ConfigError(f"{config.kind!r} is not a linear model (choose pca or fa)")
    x = np.asarray(x.cpu().numpy() if isinstance(x, torch.Tensor) else x, np.float64)
    x = x.reshape(len(x), -1)
    if len(x) <= config.latent_dim:
        raise ConfigError(
            f"{len(x)} items are too few for {config.latent_dim} {config.kind.upper()} components"
        )
    return LINEAR_MODELS[config.kind](config).fit(x).eval()
