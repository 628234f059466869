"""What the preview pane can be asked to show: one frozen record per kind of gesture.

The Session's selection emits one of these on `previewChanged`; the preview pane renders it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PointPreview:
    """A data item: original, reconstruction decode(μ), decodes of z ~ q(z|x).

    A click's record comes without its samples (`samples_pending`): they are decoded after
    the reconstruction has been painted and arrive in a copy of the record."""

    index: int
    original: np.ndarray
    reconstruction: np.ndarray
    samples: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    label: str
    responsibilities: np.ndarray | None
    samples_pending: bool = False  # the samples follow on `samplesDecoded`, after the paint


@dataclass(frozen=True)
class LocationPreview:
    """An arbitrary latent location, decoded, with the data item nearest to it."""

    z: np.ndarray
    image: np.ndarray
    nearest: int
    nearest_image: np.ndarray
    distance: float
    source: str = "click"  # "click" | "slider"
    original: np.ndarray | None = None  # the selected item's image, when perturbing it


@dataclass(frozen=True)
class InterpolationPreview:
    start: int
    end: int | None
    zs: np.ndarray
    frames: np.ndarray
    method: str
    done: bool


@dataclass(frozen=True)
class SamplesPreview:
    zs: np.ndarray
    images: np.ndarray
    title: str


@dataclass(frozen=True)
class DrawingPreview:
    """An image the user drew or dropped, as the model reads it: its reconstruction, decodes
    of z ~ q(z|x), and the labels of the data items whose codes are nearest to its μ."""

    image: np.ndarray
    reconstruction: np.ndarray
    samples: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    nearest: np.ndarray
    nearest_labels: tuple[str, ...]


@dataclass(frozen=True)
class CaptionPreview:
    """A data item seen by an embedding model (no decoder): its image and its best captions."""

    index: int
    original: np.ndarray
    captions: tuple[str, ...]
    scores: np.ndarray
    label: str
    true_caption: str = ""
