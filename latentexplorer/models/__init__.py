"""Latent models sharing one protocol (see `base.py`)."""

from __future__ import annotations

from latentexplorer.config import ModelConfig
from latentexplorer.models.autoencoder import Autoencoder
from latentexplorer.models.base import LatentModel, LossTerms, Posterior, prior_log_prob
from latentexplorer.models.vae import VAE

__all__ = [
    "Autoencoder", "LatentModel", "LossTerms", "ModelConfig", "Posterior", "VAE", "build_model",
    "prior_log_prob",
]


def build_model(config: ModelConfig) -> LatentModel:
    """The model a config describes, freshly initialised."""
    return Autoencoder(config) if config.kind == "ae" else VAE(config)
