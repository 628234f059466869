"""`le.show(model, data)`: the explorer from Jupyter, IPython or a script, and a handle to it.

In IPython the window runs on IPython's Qt event-loop integration (`%gui qt`, turned on here
when it is off, as napari does), so the kernel stays free: the user keeps typing while the
window answers clicks, and reads back what they selected with `ex.selection()`. A plain
script passes `block=True` and the call returns when the window is closed."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

_open: list[Explorer] = []  # windows shown from a notebook stay alive without a variable


def show(model: Any, data: Any = "digits", labels: Any = None, factors: Any = None, *,
         image_shape: tuple[int, int, int] | None = None, likelihood: str = "bernoulli",
         input: str = "auto", latent_dim: int | None = None, name: str | None = None,
         block: bool = False) -> Explorer:
    """Open the explorer on `model` (one of ours, `latentexplorer.wrap(...)`, or a plain
    `nn.Module` with encode/decode, wrapped for the data's image shape) and `data` (a tensor or
    array N×H×W / N×C×H×W in [0, 1] or 0-255, a torch Dataset of images or (image, label), or
    a dataset name); `labels` and `factors` (one per item) colour and group the points."""
    from latentexplorer.data.in_memory import as_image_set

    images = as_image_set(data, labels, factors, name=name)
    run = _as_run(model, images, image_shape=image_shape, likelihood=likelihood, input=input,
                  latent_dim=latent_dim, name=name)
    _application()
    interactive = _ipython_event_loop() if not block else False
    import torch

    from latentexplorer.gui.app import start_window
    from latentexplorer.training.threads import set_thread_count

    threads = torch.get_num_threads()
    window = start_window(opened=(run, images))
    # The window makes its thread serial (an app's GUI thread computes little, its workers
    # need the cores); here that thread is the notebook's own, whose torch work keeps its count.
    set_thread_count(threads)
    explorer = Explorer(window)
    _open.append(explorer)
    if block:
        _run_until_closed(window)
    elif not interactive:
        print("latentexplorer: no event loop runs the window here; in a script call "
              "le.show(..., block=True), in IPython %gui qt", file=sys.stderr)
    return explorer


class Explorer:
    """A handle on an explorer window opened by `show` (call it from the GUI thread: the
    notebook's own, with `%gui qt`)."""

    def __init__(self, window) -> None:
        self.window = window
        self.session = window.session
        self.closed = False
        window.closed.connect(self._forget)
        window.destroyed.connect(self._forget)

    def __repr__(self) -> str:
        o = self.session.opened
        state = "closed" if self.closed else f"{len(o.mu):,} items, {o.latent_dim}-d latent"
        return f"<LatentExplorer {o.run.name if o.run else ''} on {o.images.name if o.images else ''}: {state}>"

    def codes(self) -> np.ndarray:
        """μ of every item, N×d (a copy: changing it changes nothing shown)."""
        self._wait_for_codes()
        return np.array(self.session.opened.mu, dtype=np.float32, copy=True)

    def selection(self) -> np.ndarray:
        """Indices of the items lassoed on the scatter, else of the item selected (or none)."""
        lasso = self.session.selection.lasso_indices
        if len(lasso):
            return np.asarray(lasso, np.int64).copy()
        selected = self.session.selection.selected
        return np.array([selected] if selected >= 0 else [], np.int64)

    def select(self, index: int) -> None:
        """Select item `index`: the preview shows it, the sliders move to its μ."""
        self._wait_for_codes()
        n = len(self.session.opened.mu)
        if not -n <= int(index) < n:
            raise IndexError(f"item {index} does not exist: there are {n} items")
        self.session.selection.select(int(index) % n)

    def colour_by(self, values: Any, name: str = "values") -> None:
        """Colour the points by one value per item: classes (integers, strings) or numbers."""
        self._wait_for_codes()
        detach = getattr(values, "detach", None)
        array = detach().cpu().numpy() if callable(detach) else np.asarray(values)
        self.session.colouring.colour_by(array, name)

    def close(self) -> None:
        """Close the window (a training run in it asks first, as the window's own close does)."""
        if not self.closed:
            self.window.close()

    def _wait_for_codes(self) -> None:
        """A large set is encoded in a task; the answers wait for its codes."""
        if self.closed:
            raise RuntimeError("the explorer window is closed")
        from PySide6.QtCore import QCoreApplication, QEventLoop

        while self.session.encoding:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)

    def _forget(self) -> None:
        self.closed = True
        if self in _open:
            _open.remove(self)


def _as_run(model: Any, images, *, image_shape, likelihood, input, latent_dim, name):
    from torch import nn

    from latentexplorer.checkpoint import Run
    from latentexplorer.config import DataConfig, RunConfig
    from latentexplorer.models import LatentModel, wrap
    from latentexplorer.opening import check_fits

    if isinstance(model, LatentModel):
        latent_model = model
    elif isinstance(model, nn.Module):
        latent_model = wrap(model, image_shape=tuple(image_shape or images.image_shape),
                            likelihood=likelihood, input=input, latent_dim=latent_dim)
        for note in getattr(latent_model, "notes", []):
            print(note)
    else:
        raise TypeError(f"le.show needs a torch model, got {type(model).__name__}")
    check_fits(latent_model, images)
    title = name or type(getattr(latent_model, "module", latent_model)).__name__
    config = RunConfig(model=latent_model.config, data=DataConfig(name=images.name), name=title)
    return Run(folder=Path.cwd(), config=config, model=latent_model, state={"notebook": True})


def _application():
    from latentexplorer.gui.app import create_app
    from latentexplorer.logs import setup_logging

    setup_logging()
    return create_app([sys.argv[0] if sys.argv and sys.argv[0] else "latentexplorer"])


def _run_until_closed(window) -> None:
    """Serve the window until it closes (not until the last window of the app closes: a
    script may have others)."""
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    window.closed.connect(loop.quit)
    loop.exec()


def _ipython_event_loop() -> bool:
    """Turn on IPython's Qt integration when IPython runs and it is off; True when the window
    will be served by it."""
    shell = None
    if "IPython" in sys.modules:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        return False
    if getattr(shell, "active_eventloop", None) in ("qt", "qt6", "qt5"):
        return True
    os.environ.setdefault("QT_API", "pyside6")  # the binding IPython's Qt loop must share with us
    try:
        shell.enable_gui("qt")
    except Exception as exc:  # a shell without GUI support (a plain InteractiveShell)
        print(f"latentexplorer: IPython could not run Qt's event loop ({type(exc).__name__}: {exc}); "
              "use le.show(..., block=True)", file=sys.stderr)
        return False
    return True
