"""Training a sweep's runs: one (β, seed) run in this process (`train_run`), or all of them in
parallel processes, each with its share of the CPU cores (`train_in_processes`).

Processes are spawned (not forked), so no torch thread pool or lock is inherited. They
ignore Ctrl-C themselves: the parent sets one shared event, and every run stops within
a batch with its complete epochs kept.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentexplorer.checkpoint import CONFIG_FILE, STATE_FILE, WEIGHTS_FILE, read_state
from latentexplorer.data import ImageSet
from latentexplorer.training.records import EpochMetrics, NonFiniteLoss
from latentexplorer.training.sweep_config import SweepConfig, run_name
from latentexplorer.training.threads import set_thread_count

_stop = None  # the shared cancel event, in a worker process


@dataclass(frozen=True)
class RunOutcome:
    beta: float
    folder: Path
    status: str  # "skipped" | "started" | "resumed" then "completed" | "cancelled" | "diverged"
    message: str = ""
    seed: int | None = None

    @property
    def label(self) -> str:
        """`β = 4` or `β = 4, seed 1`, to start the lines about this run."""
        return run_label(self.beta, self.seed)


def run_label(beta: float, seed: int | None) -> str:
    return f"β = {beta:g}" if seed is None else f"β = {beta:g}, seed {seed}"


def run_state(folder: Path, epochs: int) -> str:
    """`done` (its last complete epoch is the last one), `partial` (some epochs) or `missing`."""
    if not (folder / CONFIG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        return "missing"
    epoch = int(read_state(folder).get("epoch", 0)) if (folder / STATE_FILE).is_file() else 0
    if epoch >= epochs:
        return "done"
    return "partial" if epoch > 0 else "missing"


def train_run(
    config: SweepConfig,
    out: str | Path,
    beta: float,
    *,
    seed: int | None = None,
    images: ImageSet | None = None,
    cancel: Any = None,
    on_epoch: Callable[[EpochMetrics], None] | None = None,
) -> RunOutcome:
    """Train β's run (of `seed`, in a sweep with seeds) to the sweep's epochs: skipped when
    done, resumed when partial."""
    from latentexplorer.training.run import prepare_training

    folder = Path(out) / run_name(beta, seed)
    epochs = config.run.train.epochs
    state = run_state(folder, epochs)
    if state == "done":
        return RunOutcome(beta, folder, "skipped", "already trained", seed)
    if state == "partial":
        trainer = prepare_training(None, folder, resume=True, epochs=epochs, images=images,
                                   on_epoch=on_epoch, cancel=cancel)
    else:
        trainer = prepare_training(config.run_config(beta, seed), folder, overwrite=True, images=images,
                                   on_epoch=on_epoch, cancel=cancel)
    started = "resumed" if state == "partial" else "started"
    try:
        result = trainer.fit()
    except NonFiniteLoss as exc:
        return RunOutcome(beta, folder, "diverged", str(exc), seed)
    return RunOutcome(beta, folder, result.status, f"{started}; {result.message}", seed)


def threads_per_job(jobs: int) -> int:
    """CPU cores shared out between parallel runs."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, jobs))


def _init_worker(stop, threads: int) -> None:
    global _stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop = stop
    set_thread_count(threads)


def _train_one(config_json: str, out: str, beta: float, seed: int | None) -> RunOutcome:
    config = SweepConfig.from_json(config_json)

    def report(m) -> None:
        print(f"{run_label(beta, seed)}: epoch {m.epoch}/{m.epochs}  val loss {m.val_total:.3f}  "
              f"val KL {m.val_kl:.3f}", flush=True)

    return train_run(config, out, beta, seed=seed, cancel=_stop, on_epoch=report)


def train_in_processes(
    config: SweepConfig, out: Path, cancel: threading.Event, say: Callable[[str], None]
) -> list[RunOutcome]:
    """Train the runs `config.jobs` at a time; outcomes in (β, seed) order (fewer when cancelled)."""
    threads = config.run.train.threads or threads_per_job(config.jobs)
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    outcomes: dict[tuple[float, int | None], RunOutcome] = {}
    say(f"training {len(config.runs())} runs, {config.jobs} at a time, {threads} thread(s) each")
    with ProcessPoolExecutor(config.jobs, mp_context=context, initializer=_init_worker,
                             initargs=(stop, threads)) as pool:
        pending: dict[Future, tuple[float, int | None]] = {
            pool.submit(_train_one, config.to_json(), str(out), *key): key for key in config.runs()
        }
        while pending:
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            if cancel.is_set() and not stop.is_set():
                stop.set()
                for future in pending:
                    future.cancel()
            for future in done:
                key = pending.pop(future)
                if future.cancelled():
                    continue
                outcome = future.result()
                say(f"{outcome.label}: {outcome.status} ({outcome.message}) in {out / run_name(*key)}")
                outcomes[key] = outcome
            pending = {f: k for f, k in pending.items() if not f.cancelled()}
    return [outcomes[k] for k in config.runs() if k in outcomes]
