"""A training run that a window watches while it trains: the core Trainer (the project's one
training loop) driven from another thread, handing plain records to whoever watches.

Records, in order, through `send`:
    ("started", TrainingStart)      once the data and model are ready
    ("note", str)                   what the user should know (once: TensorBoard is missing)
    ("step", StepMetrics)           every few steps
    ("epoch", (EpochMetrics, EpochSnapshot))   after each saved epoch

An EpochSnapshot is made in the training thread between epochs: an eval-mode copy of the
weights (never the model the optimiser is changing), the codes of a fixed subset of items
under them and, when asked for, their mixture fit. Following a run then costs the watching
thread no encoding and no fit, and it can show each epoch in one picture."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentexplorer.analysis.evaluation import encode_all
from latentexplorer.analysis.view_mixtures import MixtureFits, fit_mixtures
from latentexplorer.config import RunConfig
from latentexplorer.data import ImageSet
from latentexplorer.logs import get_logger
from latentexplorer.models.base import eval_copy
from latentexplorer.training.records import EpochMetrics, TrainResult
from latentexplorer.training.run import prepare_training

FOLLOW_ITEMS = 2000  # training items the explorer shows while it follows a run
FIT_BUDGET = 0.1
"""The share of training time the snapshots' mixture fits may take: fitted every n-th epoch
when one fit takes longer than this share of an epoch (tiny sets), every epoch otherwise."""


@dataclass(frozen=True)
class EpochSnapshot:
    """An epoch's eval-mode weights, the codes of the followed items under them and, when a
    K was asked for, their mixture fit."""

    epoch: int
    model: object
    mu: np.ndarray
    logvar: np.ndarray
    mixtures: MixtureFits | None = None

    def nbytes(self) -> int:
        """What keeping it costs: weights, codes and responsibilities."""
        size = sum(p.numel() * p.element_size() for p in self.model.parameters())
        size += self.mu.nbytes + self.logvar.nbytes
        for fit in (self.mixtures or ())[:2]:
            size += fit.responsibilities.nbytes
        return size


@dataclass(frozen=True)
class TrainingStart:
    """What a watcher needs once a run is ready, copied in the training thread: the trainer
    itself moves on (a resumed run's next epoch may end before the watcher reads it)."""

    config: RunConfig
    steps_per_epoch: int
    step: int  # steps done before this session (a resumed run)
    history: tuple[dict, ...]  # the epochs done before this session
    steps_log: tuple[dict, ...]


def follow_subset(images: ImageSet, n: int = FOLLOW_ITEMS) -> ImageSet:
    """The same seeded `n` training items every epoch, so the scatter moves, not reshuffles."""
    if len(images) <= n:
        return images
    return images.subset(np.sort(np.random.default_rng(0).choice(len(images), n, replace=False)))


class LiveTraining:
    """One run, trained by `run` in the thread that calls it; `pause`, `resume_running` and
    `follow_k` may be used from any other thread (the checks are per batch and per epoch)."""

    def __init__(self, config: RunConfig | None, out: str | Path, resume: bool = False,
                 epochs: int | None = None) -> None:
        self.config, self.out, self.resume, self.epochs = config, out, resume, epochs
        self.trainer = None
        self.follow_images: ImageSet | None = None  # set before "started": what snapshots encode
        # The K of the mixture each snapshot fits to its codes, None for none; set by the
        # watching thread (the explorer's K), read here between epochs.
        self.follow_k: int | None = None
        self._fit_every, self._since_fit = 1, 0
        self._paused = False
        self._send: Callable[[object], None] = lambda _record: None

    @property
    def threads(self) -> int | None:
        """The torch threads the configuration asks for (None: every core)."""
        return self.config.train.threads if self.config is not None else None

    def pause(self) -> None:
        self._paused = True
        if self.trainer is not None:
            self.trainer.pause()

    def resume_running(self) -> None:
        """Leave a pause (also to let a cancelled run see its cancel)."""
        self._paused = False
        if self.trainer is not None:
            self.trainer.resume_running()

    def run(self, send: Callable[[object], None], cancel: threading.Event) -> TrainResult:
        """Prepare and train; NonFiniteLoss and UserError propagate with their message."""
        self._send = send
        self.trainer = prepare_training(
            self.config, self.out, resume=self.resume, epochs=self.epochs,
            on_step=lambda m: send(("step", m)), on_epoch=self._on_epoch, cancel=cancel,
            on_note=lambda text: send(("note", text)),
        )
        self.follow_images = follow_subset(self.trainer.train_set)
        if self._paused:
            self.trainer.pause()
        t = self.trainer
        send(("started", TrainingStart(t.config, t.steps_per_epoch(), t.step,
                                       tuple(dict(h) for h in t.history), tuple(dict(r) for r in t.steps_log))))
        return t.fit()

    def _on_epoch(self, metrics: EpochMetrics) -> None:
        model = eval_copy(self.trainer.model)
        mu, logvar = encode_all(model, self.follow_images)
        mixtures = self._fit_mixtures(mu, metrics.seconds)
        self._send(("epoch", (metrics, EpochSnapshot(metrics.epoch, model, mu, logvar, mixtures))))

    def _fit_mixtures(self, mu: np.ndarray, epoch_seconds: float) -> MixtureFits | None:
        """The explorer's mixtures of this epoch's codes, fitted here while the training loop
        waits. Fitted beside the loop instead, the fit took the loop's cores (on two cores it
        cost the loop about twice its own time, one OpenMP thread waiting at each barrier for
        the other) and the explorer drew each epoch twice, points then colours. None when no
        K is asked for, on epochs skipped to keep within FIT_BUDGET, or when the fit fails
        (the explorer then fits in a task and reports the error)."""
        k = self.follow_k
        self._since_fit += 1
        if k is None or self._since_fit < self._fit_every:
            return None
        started = time.perf_counter()
        try:
            fits = fit_mixtures(mu, k, False, native_threads=1)
        except Exception:
            get_logger("training").exception("fitting the followed codes' mixture failed")
            return None
        spent = time.perf_counter() - started
        self._since_fit = 0
        self._fit_every = max(1, math.ceil(spent / (FIT_BUDGET * max(epoch_seconds, 1e-6))))
        return fits
