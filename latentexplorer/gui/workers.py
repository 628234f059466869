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


class BackgroundTask(QObject):
    """A FunctionWorker in its own QThread; `wait()` joins it (used at shutdown and in tests)."""

    def __init__(self, function, *args, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.worker = FunctionWorker(function, *args)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.finished.connect(self.thread.quit)
        self.worker.failed.connect(self.thread.quit)

    def start(self) -> None:
        self.thread.start()

    def wait(self, msecs: int = 60_000) -> bool:
        self.thread.quit()
        return self.thread.wait(msecs)


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
