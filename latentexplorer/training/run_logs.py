"""What a run leaves in its folder for the record, beside the weights and history.csv: the
TensorBoard events of each epoch (`tensorboard_log`) while it trains, and `provenance.json`
(see `latentexplorer.provenance`) when the training session ends."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from latentexplorer.checkpoint import WEIGHTS_FILE
from latentexplorer.provenance import PROVENANCE_FILE, provenance, write_provenance
from latentexplorer.training.records import EpochMetrics
from latentexplorer.training.tensorboard_log import TensorBoardLog


def training_provenance(trainer: Any, wall_time_s: float) -> dict[str, Any]:
    """The block of a training session of `trainer` (a Trainer, not imported: it imports this
    module): the objective's estimator (one posterior sample per item and step for a
    variational model), the training items, seed, final weights, device, precision in effect
    and this session's wall time."""
    config, out = trainer.config, Path(trainer.out)
    return provenance(
        estimator="training", k=1 if config.model.is_variational else None, items=len(trainer.train_set),
        split="train", seed=config.train.seed, weights=out / WEIGHTS_FILE, device=str(trainer.device),
        precision=trainer.precision, wall_time_s=wall_time_s, run=str(out), data=config.data.name,
        model=config.model.kind, epochs=trainer.epoch, steps=trainer.step,
        val_items=len(trainer.val_set) if trainer.val_set is not None else 0,
    )


@contextlib.contextmanager
def run_logs(trainer: Any, tensorboard: bool = True,
             say: Callable[[str], None] | None = None) -> Iterator[Callable[[EpochMetrics], None]]:
    """Around the epochs of `Trainer.fit`: yields the per-epoch logger (TensorBoard, or nothing
    without a run folder, on ranks other than the first, or when TensorBoard cannot log) and
    writes provenance.json once the epochs end, completed or stopped (not on an error)."""
    started = time.perf_counter()
    writes = trainer.out is not None and trainer.dist.is_main
    if writes and trainer.epoch == 0:  # an overwritten run's record would name weights now gone
        (Path(trainer.out) / PROVENANCE_FILE).unlink(missing_ok=True)
    board = None
    if writes and tensorboard:
        val = trainer.val_set
        board = TensorBoardLog.open(
            trainer.out, trainer.model, val if val is not None and len(val) else trainer.train_set,
            seed=trainer.config.train.seed, start_epoch=trainer.epoch, say=say,
        )
    try:
        yield board.epoch if board is not None else (lambda _metrics: None)
    finally:
        if board is not None:
            board.close()
    if writes and trainer.epoch > 0:
        write_provenance(trainer.out, training_provenance(trainer, time.perf_counter() - started))
