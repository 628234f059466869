"""Long work off the GUI thread: QObject workers moved to QThreads we can wait for.

Results come back as queued signals to slots in the GUI thread; shutting down is
quit() + wait(), never terminate().
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal, Slot

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


def start_mixture_fit(session, codes, k: int, auto_k: bool, generation: int) -> BackgroundTask:
    """Fit GMM + k-means in a thread; the session's slot receives the result, tagged with
    the generation of the codes it was fitted to."""
    from latentexplorer.gui.session import fit_mixtures_tagged

    if session._worker is not None:
        session._worker.wait()
    task = BackgroundTask(fit_mixtures_tagged, codes, k, auto_k, generation, parent=session)
    task.worker.finished.connect(session._on_fit_done)
    task.worker.failed.connect(session._on_fit_failed)
    task.start()
    return task


class TrainingWorker(QObject):
    """Runs the core Trainer (the project's one training loop) in its QThread.

    Progress crosses threads as plain records: StepMetrics every few steps, and after each
    saved epoch the EpochMetrics with an eval-mode copy of the weights (never the model the
    optimiser is changing). Pause/stop are thread-safe events checked per batch.
    """

    started = Signal(object)  # the RunConfig actually used
    step = Signal(object)  # StepMetrics
    epoch = Signal(object, object)  # EpochMetrics, eval copy of the model
    finished = Signal(object)  # TrainResult
    failed = Signal(str)

    def __init__(self, config, out, resume: bool = False, epochs: int | None = None) -> None:
        super().__init__()
        import threading

        self.config, self.out, self.resume, self.epochs = config, out, resume, epochs
        self.cancel = threading.Event()
        self.trainer = None
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

        try:
            self.trainer = prepare_training(
                self.config, self.out, resume=self.resume, epochs=self.epochs,
                on_step=self.step.emit, on_epoch=self._on_epoch, cancel=self.cancel,
            )
            if self._paused:
                self.trainer.pause()
            self.started.emit(self.trainer.config)
            result = self.trainer.fit()
        except NonFiniteLoss as exc:
            self.failed.emit(str(exc))
            return
        except UserError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # shown to the user; the saved epochs stay as they are
            get_logger("training").exception("training failed")
            self.failed.emit(f"training failed: {exc}")
            return
        self.finished.emit(result)

    def _on_epoch(self, metrics) -> None:
        import copy

        snapshot = copy.deepcopy(self.trainer.model).cpu().eval()
        for p in snapshot.parameters():
            p.requires_grad_(False)
        self.epoch.emit(metrics, snapshot)


class TrainingRun(WorkerThread):
    """A TrainingWorker in its own QThread, with the controls the tab needs."""

    def __init__(self, config, out, resume: bool = False, epochs: int | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(TrainingWorker(config, out, resume, epochs), parent)

    def stop_and_wait(self, msecs: int = 60_000) -> bool:
        """Cancel (takes effect within one batch), then join the thread."""
        self.worker.stop()
        return self.wait(msecs)
