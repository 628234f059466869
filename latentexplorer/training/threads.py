"""torch's CPU thread count, set for the calling thread so that it stays set.

torch keeps a count per thread, which it initialises lazily, on the thread's first query or
parallel op, from the count most recently set by *any* thread; `torch.set_num_threads` does
not count as that first use. A thread that set two threads and then, before its first op,
saw another thread set one, ran on one: in the app, a training run sometimes trained at about
half speed because a worker starting beside it had just asked for a single thread. Querying
the count first makes the thread's own setting the one that lasts.
"""

from __future__ import annotations


def set_thread_count(threads: int) -> int:
    """Give the calling thread `threads` torch CPU threads, safe from later settings elsewhere."""
    import torch

    torch.get_num_threads()  # this thread's lazy initialisation, done before the count is set
    torch.set_num_threads(threads)
    return threads
