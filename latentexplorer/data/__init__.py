"""Data sources, all returning one `ImageSet` record, and the dispatcher that picks one.

torchvision, PIL and scikit-learn are imported only inside the loaders that need
them, so importing this package (which every command does) stays quick.
"""

from __future__ import annotations

import numpy as np

from latentexplorer.config import DataConfig
from latentexplorer.data.arrays import load_arrays
from latentexplorer.data.base import Factors, ImageSet, to_float
from latentexplorer.data.digits import load_digits
from latentexplorer.data.folder import load_folder
from latentexplorer.data.sprites import make_sprites
from latentexplorer.data.strokes import StrokeSet, load_stroke_arrays, make_strokes
from latentexplorer.data.torchvision_sets import TORCHVISION_SETS, load_torchvision
from latentexplorer.errors import DataError

__all__ = [
    "DATASETS",
    "STANDARD_SPLIT_SETS",
    "Factors",
    "ImageSet",
    "describe",
    "load_arrays",
    "load_dataset",
    "load_digits",
    "load_folder",
    "load_torchvision",
    "make_sprites",
    "make_strokes",
    "load_stroke_arrays",
    "StrokeSet",
    "to_float",
]

DATASETS = ("sprites", "digits", "mnist", "fashion-mnist", "kmnist", "cifar10", "folder", "npz", "strokes",
            "strokes-npz")

STANDARD_SPLIT_SETS = TORCHVISION_SETS
"""Datasets published with their own training and test files (`DataConfig.split="standard"`)."""

_DEFAULT_SPRITES = 50_000
_DEFAULT_STROKES = 10_000
_DEFAULT_SIZE = 32
_ROOT_MEANING = {"folder": "the image folder", "npz": "the .npz or .npy file",
                "strokes-npz": "the .npz of sequences and lengths"}


def load_dataset(config: DataConfig, test: bool = False) -> ImageSet:
    """The dataset `config` names; with `config.n` below its size, a seeded subset of it.

    Sprites draw `n` items themselves (or the full grid); every other source is
    loaded whole and then subsampled with `config.seed`, so a run reloads the same items.
    `test`: the dataset's own test images instead (MNIST's 10,000), always whole.
    """
    name = config.name.lower()
    if name not in DATASETS:
        raise DataError(f"unknown dataset {config.name!r}; choose one of {', '.join(DATASETS)}")
    if test:
        if name not in STANDARD_SPLIT_SETS:
            raise DataError(
                f"{name} has no standard test set (only {', '.join(STANDARD_SPLIT_SETS)} have one)"
            )
        if config.root is None:
            raise DataError(f"--data-root is required for {name}")
        return load_torchvision(name, config.root, train=False)
    size = config.size or _DEFAULT_SIZE
    if name == "sprites":
        return make_sprites(
            n=config.n or _DEFAULT_SPRITES, size=size, seed=config.seed, full=config.full
        )
    if name == "strokes":
        return make_strokes(n=config.n or _DEFAULT_STROKES, seed=config.seed)
    if name == "digits":
        data = load_digits()
    else:
        if config.root is None:
            meaning = f" ({_ROOT_MEANING[name]})" if name in _ROOT_MEANING else ""
            raise DataError(f"--data-root is required for {name}{meaning}")
        if name in TORCHVISION_SETS:
            data = load_torchvision(name, config.root, train=True)
        elif name == "strokes-npz":
            data = load_stroke_arrays(config.root)
        elif name == "folder":
            data = load_folder(config.root, size=size, grayscale=config.grayscale)
        else:
            data = load_arrays(config.root)
    if config.n is not None and config.n < len(data):
        rng = np.random.default_rng(config.seed)
        data = data.subset(np.sort(rng.choice(len(data), size=config.n, replace=False)))
    return data


def describe(images: ImageSet) -> str:
    """One line for logs and status bars, e.g. `digits: 1,797 images 1×8×8 uint8, 10 classes`."""
    c, h, w = images.image_shape
    parts = [f"{images.name}: {len(images):,} images {c}×{h}×{w} {images.images.dtype}"]
    parts.append(f"{images.nbytes / 2**20:.1f} MiB")
    if images.labels is not None:
        count = len(images.class_names) or len(np.unique(images.labels))
        parts.append(f"{count} classes")
    else:
        parts.append("no labels")
    if images.factors is not None:
        parts.append(f"factors {'/'.join(images.factors.names)}")
    return ", ".join(parts)
