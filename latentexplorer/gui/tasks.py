"""One way to run work off the GUI thread: a plain function in a worker QThread.

Every background job of the app (training, encoding a large set, mixture fits, evaluation,
linear fits, BIC curves, loading a compared run) is started by `TaskRunner.start`. The
function knows nothing of Qt: it may take a `progress(done, total)` callback, or a
`TaskContext` to send records (training's steps and epochs) and to see a cancel. Results
come back to the GUI thread as one set of signals, whatever the job:

    progress(done, total)   result(object)   failed(message)   cancelled()   finished()

A function that raises `Cancelled` (its `progress` or `check` does, once the task was
cancelled) ends with `cancelled`; one that returns, even after a cancel (training stopped by
its button returns the epochs it kept), ends with `result`. A task started under a `name`
replaces the earlier task of that name: the earlier one is asked to stop and its result or
failure, should it still arrive, is dropped (its generation is stale), so a view never shows a
fit of codes that are no longer open. `cancel(name)` and `shutdown()` drop results the same
way; `shutdown()` then waits for every thread (quit() + wait(), never terminate()).

napari's `thread_worker` and superqt's `create_worker` are the model. They run workers on a
QThreadPool, whose runnables cannot be joined one by one; a QThread per task can, which is
what closing the window mid-training needs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from latentexplorer.gui.compute_threads import training_ended, training_started, use_worker_threads
from latentexplorer.logs import get_logger

PROGRESS_INTERVAL_S = 0.1  # a few progress updates a second, not one per batch


class Cancelled(Exception):
    """Raised inside a task's function (by `progress` or `check`) once it was cancelled."""


class TaskContext:
    """What a task's function may use, from its own thread: no Qt object is touched here
    except through queued signals."""

    def __init__(self, worker: TaskWorker) -> None:
        self._worker = worker
        self.cancel_event = threading.Event()
        self._last = 0.0

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self, *_args: object) -> None:
        """Raise Cancelled when the task was cancelled (call between chunks of work)."""
        if self.cancel_event.is_set():
            raise Cancelled

    def progress(self, done: int, total: int) -> None:
        """Report progress (throttled to a few updates a second); raises Cancelled."""
        self.check()
        now = time.perf_counter()
        if now - self._last > PROGRESS_INTERVAL_S or done >= total:
            self._last = now
            self._worker.progress.emit(int(done), int(total))

    def send(self, value: object) -> None:
        """Hand a record to the GUI thread (the task's `yielded` signal), in order."""
        self._worker.yielded.emit(value)


class TaskWorker(QObject):
    """Runs the function in the task's thread and reports through queued signals."""

    progress = Signal(int, int)
    yielded = Signal(object)
    result = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, function: Callable, args: tuple, kwargs: dict, role: str,
                 threads: int | None, pass_progress: bool, pass_context: bool) -> None:
        super().__init__()
        self.context = TaskContext(self)
        self._call = (function, args, dict(kwargs))
        self._role, self._threads = role, threads
        if pass_progress:
            self._call[2]["progress"] = self.context.progress
        if pass_context:
            self._call[2]["task"] = self.context

    @Slot()
    def run(self) -> None:
        function, args, kwargs = self._call
        self._call = None  # the task's inputs are not kept once it has run
        if self._role == "training":
            training_started(self._threads)
        else:
            use_worker_threads(self._threads)
        try:
            value = function(*args, **kwargs)
        except (Cancelled, InterruptedError):
            self.cancelled.emit()
            return
        except Exception as exc:  # reported to the user, never lost in the thread
            from latentexplorer.errors import UserError

            if not isinstance(exc, UserError):
                get_logger("tasks").exception("background work failed")
            self.failed.emit(str(exc) or type(exc).__name__)
            return
        finally:
            if self._role == "training":
                training_ended()
        self.result.emit(value)


