"""LatentExplorer: train and explore the latent spaces of variational generative models."""

from latentexplorer.version import __version__

__all__ = ["__version__", "show", "wrap"]


def __getattr__(name: str):
    """`latentexplorer.wrap` and `latentexplorer.show`, imported on first use: `import
    latentexplorer` stays light (no torch, no Qt)."""
    if name == "wrap":
        from latentexplorer.models.wrapped import wrap

        return wrap
    if name == "show":
        from latentexplorer.gui.notebook import show

        return show
    raise AttributeError(f"module 'latentexplorer' has no attribute {name!r}")
