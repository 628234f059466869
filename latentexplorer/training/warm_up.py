"""Torch's one-time training costs, paid in the background before the first run."""

from __future__ import annotations

import threading
from collections.abc import Callable


def _in_a_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="training-warm-up", daemon=True).start()


class TorchWarmUp:
    """Pays torch's one-time training costs (the first optimizer imports torch._dynamo, ~1 s
    holding the GIL; the first backward starts autograd) in a background thread while the
    window is idle, so they never stall the GUI once a run starts.

    Started when the tab is first shown (a user about to train) or by `wait`, not with the
    window: it holds the GIL for ~1 s while the app starts and adds ~200 MB (torch._dynamo)
    to an app that may only explore.

    `launch(work)` runs `work` in the background: the window passes its task runner, so the
    warm-up is joined with every other task when the window closes."""

    def __init__(self, launch: Callable[[Callable[[], None]], object] = _in_a_thread) -> None:
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._launch = launch
        self._started = False

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                self._launch(self._work)

    @property
    def started(self) -> bool:
        return self._started

    def is_set(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Start the warm-up if nothing has yet, then wait for it; True once done."""
        self.start()
        return self._done.wait(timeout)

    def _work(self) -> None:
        try:
            import torch

            layer = torch.nn.Linear(4, 4)
            optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
            layer(torch.zeros(2, 4)).sum().backward()
            optimizer.step()
        finally:
            self._done.set()


