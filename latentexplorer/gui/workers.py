"""Long work off the GUI thread: QObject workers moved to QThreads we can wait for.

Results come back as queued signals to slots in the GUI thread; shutting down is
quit() + wait(), never terminate().
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from latentexplorer.gui.compute_threads import training_ended, training_started, use_worker_threads
from latentexplorer.logs import get_logger


class FunctionWorker(QObject):
    """Runs one function in its thread and reports the result or the error."""

    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, function, *args) -> None:
        super().__init__()
        self._function = function
        self._args = args

    @Slot()
    def run(self) -> None:
        use_worker_threads()
        try:
            result = self._function(*self._args)
        except Exception as exc:  # reported to the user, never lost in the thread
            get_logger("workers").exception("background work failed")
            self.failed.emit(str(exc))
            return
        self.finished.emit(result)


class WorkerThread(QObject):
    """A worker QObject moved to its own QThread; the thread quits when the worker reports."""

    def __init__(self, worker: QObject, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.worker = worker
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.finished.connect(self.thread.quit)
        self.worker.failed.connect(self.thread.quit)

    def start(self) -> None:
        self.thread.start()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def wait(self, msecs: int = 60_000) -> bool:
        """Join the thread (shutdown, tests); never terminate()."""
        self.thread.quit()
        return self.thread.wait(msecs)


class BackgroundTask(WorkerThread):
    """One function run in a thread (mixture fits)."""

    def __init__(self, function, *args, parent: QObject | None = None) -> None:
        super().__init__(FunctionWorker(function, *args), parent)


FOLLOW_ITEMS = 2000  # training items the explorer shows while it follows a run
FIT_BUDGET = 0.1
"""The share of training time the snapshots' mixture fits may take: fitted every n-th epoch
when one fit takes longer than this share of an epoch (tiny sets), every epoch otherwise."""


@dataclass(frozen=True)
class EpochSnapshot:
    """An epoch's eval-mode weights, the codes of the followed items under them and, when the
    explorer asked for one, their mixture fit (GMM, k-means, BIC), all made in the training
    thread between epochs: following a run costs the GUI thread no encoding and no fit, and
    the explorer shows each epoch in one picture, points and colours together."""

    epoch: int
    model: object
    mu: np.ndarray
    logvar: np.ndarray
    mixtures: tuple | None = None

    def nbytes(self) -> int:
        """What keeping it costs: weights, codes and responsibilities."""
        size = sum(p.numel() * p.element_size() for p in self.model.parameters())
        size += self.mu.nbytes + self.logvar.nbytes
        for fit in (self.mixtures or ())[:2]:
            size += fit.responsibilities.nbytes
        return size


def follow_subset(images, n: int = FOLLOW_ITEMS):
    """The same seeded `n` training items every epoch, so the scatter moves, not reshuffles."""
    if len(images) <= n:
        return images
    return images.subset(np.sort(np.random.default_rng(0).choice(len(images), n, replace=False)))


class TrainingWorker(QObject):
    """Runs the core Trainer (the project's one training loop) in its QThread.

    Progress crosses threads as plain records: StepMetrics every few steps, and after each
    saved epoch the EpochMetrics with an EpochSnapshot (an eval-mode copy of the weights, never
    the model the optimiser is changing, and the followed items' codes). Pause/stop are thread-safe events checked per batch.
    """

    started = Signal(object)  # the RunConfig actually used
    step = Signal(object)  # StepMetrics
    epoch = Signal(object, object)  # EpochMetrics, EpochSnapshot
    finished = Signal(object)  # TrainResult
    failed = Signal(str)

    def __init__(self, config, out, resume: bool = False, epochs: int | None = None) -> None:
        super().__init__()
        import threading

        self.config, self.out, self.resume, self.epochs = config, out, resume, epochs
        self.cancel = threading.Event()
        self.trainer = None
        self.follow_images = None  # set before `started`: the items each snapshot encodes
        # The K of the mixture each snapshot fits to its codes, None for none. Set from the
        # GUI thread (the explorer's K), read here between epochs.
        self.follow_k: int | None = None
        self._fit_every, self._since_fit = 1, 0
        self._paused = False

    def pause(self) -> None:
        self._paused = True
        if self.trainer is not None:
            self.trainer.pause()

    def resume_running(self) -> None:
        self._paused = False
        if self.trainer is not None:
            self.trainer.resume_running()

    def stop(self) -> None:
        self.cancel.set()
        if self.trainer is not None:
            self.trainer.resume_running()

    @Slot()
    def run(self) -> None:
        from latentexplorer.errors import UserError
        from latentexplorer.training import NonFiniteLoss, prepare_training

        training_started(self.config.train.threads if self.config is not None else None)
        try:
            self.trainer = prepare_training(
                self.config, self.out, resume=self.resume, epochs=self.epochs,
                on_step=self.step.emit, on_epoch=self._on_epoch, cancel=self.cancel,
            )
            self.follow_images = follow_subset(self.trainer.train_set)
            if self._paused:
                self.trainer.pause()
            self.started.emit(self.trainer.config)
            result = self.trainer.fit()
        except (NonFiniteLoss, UserError) as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # shown to the user; the saved epochs stay as they are
            get_logger("training").exception("training failed")
            self.failed.emit(f"training failed: {exc}")
            return
        finally:
            training_ended()
        self.finished.emit(result)

    def _on_epoch(self, metrics) -> None:
        import copy

        from latentexplorer.analysis.evaluation import encode_all

        model = copy.deepcopy(self.trainer.model).cpu().eval()
        for p in model.parameters():
            p.requires_grad_(False)
        mu, logvar = encode_all(model, self.follow_images)
        mixtures = self._fit_mixtures(mu, metrics.seconds)
        self.epoch.emit(metrics, EpochSnapshot(metrics.epoch, model, mu, logvar, mixtures))

    def _fit_mixtures(self, mu: np.ndarray, epoch_seconds: float) -> tuple | None:
        """The explorer's mixtures of this epoch's codes, fitted here while the training loop
        waits. Fitted in a worker beside the loop instead, the fit took the loop's cores (on two
        cores it cost the loop about twice its own time, one OpenMP thread waiting at each
        barrier for the other) and the explorer drew each epoch twice, points then colours.
        None when no K is asked for, on epochs skipped to keep within FIT_BUDGET, or when the
        fit fails (the explorer then fits in a worker and reports the error)."""
        k = self.follow_k
        self._since_fit += 1
        if k is None or self._since_fit < self._fit_every:
            return None
        from latentexplorer.analysis.view_mixtures import fit_mixtures

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


class TrainingRun(WorkerThread):
    """A TrainingWorker in its own QThread, with the controls the tab needs."""

    def __init__(self, config, out, resume: bool = False, epochs: int | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(TrainingWorker(config, out, resume, epochs), parent)

    def stop_and_wait(self, msecs: int = 60_000) -> bool:
        """Cancel (takes effect within one batch), then join the thread."""
        self.worker.stop()
        return self.wait(msecs)
