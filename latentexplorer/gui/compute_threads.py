"""Torch's CPU threads in the app: the GUI thread computes on one, worker threads on all.

PyTorch's CPU ops run on OpenMP, and libgomp gives every thread that starts a parallel
region a team of its own. Once it manages more threads than there are cores, it stops
spinning between regions and parks its workers on a futex instead, so each of the
thousands of small ops in a training step pays a wake-up. A GUI thread with a team of its
own made training in a worker thread ~40 % slower than the same loop run by the CLI. The
GUI thread's torch work is small (one decode per click, a strip of frames), so it runs
without a team, and the workers (training, encoding) keep every core.
"""

from __future__ import annotations

from latentexplorer.training.threads import set_thread_count

_worker_threads = 0


def keep_gui_thread_serial() -> None:
    """Call in the GUI thread before its first parallel torch op; remembers torch's
    thread count (the CLI's default) for the workers."""
    global _worker_threads
    import torch

    if not _worker_threads:
        _worker_threads = torch.get_num_threads()
    set_thread_count(1)


_training_runs = 0


def use_worker_threads(requested: int | None = None) -> int:
    """Call first in a worker thread: `requested` threads, or the count torch had before
    the GUI thread was made serial. While a training run is going, other workers (a mixture
    refit, an evaluation) get one thread: a second team beside the training's makes libgomp
    park every thread between ops, and an idle thread holding a team halved training speed."""
    return _set_threads(1 if _training_runs else requested)


def training_started(requested: int | None = None) -> int:
    """Call first in the training thread: it gets `requested` threads (or every core), the
    other workers one, until `training_ended`."""
    global _training_runs
    _training_runs += 1
    return _set_threads(requested)


def _set_threads(requested: int | None) -> int:
    import torch

    return set_thread_count(requested or _worker_threads or torch.get_num_threads())


def training_ended() -> None:
    global _training_runs
    _training_runs = max(0, _training_runs - 1)


def worker_thread_count() -> int:
    """The thread count workers get by default (what the training form shows)."""
    import torch

    return _worker_threads or torch.get_num_threads()


_collector = None


def collect_garbage_in_gui_thread() -> None:
    """Python's cyclic garbage collector runs in whichever thread allocates when a threshold
    is crossed. A Qt widget freed by a collection in the training thread had its C++
    destructor run there, and the process hung. Collection is therefore switched to a timer in
    the GUI thread (pyqtgraph's GarbageCollector); call once a QApplication exists."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=0.5)
