"""Binarised grey images, as the likelihood papers use MNIST: each pixel drawn as 0 or 1 with
its grey level as the probability.

A Bernoulli likelihood is a proper density only on binary pixels, so −log p(x) on the grey
images is not comparable with published figures. Dynamic binarisation (Burda et al. 2016)
draws the training images anew every epoch, which regularises; the held-out images are
drawn once with a seed, so every evaluation scores the same binary images.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import numpy as np
import torch

from latentexplorer.config import RunConfig
from latentexplorer.data.base import ImageSet
from latentexplorer.errors import DataError

HELD_OUT_STREAM = 0
"""The draw of validation and test images: `evaluate --test --seed S` repeats a run's own."""
STATIC_STREAM = 1
"""The one draw of the training images under `binarize static`."""
_CHUNK = 4096  # items per draw: a float copy of 4,096 MNIST images is 13 MB

_NOT_GREY = {
    "cifar10": "CIFAR-10 images are in colour: a draw per channel gives no black-and-white "
               "image and no likelihood that papers report",
    "strokes": "strokes are pen trajectories (offsets and pen states), not grey pixels: "
               "there is no grey level to draw a 0 or 1 from",
    "strokes-npz": "strokes are pen trajectories (offsets and pen states), not grey pixels: "
                   "there is no grey level to draw a 0 or 1 from",
}


def draw_seed(seed: int, stream: int) -> int:
    """The generator seed of one draw: separate streams for held-out images, the static draw
    and each epoch's dynamic draw (stream 2 + epoch)."""
    return (seed * 1_000_003 + stream * 7_919 + 17) % (2**63 - 1)


def check_binarize(config: RunConfig) -> None:
    """Refuse `binarize` where it means nothing, before any data are loaded: colour images,
    pen strokes, a model without a Bernoulli likelihood, or (dynamic) a closed-form fit."""
    mode, name, model = config.data.binarize, config.data.name.lower(), config.model
    if mode == "off":
        return
    why = _NOT_GREY.get(name)
    if name == "folder" and not config.data.grayscale:
        why = "the image folder is read in colour (--rgb): binarisation needs grey images"
    if why:
        raise DataError(f"--binarize {mode} cannot apply to {name}: {why}")
    if model.kind in ("seqvae", "clip"):
        raise DataError(f"--binarize cannot apply to a {model.kind} model: it has no pixel likelihood")
    if model.likelihood != "bernoulli":
        raise DataError(
            f"--binarize gives pixels of 0 or 1, which a {model.likelihood} likelihood does not model "
            "as a probability; use --likelihood bernoulli"
        )
    if mode == "dynamic" and model.is_linear:
        raise DataError(
            f"--binarize dynamic redraws the images every epoch, but {model.kind.upper()} is fitted "
            "once in closed form; use --binarize static"
        )


def check_binarizable(images: ImageSet) -> None:
    """The data themselves must be grey images with values in [0, 1] (uint8 or float)."""
    if images.image_shape[0] != 1:
        raise DataError(
            f"--binarize needs grey images; {images.name} has {images.image_shape[0]} channels"
        )
    if images.images.dtype != np.uint8 and len(images):
        low, high = float(np.nanmin(images.images)), float(np.nanmax(images.images))
        if low < 0.0 or high > 1.0:
            raise DataError(
                f"--binarize needs grey levels in [0, 1] to draw from; {images.name} has values "
                f"from {low:g} to {high:g}"
            )


def binarize_static(images: ImageSet, seed: int, stream: int = HELD_OUT_STREAM) -> ImageSet:
    """The images with each pixel drawn once as 0 or 255 (uint8), reproducibly from `seed`.

    Drawn in chunks of items, so 60,000 MNIST images need 13 MB of floats at a time, not 190."""
    generator = torch.Generator().manual_seed(draw_seed(seed, stream))
    out = np.empty(images.images.shape, dtype=np.uint8)
    for start in range(0, len(images), _CHUNK):
        grey = images.float_batch(slice(start, start + _CHUNK)).clamp_(0.0, 1.0)
        out[start : start + _CHUNK] = torch.bernoulli(grey, generator=generator).mul_(255).to(torch.uint8).numpy()
    meta = {**images.meta, "binarized": {"seed": seed, "stream": stream}}
    return replace(images, images=out, meta=meta)


def binarize_split(
    config: RunConfig, train: ImageSet, held_out: ImageSet | None
) -> tuple[ImageSet, ImageSet | None]:
    """A run's (train, validation) as it trains on them: the held-out images drawn once with
    the data seed; the training images drawn once (static) or left grey for the trainer to
    draw each epoch (dynamic, `redraw_each_epoch`)."""
    mode = config.data.binarize
    if mode == "off":
        return train, held_out
    check_binarizable(train)
    if held_out is not None:
        check_binarizable(held_out)
        held_out = binarize_static(held_out, config.data.seed)
    if mode == "static":
        train = binarize_static(train, config.data.seed, STATIC_STREAM)
    return train, held_out


def redraw_each_epoch(
    batches: Callable[[int], Iterator[torch.Tensor]], seed: int, rank: int = 0
) -> Callable[[int], Iterator[torch.Tensor]]:
    """The trainer's batches (epoch → float images in [0, 1]) with every pixel drawn as 0 or 1
    anew each epoch, from a generator seeded by (seed, epoch, rank): a resumed run draws what
    an uninterrupted one would, DDP ranks draw independently, and the global RNG (the
    reparameterisation noise) is untouched."""

    def drawn(epoch: int) -> Iterator[torch.Tensor]:
        generator = None
        for x in batches(epoch):
            if generator is None:
                generator = torch.Generator(device=x.device)
                generator.manual_seed((draw_seed(seed, 2 + epoch) + rank) % (2**63 - 1))
            yield torch.bernoulli(x.clamp(0.0, 1.0), generator=generator)

    return drawn