class Task(QObject):
    """The GUI thread's handle on one background function: its signals, cancel and wait.

    `result` and `failed` are not emitted for a stale task (replaced by a newer one of the
    same name, or dropped by the runner); `finished` always follows, once the thread is done."""

    progress = Signal(int, int)
    yielded = Signal(object)
    result = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, runner: TaskRunner, name: str | None, generation: int, worker: TaskWorker) -> None:
        super().__init__(runner)
        self.name, self.generation = name, generation
        self._runner = runner
        self._worker = worker
        self._done = False
        self._dropped = False
        self.thread = QThread()
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        worker.progress.connect(self._on_progress)
        worker.yielded.connect(self.yielded)
        worker.result.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)

    @property
    def context(self) -> TaskContext:
        return self._worker.context

    @property
    def stale(self) -> bool:
        """Replaced by a newer task of the same name, or dropped by the runner: its result is
        no longer wanted."""
        return self._dropped

    def drop(self) -> None:
        """Cancel, and drop the result or failure should it still arrive."""
        self._dropped = True
        self.cancel()

    def is_running(self) -> bool:
        """The function has not returned yet (what it returned may still be on its way)."""
        return not self._done and self.thread.isRunning()

    def cancel(self) -> None:
        """Ask the function to stop (it sees it at its next progress report or check); what it
        returns still arrives as `result`."""
        self.context.cancel_event.set()

    def wait(self, msecs: int = 60_000) -> bool:
        """Join the thread (shutdown, tests); never terminate()."""
        self.thread.quit()  # leaves the thread's loop once the function has returned
        return self.thread.wait(msecs)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if not self.stale:
            self.progress.emit(done, total)

    @Slot(object)
    def _on_result(self, value: object) -> None:
        self._deliver(self.result, value)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._deliver(self.failed, message)

    def _deliver(self, signal, value: object) -> None:
        """End the task: `signal(value)` unless the result is no longer wanted, then `finished`."""
        stale = self.stale
        self._finish()
        if not stale:
            signal.emit(value)
        self.finished.emit()

    @Slot()
    def _on_cancelled(self) -> None:
        self._finish()
        self.cancelled.emit()
        self.finished.emit()

    def _finish(self) -> None:
        self._done = True
        self.thread.quit()
        self.thread.wait()  # the function has returned: its thread is only leaving its loop
        self._runner._forget(self)


class TaskRunner(QObject):
    """Starts, tracks, cancels and joins the app's background tasks."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: list[Task] = []
        self._generations: dict[str, int] = {}

    def start(self, function: Callable[..., Any], *args: Any, name: str | None = None,
              progress: bool = False, context: bool = False, role: str = "worker",
              threads: int | None = None, **kwargs: Any) -> Task:
        """Run `function(*args, **kwargs)` in a new worker thread and return its Task.

        `progress=True` passes `progress=` (a `(done, total)` callback that raises Cancelled
        once cancelled); `context=True` passes `task=` (a TaskContext). `name` makes the task
        replace the running one of that name. `role="training"` gives the thread `threads` torch
        threads (every core by default) and the other workers one until it ends."""
        if name is not None:
            self.cancel(name)
        worker = TaskWorker(function, args, kwargs, role, threads, progress, context)
        task = Task(self, name, self._generations.get(name, 0), worker)
        self._tasks.append(task)
        task.thread.start()
        return task

    def generation(self, name: str) -> int:
        return self._generations.get(name, 0)

    def running(self, name: str | None = None) -> list[Task]:
        """The tasks not yet finished (of one name, or all)."""
        return [t for t in self._tasks if name is None or t.name == name]

    def cancel(self, name: str) -> None:
        """Cancel the running tasks of a name; their results are dropped."""
        self._generations[name] = self._generations.get(name, 0) + 1
        for task in self.running(name):
            task.drop()

    def wait(self, name: str | None = None, msecs: int = 60_000) -> bool:
        """Join the running tasks (of one name, or all); their signals follow from the event loop."""
        return all([task.wait(msecs) for task in self.running(name)])

    def shutdown(self, msecs: int = 60_000) -> bool:
        """Cancel every task and wait for its thread (the window is closing)."""
        for name in list(self._generations):
            self._generations[name] += 1
        tasks = list(self._tasks)
        for task in tasks:
            task.drop()
        return all([task.wait(msecs) for task in tasks])

    def _forget(self, task: Task) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
            task.deleteLater()


__all__ = ["Cancelled", "Task", "TaskContext", "TaskRunner", "TaskWorker"]
