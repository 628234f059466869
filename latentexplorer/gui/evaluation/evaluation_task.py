"""The ELBO tab's computation off the GUI thread: the IWAE curve and, when the data have
ground-truth factors, MIG / SAP / DCI. Cancel is a flag checked per chunk of samples."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from latentexplorer.analysis.evaluation import (
    FactorScores,
    IwaeCurve,
    encode_all,
    evaluation_subset,
    factor_scores,
    iwae_curve,
)
from latentexplorer.errors import UserError
from latentexplorer.gui.compute_threads import use_worker_threads
from latentexplorer.gui.workers import WorkerThread
from latentexplorer.logs import get_logger

FACTOR_ITEMS = 2000  # items the disentanglement scores use: a few seconds at most


@dataclass(frozen=True)
class EvaluationResult:
    curve: IwaeCurve
    scores: FactorScores | None  # None when the data have no factors


class EvaluationWorker(QObject):
    """Runs in its QThread; reports progress a few times a second."""

    progress = Signal(int, int)  # samples done, samples in all
    finished = Signal(object)  # EvaluationResult
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, model, images, ks: tuple[int, ...], n: int, seed: int = 0) -> None:
        super().__init__()
        self.model, self.images, self.ks, self.n, self.seed = model, images, ks, n, seed
        self.cancel = threading.Event()
        self._last = 0.0

    def _report(self, done: int, total: int) -> None:
        if self.cancel.is_set():
            raise InterruptedError
        now = time.perf_counter()
        if now - self._last > 0.1 or done == total:
            self._last = now
            self.progress.emit(done, total)

    def _check_cancel(self, *_args) -> None:
        if self.cancel.is_set():
            raise InterruptedError

    @Slot()
    def run(self) -> None:
        use_worker_threads()
        try:
            curve = iwae_curve(self.model, self.images, self.ks, n=self.n, seed=self.seed, progress=self._report)
            scores = None
            if self.images.factors is not None and len(self.images) > 1:
                subset = evaluation_subset(self.images, FACTOR_ITEMS, self.seed)
                mu, _ = encode_all(self.model, subset, progress=self._check_cancel)
                self._check_cancel()
                scores = factor_scores(mu, subset.factors, self.seed)
        except InterruptedError:
            self.cancelled.emit()
            return
        except UserError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # shown to the user; the open run stays as it is
            get_logger("evaluation").exception("evaluation failed")
            self.failed.emit(f"evaluation failed: {exc}")
            return
        self.finished.emit(EvaluationResult(curve, scores))


def start_evaluation(model, images, ks: tuple[int, ...], n: int, parent: QObject | None = None) -> WorkerThread:
    """An EvaluationWorker in its own QThread (not yet started: connect its signals first)."""
    task = WorkerThread(EvaluationWorker(model, images, ks, n), parent)
    task.worker.cancelled.connect(task.thread.quit)
    return task
