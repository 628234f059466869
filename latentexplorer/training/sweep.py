"""A β sweep: one run per β (per β and seed, with seeds) with the same data, network and
training settings, each evaluated on the same fixed subset, so the trade-off between
reconstruction, KL and disentanglement reads off one table and one plot, each figure a mean
with its 95 % interval over the seeds.

A sweep folder holds `sweep-config.json` (what to train), one run folder `beta-<β>/` per β
(`beta-<β>-seed-<s>/` per β and seed) and, once every run is done, `sweep.csv` (per β),
`sweep-runs.csv` (per run), `sweep.json` and `sweep.svg`. Running a sweep
again skips finished runs, resumes partial ones from their last complete epoch and starts
missing ones, so an interruption costs at most one epoch per run.

This module orchestrates; the configuration lives in `sweep_config`, the training of the
runs in `sweep_jobs`, the table in `sweep_results`. Their public names are re-exported
here, the one module a caller needs.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentexplorer.checkpoint import read_state
from latentexplorer.data import ImageSet, load_dataset
from latentexplorer.fileio import atomic_write_text
from latentexplorer.training.records import EpochMetrics
from latentexplorer.training.sweep_config import (
    SWEEP_CONFIG_FILE,
    SweepConfig,
    read_sweep_config,
    run_name,
    save_sweep_config,
)
from latentexplorer.training.sweep_jobs import (
    RunOutcome,
    run_label,
    run_state,
    train_in_processes,
    train_run,
)
from latentexplorer.training.sweep_results import write_results
from latentexplorer.training.sweep_row import SweepRow, row_from_evaluation

__all__ = [
    "RUN_EVALUATION_FILE", "SWEEP_CONFIG_FILE", "RunOutcome", "SweepConfig", "SweepResult",
    "evaluate_run", "read_sweep_config", "run_name", "run_state", "run_sweep", "save_sweep_config",
    "train_run",
]

RUN_EVALUATION_FILE = "sweep-evaluation.json"


@dataclass(frozen=True)
class SweepResult:
    status: str  # "completed" | "cancelled" | "failed"
    outcomes: list[RunOutcome]
    rows: list[SweepRow] = field(default_factory=list)


def evaluate_run(config: SweepConfig, out: str | Path, beta: float, images: ImageSet,
                 seed: int | None = None) -> SweepRow:
    """The figures of β's run (`seed`'s) on the sweep's fixed evaluation subset of the
    validation split, kept in the run folder so a rerun of a finished sweep evaluates nothing
    again. Every seed is scored on the same items: the spread is the training's."""
    from latentexplorer.analysis.evaluation import evaluate
    from latentexplorer.checkpoint import load_run
    from latentexplorer.training.run import split_data

    folder = Path(out) / run_name(beta, seed)
    epoch = int(read_state(folder).get("epoch", 0))
    key = {"epoch": epoch, "eval_items": config.eval_items, "eval_k": config.eval_k}
    cache = folder / RUN_EVALUATION_FILE
    if cache.is_file():
        try:
            saved = json.loads(cache.read_text(encoding="utf-8"))
            if saved.get("key") == key:
                return SweepRow.from_flat(saved["row"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            pass
    run = load_run(folder)
    _, val = split_data(run.config, images)
    evaluation = evaluate(run.model, val if val is not None else images, n=config.eval_items,
                          k=config.eval_k, seed=0)
    row = row_from_evaluation(evaluation, beta, epoch, folder.name, seed)
    atomic_write_text(cache, json.dumps({"key": key, "row": _json_row(row)}, indent=2) + "\n")
    return row


def _json_row(row: SweepRow) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.flat().items()}


def run_sweep(
    config: SweepConfig,
    out: str | Path,
    *,
    cancel: threading.Event | None = None,
    on_event: Callable[[str], None] | None = None,
    on_epoch: Callable[[float, EpochMetrics], None] | None = None,
) -> SweepResult:
    """Train every (β, seed) run (in `config.jobs` processes when more than one), then
    evaluate them and write the tables and the plot. `on_epoch` gets β and the epoch's
    figures; with seeds, `on_event` says which seed's run trains before its epochs. Setting `cancel` stops every run within one
    batch; their complete epochs are kept and a later call continues from there."""
    out = Path(out)
    cancel = cancel or threading.Event()
    say = on_event or (lambda message: None)
    save_sweep_config(out, config)
    images: ImageSet | None = None
    if config.jobs == 1:
        images = load_dataset(config.run.data)
        outcomes = []
        for beta, seed in config.runs():
            if cancel.is_set():
                break
            folder = out / run_name(beta, seed)
            state = run_state(folder, config.run.train.epochs)
            if state != "done":
                say(f"{run_label(beta, seed)}: {'resuming' if state == 'partial' else 'training'} {folder}")
            hook = None if on_epoch is None else (lambda m, b=beta: on_epoch(b, m))
            outcome = train_run(config, out, beta, seed=seed, images=images, cancel=cancel, on_epoch=hook)
            say(f"{outcome.label}: {outcome.status} ({outcome.message})")
            outcomes.append(outcome)
    else:
        outcomes = train_in_processes(config, out, cancel, say)
    if cancel.is_set() or len(outcomes) < len(config.runs()):
        return SweepResult("cancelled", outcomes)
    if any(o.status == "diverged" for o in outcomes):
        return SweepResult("failed", outcomes)
    say(f"evaluating {len(config.runs())} runs on up to {config.eval_items:,} validation items")
    images = images if images is not None else load_dataset(config.run.data)
    rows = [evaluate_run(config, out, beta, images, seed) for beta, seed in config.runs()]
    write_results(out, rows)
    return SweepResult("completed", outcomes, rows)
