"""LatentExplorer: train and explore the latent spaces of variational generative models."""

__version__ = "0.1.0"


def __getattr__(name: str):
    """`latentexplorer.wrap`, imported on first use: `import latentexplorer` stays light."""
    if name == "wrap":
        from latentexplorer.models.wrapped import wrap

        return wrap
    raise AttributeError(f"module 'latentexplorer' has no attribute {name!r}")
