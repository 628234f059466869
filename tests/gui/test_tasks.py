"""The task runner every background job of the window goes through: results, progress and
failures arrive in the GUI thread; a newer task of a name drops the older one's result; a
cancel is seen by the function; shutdown joins every thread."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread

from latentexplorer.gui.tasks import Cancelled, TaskRunner


@pytest.fixture
def runner(qapp):
    runner = TaskRunner()
    yield runner
    assert runner.shutdown(10_000)


def test_a_result_and_its_progress_arrive_in_the_gui_thread(runner, qtbot):
    gui = QThread.currentThread()
    seen: list = []

    def work(n: int, progress) -> int:
        for i in range(n):
            progress(i + 1, n)
        return n * 2

    task = runner.start(work, 5, progress=True)
    task.progress.connect(lambda done, total: seen.append((done, total, QThread.currentThread() is gui)))
    with qtbot.waitSignal(task.result, timeout=10_000) as result:
        pass
    assert result.args == [10]
    assert seen and seen[-1] == (5, 5, True)  # the last report always arrives, in the GUI thread
    qtbot.waitUntil(lambda: not runner.running(), timeout=5_000)  # finished tasks are forgotten


def test_a_newer_task_of_the_same_name_drops_the_older_result(runner, qtbot):
    release = threading.Event()
    old = runner.start(lambda: release.wait(10) and "old", name="fit")
    new = runner.start(lambda: "new", name="fit")
    assert old.stale and not new.stale and runner.generation("fit") == 2
    results: list[str] = []
    old.result.connect(results.append)
    new.result.connect(results.append)
    with qtbot.waitSignal(new.result, timeout=10_000):
        pass
    release.set()
    with qtbot.waitSignal(old.finished, timeout=10_000):
        pass
    assert results == ["new"]


def test_a_cancel_is_seen_by_the_function_and_what_it_returns_still_arrives(runner, qtbot):
    started = threading.Event()

    def endless(task) -> None:
        started.set()
        while True:
            task.check()

    def stops_gracefully(task) -> str:
        started.set()
        task.cancel_event.wait(10)
        return "kept what it had"

    task = runner.start(endless, context=True)
    assert started.wait(10)
    with qtbot.waitSignal(task.cancelled, timeout=10_000):
        task.cancel()
    started.clear()
    task = runner.start(stops_gracefully, context=True)
    assert started.wait(10)
    with qtbot.waitSignal(task.result, timeout=10_000) as result:
        task.cancel()
    assert result.args == ["kept what it had"]


def test_a_failure_carries_its_message(runner, qtbot):
    def broken():
        raise ValueError("the codes are not finite")

    task = runner.start(broken)
    with qtbot.waitSignal(task.failed, timeout=10_000) as failed:
        pass
    assert failed.args == ["the codes are not finite"]


def test_shutdown_cancels_and_joins_every_thread_and_drops_their_results(qapp, qtbot):
    runner = TaskRunner()
    started = threading.Barrier(3)

    def long(progress) -> str:
        started.wait(10)
        while True:
            progress(0, 1)

    tasks = [runner.start(long, progress=True, name=f"job {i}") for i in range(2)]
    results: list = []
    for task in tasks:
        task.result.connect(results.append)
    started.wait(10)
    assert runner.shutdown(10_000)
    assert all(not task.is_running() and task.thread.isFinished() for task in tasks)
    qtbot.wait(50)
    assert results == []
    with pytest.raises(Cancelled):
        tasks[0].context.check()


def test_a_task_is_not_running_once_its_function_returned(runner, qtbot):
    """The window asks before closing while a task runs: a task joined by wait() has ended
    even though its result is still queued for the event loop."""
    task = runner.start(lambda: "done")
    assert task.wait(10_000)
    assert not task.is_running()
    with qtbot.waitSignal(task.finished, timeout=10_000):
        pass
