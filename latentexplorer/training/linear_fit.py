"""Fit a PCA or factor analysis into a normal run folder: no epochs, one closed-form fit on
the training split, validation figures in history.csv, so the run opens, evaluates and
encodes like any trained one."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from latentexplorer.checkpoint import prepare_run_folder, save_run
from latentexplorer.config import RunConfig
from latentexplorer.data import ImageSet
from latentexplorer.errors import ConfigError
from latentexplorer.models.linear import LinearLatentModel, fit_linear_model
from latentexplorer.training.run import split_data


@dataclass(frozen=True)
class LinearFit:
    """A fitted linear run: where it was written, the config used, its model and figures."""

    folder: Path | None
    config: RunConfig
    model: LinearLatentModel
    row: dict[str, float]


@torch.no_grad()
def _figures(model: LinearLatentModel, images: ImageSet | None, prefix: str) -> dict[str, float]:
    if images is None or len(images) == 0:
        return {}
    terms = model.loss(images.float_batch())
    return {f"{prefix}_total": float(terms.total), f"{prefix}_recon": float(terms.recon),
            f"{prefix}_kl": float(terms.kl)}


def fit_linear_run(
    config: RunConfig,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    images: ImageSet | None = None,
) -> LinearFit:
    """Fit `config.model` (kind pca or fa) on the training split and save the run to `out`.

    The image shape comes from the data, as for a trained run; `out` is refused if it holds a
    run, unless `overwrite`."""
    if not config.model.is_linear:
        raise ConfigError(f"{config.model.kind!r} is trained, not fitted; choose pca or fa")
    train_set, val_set = split_data(config, images)
    config = replace(config, model=replace(config.model, image_shape=train_set.image_shape),
                     train=replace(config.train, epochs=1))
    if not config.name and out is not None:
        config = replace(config, name=Path(out).name)
    if out is not None:
        prepare_run_folder(out, overwrite=overwrite)
    start = time.perf_counter()
    model = fit_linear_model(config.model, train_set.float_batch())
    seconds = time.perf_counter() - start
    row: dict[str, float] = {"epoch": 1, "step": 1, **_figures(model, train_set, "train"),
                             **_figures(model, val_set, "val"), "seconds": round(seconds, 4),
                             "samples_per_s": len(train_set) / max(seconds, 1e-9)}
    if out is not None:
        state = {"epoch": 1, "step": 1, "epochs": 1, "precision": "fp64", "fitted": config.model.kind}
        save_run(out, model, config, state=state, history=[row])
    return LinearFit(Path(out) if out is not None else None, config, model, row)
