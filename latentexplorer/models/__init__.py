"""Latent models sharing one protocol (see `base.py`)."""

from __future__ import annotations

from pathlib import Path

from latentexplorer.config import ModelConfig
from latentexplorer.models.autoencoder import Autoencoder
from latentexplorer.models.base import LatentModel, LossTerms, Posterior, prior_log_prob
from latentexplorer.models.clip import CLIPModel
from latentexplorer.models.linear import (
    LINEAR_MODELS,
    FactorAnalysisModel,
    PCAModel,
    fit_linear_model,
)
from latentexplorer.models.sequence import SequenceVAE
from latentexplorer.models.vae import VAE
from latentexplorer.models.wrapped import ModelError, WrappedModel, wrap

__all__ = [
    "Autoencoder", "CLIPModel", "FactorAnalysisModel", "LatentModel", "LossTerms", "ModelConfig", "ModelError",
    "PCAModel", "Posterior", "SequenceVAE", "VAE", "WrappedModel", "build_model", "fit_linear_model",
    "prior_log_prob", "wrap",
]


def build_model(config: ModelConfig, folder: str | Path | None = None) -> LatentModel:
    """The model a config describes, freshly initialised (a linear model's buffers are filled
    by fitting or by loading its weights); `folder` is the run folder for models that keep
    more than weights there (a CLIP model's vocabulary)."""
    if config.kind in LINEAR_MODELS:
        return LINEAR_MODELS[config.kind](config)
    if config.kind == "clip":
        return CLIPModel(config) if folder is None else CLIPModel.from_folder(config, folder)
    if config.is_sequence:
        return SequenceVAE(config)
    return Autoencoder(config) if config.kind == "ae" else VAE(config)
