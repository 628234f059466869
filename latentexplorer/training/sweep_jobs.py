"""A sweep's runs in parallel processes, each with its share of the CPU cores.

Processes are spawned (not forked), so no torch thread pool or lock is inherited. They
ignore Ctrl-C themselves: the parent sets one shared event, and every run stops within
a batch with its complete epochs kept.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from latentexplorer.training.sweep import (
    RunOutcome,
    SweepConfig,
    run_name,
    threads_per_job,
    train_run,
)
from latentexplorer.training.threads import set_thread_count

_stop = None  # the shared cancel event, in a worker process


def _init_worker(stop, threads: int) -> None:
    global _stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop = stop
    set_thread_count(threads)


def _train_one(config_json: str, out: str, beta: float) -> RunOutcome:
    config = SweepConfig.from_json(config_json)

    def report(m) -> None:
        print(f"β = {beta:g}: epoch {m.epoch}/{m.epochs}  val loss {m.val_total:.3f}  "
              f"val KL {m.val_kl:.3f}", flush=True)

    return train_run(config, out, beta, cancel=_stop, on_epoch=report)


def train_in_processes(
    config: SweepConfig, out: Path, cancel: threading.Event, say: Callable[[str], None]
) -> list[RunOutcome]:
    """Train the runs `config.jobs` at a time; outcomes in β order (fewer when cancelled)."""
    threads = config.run.train.threads or threads_per_job(config.jobs)
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    outcomes: dict[float, RunOutcome] = {}
    say(f"training {len(config.betas)} runs, {config.jobs} at a time, {threads} thread(s) each")
    with ProcessPoolExecutor(config.jobs, mp_context=context, initializer=_init_worker,
                             initargs=(stop, threads)) as pool:
        pending: dict[Future, float] = {
            pool.submit(_train_one, config.to_json(), str(out), beta): beta for beta in config.betas
        }
        while pending:
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            if cancel.is_set() and not stop.is_set():
                stop.set()
                for future in pending:
                    future.cancel()
            for future in done:
                beta = pending.pop(future)
                if future.cancelled():
                    continue
                outcome = future.result()
                say(f"β = {beta:g}: {outcome.status} ({outcome.message}) in {out / run_name(beta)}")
                outcomes[beta] = outcome
            pending = {f: b for f, b in pending.items() if not f.cancelled()}
    return [outcomes[b] for b in config.betas if b in outcomes]
