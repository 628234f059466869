"""The opened run and its data: the model (an eval-mode copy), the items and their codes.

Vocabulary: run, model, images, μ, log σ², decode, nearest item. The Session installs a run
here; everything else reads it."""

from __future__ import annotations

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from latentexplorer.analysis.code_table import codes_table
from latentexplorer.analysis.dimensions import (
    DimensionStats,
    dimension_stats,
    manifold_codes,
    traversal_codes,
)
from latentexplorer.analysis.neighbours import NearestCodes
from latentexplorer.checkpoint import Run
from latentexplorer.data import ImageSet
from latentexplorer.errors import DataError
from latentexplorer.gui.widgets.images import display_images

NEIGHBOURS = 6

MODEL_KINDS = {"ae": "autoencoder", "vae": "VAE", "betavae": "β-VAE", "pca": "PCA",
               "fa": "factor analysis", "seqvae": "sequence VAE"}
"""A model kind in words (the status bar, the Compare tab's sides)."""


def check_shape(run: Run, images: ImageSet) -> None:
    """A DataError when the items are not of the shape the model reads."""
    if images.image_shape != run.config.model.image_shape:
        raise DataError(
            f"{images.name} has images of shape {images.image_shape}, but the model "
            f"{run.name} expects {run.config.model.image_shape}"
        )


class OpenedRun(QObject):
    runChanged = Signal()  # another run or other data: every view starts again
    codesUpdated = Signal()  # same run and data, new codes (a model in training moved on)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run: Run | None = None
        self.model = None
        self.images: ImageSet | None = None
        self.mu = np.zeros((0, 2), np.float32)
        self.logvar = np.zeros((0, 2), np.float32)
        self._nearest = NearestCodes()

    def install(self, run: Run, model: torch.nn.Module, images: ImageSet,
                codes: tuple[np.ndarray, np.ndarray]) -> None:
        """Hold a run (its eval copy `model`), its items and their codes; the Session
        announces the change once every part of the state agrees with it."""
        self.run, self.model, self.images = run, model, images
        self.mu, self.logvar = codes

    def update_codes(self, run: Run, model: torch.nn.Module, codes: tuple[np.ndarray, np.ndarray]) -> None:
        """The next snapshot of the same run on the same items (a model in training)."""
        self.run, self.model = run, model
        self.mu, self.logvar = codes

    def provenance(self) -> dict:
        """The provenance block of a figure of this run: its weights, items, device, versions."""
        from latentexplorer.provenance import figure_provenance

        items = len(self.images) if self.images is not None else None
        return figure_provenance(self.run, items=items, model=self.model)

    @property
    def latent_dim(self) -> int:
        return self.mu.shape[1]

    @property
    def has_run(self) -> bool:
        return self.run is not None and self.images is not None

    @property
    def has_decoder(self) -> bool:
        """False for models that only embed (CLIP): nothing may be decoded."""
        return getattr(self.model, "has_decoder", True)

    @property
    def variational(self) -> bool:
        return self.run is not None and self.run.config.model.is_variational

    @property
    def training(self) -> bool:
        """The open run is a snapshot of a model in training."""
        return bool(self.run is not None and self.run.state.get("training"))

    def shared_covariance(self) -> np.ndarray | None:
        """A posterior covariance shared by every item (factor analysis), or None."""
        shared = getattr(self.model, "posterior_covariance", None)
        return shared().detach().double().numpy() if callable(shared) else None

    @torch.no_grad()
    def decode(self, z: np.ndarray) -> np.ndarray:
        """Images in [0, 1] (M×C×H×W float32) for latent vectors M×D, from the eval copy."""
        z = torch.as_tensor(np.atleast_2d(z), dtype=torch.float32)
        return self.model.mean(z).numpy()

    @torch.no_grad()
    def encode(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """μ and log σ² (float64) of one image C×H×W in [0, 1] from outside the data."""
        posterior = self.model.encode(torch.from_numpy(np.asarray(image, np.float32))[None])
        return posterior.mu[0].double().numpy(), posterior.logvar[0].double().numpy()

    def original(self, index: int) -> np.ndarray:
        return display_images(self.images, np.array([index]))[0]

    def nearest(self, z: np.ndarray, k: int = 1, exclude: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """Indices and Euclidean distances of the k items whose μ is nearest to z."""
        return self._nearest(self.mu, z, k, exclude)

    def neighbours_of(self, index: int, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
        """The k items whose μ is nearest to item `index`'s, and their images."""
        neighbours, _ = self.nearest(self.mu[index], k, exclude=index)
        return neighbours, display_images(self.images, neighbours)

    def label_of(self, index: int) -> str:
        if self.images.labels is None:
            return ""
        label = int(self.images.labels[index])
        names = self.images.class_names
        return names[label] if label < len(names) else str(label)

    def class_names(self) -> list[str]:
        labels = self.images.labels
        count = max(len(self.images.class_names), int(labels.max()) + 1 if len(labels) else 0)
        return [self.images.class_names[i] if i < len(self.images.class_names) else str(i) for i in range(count)]

    def describe_model(self) -> str:
        """The model in words: kind (β), a linear model's summary, the epoch in training."""
        cfg = self.run.config.model
        kind = MODEL_KINDS.get(cfg.kind, cfg.kind.upper())
        if cfg.kind == "betavae":
            kind = f"β-VAE (β = {cfg.beta:g})"
        elif cfg.kind == "vae" and cfg.beta != 1:
            kind = f"VAE (β = {cfg.beta:g})"
        if cfg.is_linear:
            kind += f": {self.model.summary()}"
        if self.training:
            kind += f" in training (epoch {self.run.state.get('epoch', 0)})"
        return kind

    # --- figures of the codes --------------------------------------------------------------

    def dimension_stats(self) -> DimensionStats:
        """Per latent dimension: average KL (VAEs), variance of μ, activity, slider range."""
        return dimension_stats(self.mu, self.logvar, self.variational)

    def traversal(self, dims: list[int], base: np.ndarray | None = None,
                  steps: int = 9) -> tuple[np.ndarray, np.ndarray]:
        """The β-VAE figure: each dimension swept over its slider range, the others at `base`
        (the z shown, or the data mean). Returns (values: len(dims)×steps,
        images: len(dims)×steps×C×H×W)."""
        base = base if base is not None else self.mu.mean(axis=0).astype(np.float64)
        values, zs = traversal_codes(self.dimension_stats(), base, dims, steps)
        images = self.decode(zs.reshape(-1, self.latent_dim))
        return values, images.reshape(len(dims), steps, *images.shape[1:])

    def manifold(self, n: int = 15) -> np.ndarray:
        """The Kingma & Welling figure for 2-D latents: n×n×C×H×W decodes, top row y high."""
        images = self.decode(manifold_codes(n))
        return images.reshape(n, n, *images.shape[1:])

    def codes_table(self, xy: np.ndarray, responsibilities: np.ndarray | None) -> dict[str, np.ndarray]:
        """μ, log σ², the view's x, y, labels and responsibilities, one row per item (export)."""
        return codes_table(self.mu, self.logvar, xy, self.images.labels, responsibilities)
