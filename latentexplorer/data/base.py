"""The one record every data source returns.

Images stay in their source's dtype (uint8 for 8-bit sources) and become float
only per batch, so a million 28×28 images take 0.8 GB instead of 3 GB.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from latentexplorer.errors import DataError


@dataclass(frozen=True)
class Factors:
    """Ground-truth generative factors: an index per item and factor, with names and values."""

    indices: np.ndarray  # (N, F) integer index into `values[f]`
    names: tuple[str, ...]
    values: tuple[np.ndarray, ...]  # per factor, the value each index stands for

    def __post_init__(self) -> None:
        if self.indices.ndim != 2 or self.indices.shape[1] != len(self.names):
            raise DataError("factor indices must be (N, number of factor names)")
        if len(self.values) != len(self.names):
            raise DataError("each factor needs its list of values")

    def subset(self, index: np.ndarray) -> Factors:
        return replace(self, indices=self.indices[index])


@dataclass(frozen=True)
class ImageSet:
    """Images N×C×H×W (uint8 in [0, 255] or float in [0, 1]), optional labels and factors."""

    images: np.ndarray
    name: str
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    factors: Factors | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise DataError(f"images must be N×C×H×W, got shape {self.images.shape}")
        if self.images.shape[1] not in (1, 3):
            raise DataError(f"images must have 1 or 3 channels, got {self.images.shape[1]}")
        if self.images.dtype != np.uint8 and not np.issubdtype(self.images.dtype, np.floating):
            raise DataError(f"images must be uint8 or float, got {self.images.dtype}")
        n = len(self.images)
        if self.labels is not None and len(self.labels) != n:
            raise DataError(f"{len(self.labels)} labels for {n} images")
        if self.factors is not None and len(self.factors.indices) != n:
            raise DataError(f"{len(self.factors.indices)} factor rows for {n} images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return (int(c), int(h), int(w))

    @property
    def nbytes(self) -> int:
        return int(self.images.nbytes)

    def subset(self, index: np.ndarray | slice, name: str | None = None) -> ImageSet:
        """The items at `index` (labels and factors follow)."""
        index = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index)
        return replace(
            self,
            images=self.images[index],
            name=name or self.name,
            labels=None if self.labels is None else self.labels[index],
            factors=None if self.factors is None else self.factors.subset(index),
        )

    def split(self, val_fraction: float, seed: int = 0) -> tuple[ImageSet, ImageSet]:
        """A seeded train/validation split; the same seed always gives the same split."""
        n_val = int(round(len(self) * val_fraction))
        if val_fraction > 0:
            n_val = max(1, n_val)
        if n_val >= len(self):
            raise DataError(f"{len(self)} items are too few for a validation split of {val_fraction}")
        order = np.random.default_rng(seed).permutation(len(self))
        return self.subset(np.sort(order[n_val:])), self.subset(np.sort(order[:n_val]))

    def tensor(self) -> torch.Tensor:
        """All images as one tensor in their stored dtype (no copy when possible)."""
        return torch.from_numpy(np.ascontiguousarray(self.images))

    def float_batch(self, index: np.ndarray | slice | None = None) -> torch.Tensor:
        """Images at `index` as float32 in [0, 1]."""
        images = self.images if index is None else self.images[index]
        return to_float(torch.from_numpy(np.ascontiguousarray(images)))


def to_float(batch: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] → float32 [0, 1]; float input is passed through as float32."""
    if batch.dtype == torch.uint8:
        return batch.float().div_(255.0)
    return batch.float()
