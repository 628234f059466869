"""Set a run up from its configuration: data, split, model, run folder, resume."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from latentexplorer.checkpoint import (
    WEIGHTS_FILE,
    load_state_into,
    load_weights_file,
    prepare_run_folder,
    read_config,
)
from latentexplorer.config import RunConfig
from latentexplorer.data import ImageSet, load_dataset
from latentexplorer.data.binarize import binarize_split, check_binarize
from latentexplorer.data.strokes import check_model_reads_data
from latentexplorer.errors import DataError
from latentexplorer.models import build_model
from latentexplorer.training.distributed import DistContext
from latentexplorer.training.records import EpochMetrics, StepMetrics, TrainResult
from latentexplorer.training.trainer import Trainer


def split_data(config: RunConfig, images: ImageSet | None = None) -> tuple[ImageSet, ImageSet | None]:
    """The run's dataset split into train/validation with the data seed (same split every time);
    with `split="standard"`, the dataset's training images and its own test images; binarised
    as `config.data.binarize` says."""
    check_binarize(config)
    images = images if images is not None else load_dataset(config.data)
    if config.model.kind == "clip":
        from latentexplorer.data.captions import caption_images

        images = caption_images(images, seed=config.data.seed)
    if config.data.split == "standard":
        return binarize_split(config, images, load_dataset(config.data, test=True))
    if config.data.val_fraction <= 0:
        return binarize_split(config, images, None)
    return binarize_split(config, *images.split(config.data.val_fraction, seed=config.data.seed))


def prepare_training(
    config: RunConfig | None,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    epochs: int | None = None,
    images: ImageSet | None = None,
    on_step: Callable[[StepMetrics], None] | None = None,
    on_epoch: Callable[[EpochMetrics], None] | None = None,
    cancel: threading.Event | None = None,
    dist: DistContext | None = None,
    tensorboard: bool = True,
    on_note: Callable[[str], None] | None = None,
) -> Trainer:
    """A Trainer ready to `fit()`.

    A new run takes its image shape from the data. Resuming reads the run folder's
    own config (only `epochs` may change) and refuses data of another shape. `tensorboard`
    and `on_note`: see `Trainer`.
    """
    dist = dist or DistContext()
    if resume:
        if out is None:
            raise DataError("resuming needs the run folder")
        saved = read_config(out)
        config = replace(saved, train=replace(saved.train, epochs=epochs or saved.train.epochs))
    elif config is None:
        raise DataError("a configuration is needed to start a new run")
    elif epochs is not None:
        config = replace(config, train=replace(config.train, epochs=epochs))
    if config.model.is_linear:
        raise DataError(
            f"a {config.model.kind.upper()} run is fitted in closed form, not trained by epochs: "
            "fit it again (`latentexplorer train --model pca|fa --overwrite`)"
        )
    train_set, val_set = split_data(config, images)
    check_model_reads_data(config.model, train_set)
    if resume:
        if train_set.image_shape != config.model.image_shape:
            raise DataError(
                f"the data have images of shape {train_set.image_shape}, but the run's model "
                f"expects {config.model.image_shape}"
            )
    else:
        config = replace(config, model=replace(config.model, image_shape=train_set.image_shape))
        if config.model.kind == "clip":
            from latentexplorer.data.captions import sprite_vocabulary

            config = replace(config, model=replace(config.model, vocab_size=len(sprite_vocabulary())))
        if not config.name and out is not None:
            config = replace(config, name=Path(out).name)
    if out is not None and dist.is_main:
        prepare_run_folder(out, resume=resume, overwrite=overwrite)
    torch.manual_seed(config.train.seed)
    model = build_model(config.model, out if resume else None)
    if resume:
        load_state_into(model, load_weights_file(Path(out) / WEIGHTS_FILE), WEIGHTS_FILE)
    trainer = Trainer(
        model, config, train_set, val_set, out=out, on_step=on_step, on_epoch=on_epoch,
        cancel=cancel, dist=dist, tensorboard=tensorboard, on_note=on_note,
    )
    if resume:
        trainer.restore(out)
    return trainer


def train(config: RunConfig | None, out: str | Path | None = None, **kwargs) -> TrainResult:
    """Prepare and run training in one call (see `prepare_training` for the options)."""
    return prepare_training(config, out, **kwargs).fit()
