"""A β sweep: one run per β with the same data, network and training settings, each
evaluated on the same fixed subset, so the trade-off between reconstruction, KL and
disentanglement reads off one table and one plot.

A sweep folder holds `sweep-config.json` (what to train), one run folder `beta-<β>/` per β
and, once every run is done, `sweep.csv`, `sweep.json` and `sweep.svg`. Running a sweep
again skips finished runs, resumes partial ones from their last complete epoch and starts
missing ones, so an interruption costs at most one epoch per run.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from latentexplorer.checkpoint import CONFIG_FILE, STATE_FILE, WEIGHTS_FILE, read_state
from latentexplorer.config import RunConfig
from latentexplorer.data import ImageSet, load_dataset
from latentexplorer.errors import ConfigError, UserError
from latentexplorer.fileio import atomic_write_text
from latentexplorer.training.records import EpochMetrics, NonFiniteLoss
from latentexplorer.training.sweep_results import SweepRow, row_from_evaluation, write_results

SWEEP_CONFIG_FILE = "sweep-config.json"
RUN_EVALUATION_FILE = "sweep-evaluation.json"
SWEEP_FORMAT = 1


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep trains: the shared run configuration, the βs, and how to run and score it."""

    run: RunConfig
    betas: tuple[float, ...]
    jobs: int = 1
    eval_items: int = 2000
    eval_k: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if not self.betas:
            raise ConfigError("a sweep needs at least one β (e.g. --beta 1 2 4 8)")
        if min(self.betas) < 0:
            raise ConfigError(f"β must be >= 0, got {min(self.betas):g}")
        names = [run_name(b) for b in self.betas]
        if len(set(names)) != len(names):
            raise ConfigError(f"each β must be given once, got {' '.join(f'{b:g}' for b in self.betas)}")
        if not self.run.model.is_variational:
            raise ConfigError("a β sweep needs a VAE (--model vae or betavae): an autoencoder has no KL term")
        if self.jobs < 1:
            raise ConfigError(f"--jobs must be at least 1, got {self.jobs}")
        if self.eval_items < 1 or self.eval_k < 1:
            raise ConfigError("the evaluation needs at least one item and one importance sample")

    def run_config(self, beta: float) -> RunConfig:
        """The configuration of β's run: the shared one with that β and the run's name."""
        return replace(self.run, model=replace(self.run.model, beta=float(beta)), name=run_name(beta))

    def to_json(self) -> str:
        return json.dumps({
            "format_version": SWEEP_FORMAT, "betas": list(self.betas), "jobs": self.jobs,
            "eval_items": self.eval_items, "eval_k": self.eval_k, "run": self.run.to_dict(),
        }, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SweepConfig:
        try:
            raw = json.loads(text)
            return cls(
                run=RunConfig.from_dict(raw["run"]), betas=tuple(raw["betas"]), jobs=int(raw["jobs"]),
                eval_items=int(raw["eval_items"]), eval_k=int(raw["eval_k"]),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{SWEEP_CONFIG_FILE} is not a readable sweep configuration ({exc})") from None


@dataclass(frozen=True)
class RunOutcome:
    beta: float
    folder: Path
    status: str  # "skipped" | "started" | "resumed" then "completed" | "cancelled" | "diverged"
    message: str = ""


@dataclass(frozen=True)
class SweepResult:
    status: str  # "completed" | "cancelled" | "failed"
    outcomes: list[RunOutcome]
    rows: list[SweepRow] = field(default_factory=list)


def run_name(beta: float) -> str:
    return f"beta-{float(beta):g}"


def run_state(folder: Path, epochs: int) -> str:
    """`done` (its last complete epoch is the last one), `partial` (some epochs) or `missing`."""
    if not (folder / CONFIG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        return "missing"
    epoch = int(read_state(folder).get("epoch", 0)) if (folder / STATE_FILE).is_file() else 0
    if epoch >= epochs:
        return "done"
    return "partial" if epoch > 0 else "missing"


def read_sweep_config(out: str | Path) -> SweepConfig | None:
    path = Path(out) / SWEEP_CONFIG_FILE
    if not path.is_file():
        return None
    return SweepConfig.from_json(path.read_text(encoding="utf-8"))


def save_sweep_config(out: str | Path, config: SweepConfig) -> None:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / SWEEP_CONFIG_FILE, config.to_json())


def train_run(
    config: SweepConfig,
    out: str | Path,
    beta: float,
    *,
    images: ImageSet | None = None,
    cancel: Any = None,
    on_epoch: Callable[[EpochMetrics], None] | None = None,
) -> RunOutcome:
    """Train β's run to the sweep's epochs: skipped when done, resumed when partial."""
    from latentexplorer.training.run import prepare_training

    folder = Path(out) / run_name(beta)
    epochs = config.run.train.epochs
    state = run_state(folder, epochs)
    if state == "done":
        return RunOutcome(beta, folder, "skipped", "already trained")
    if state == "partial":
        trainer = prepare_training(None, folder, resume=True, epochs=epochs, images=images,
                                   on_epoch=on_epoch, cancel=cancel)
    else:
        trainer = prepare_training(config.run_config(beta), folder, overwrite=True, images=images,
                                   on_epoch=on_epoch, cancel=cancel)
    started = "resumed" if state == "partial" else "started"
    try:
        result = trainer.fit()
    except NonFiniteLoss as exc:
        return RunOutcome(beta, folder, "diverged", str(exc))
    return RunOutcome(beta, folder, result.status, f"{started}; {result.message}")


def evaluate_run(config: SweepConfig, out: str | Path, beta: float, images: ImageSet) -> SweepRow:
    """The figures of β's run on the sweep's fixed evaluation subset of the validation split,
    kept in the run folder so a rerun of a finished sweep evaluates nothing again."""
    from latentexplorer.analysis.evaluation import evaluate
    from latentexplorer.checkpoint import load_run
    from latentexplorer.training.run import split_data

    folder = Path(out) / run_name(beta)
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
    row = row_from_evaluation(evaluation, beta, epoch, folder.name)
    atomic_write_text(cache, json.dumps({"key": key, "row": _json_row(row)}, indent=2) + "\n")
    return row


def _json_row(row: SweepRow) -> dict[str, Any]:
    import math

    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.flat().items()}


def run_sweep(
    config: SweepConfig,
    out: str | Path,
    *,
    cancel: threading.Event | None = None,
    on_event: Callable[[str], None] | None = None,
    on_epoch: Callable[[float, EpochMetrics], None] | None = None,
) -> SweepResult:
    """Train every β's run (in `config.jobs` processes when more than one), then evaluate
    them and write the table and the plot. Setting `cancel` stops every run within one
    batch; their complete epochs are kept and a later call continues from there."""
    out = Path(out)
    cancel = cancel or threading.Event()
    say = on_event or (lambda message: None)
    save_sweep_config(out, config)
    images: ImageSet | None = None
    if config.jobs == 1:
        images = load_dataset(config.run.data)
        outcomes = []
        for beta in config.betas:
            if cancel.is_set():
                break
            state = run_state(out / run_name(beta), config.run.train.epochs)
            if state != "done":
                say(f"β = {beta:g}: {'resuming' if state == 'partial' else 'training'} {out / run_name(beta)}")
            hook = None if on_epoch is None else (lambda m, b=beta: on_epoch(b, m))
            outcome = train_run(config, out, beta, images=images, cancel=cancel, on_epoch=hook)
            say(f"β = {beta:g}: {outcome.status} ({outcome.message})")
            outcomes.append(outcome)
    else:
        from latentexplorer.training.sweep_jobs import train_in_processes

        outcomes = train_in_processes(config, out, cancel, say)
    if cancel.is_set() or len(outcomes) < len(config.betas):
        return SweepResult("cancelled", outcomes)
    if any(o.status == "diverged" for o in outcomes):
        return SweepResult("failed", outcomes)
    say(f"evaluating {len(config.betas)} runs on up to {config.eval_items:,} validation items")
    images = images if images is not None else load_dataset(config.run.data)
    rows = [evaluate_run(config, out, beta, images) for beta in config.betas]
    write_results(out, rows)
    return SweepResult("completed", outcomes, rows)


def threads_per_job(jobs: int) -> int:
    """CPU cores shared out between parallel runs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, jobs))
