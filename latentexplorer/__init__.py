"""LatentExplorer: train and explore the latent spaces of variational generative models."""

__version__ = "0.1.0"
