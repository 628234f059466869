"""Pieces more than one sub-command uses: an option type and opening a run with its data."""

from __future__ import annotations

import argparse
from dataclasses import replace


def int_list(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated integers, at least one (`--hidden 512,256`)."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def open_run_and_data(run: str, data_root: str | None):
    """The run, its configuration with `data_root` applied, and its data, checked to fit the
    model: `evaluate` and `encode` both read a run's data from wherever they now live."""
    from latentexplorer.checkpoint import load_run
    from latentexplorer.data import load_dataset
    from latentexplorer.errors import DataError

    opened = load_run(run)
    config = opened.config
    if data_root is not None:
        config = replace(config, data=replace(config.data, root=data_root))
    images = load_dataset(config.data)
    if images.image_shape != config.model.image_shape:
        raise DataError(
            f"the data have images of shape {images.image_shape}; the model expects "
            f"{config.model.image_shape}"
        )
    return opened, replace(opened.config, data=config.data), images
