"""The Session: what the views share, made of five state objects with one vocabulary each.

    session.opened      OpenedRun   the run, its eval-mode model, the items and their codes
    session.view        ViewState   the 2-D projection and where each item is placed
    session.colouring   Colouring   the colour mode, the mixture and the legend
    session.selection   Selection   the selected item, z, paths, samples, drawing, groups
    session.layers      MapLayers   the map's layers (atlas, thumbnails, q(z), p(z|x)) on or off
    session.tasks       TaskRunner  every piece of background work of the window

Views read these objects, listen to their signals and call their public methods; only the
code under `gui/state/` assigns their attributes or emits their signals. The Session itself
does what spans them: opening a run or data (encoding a large set in a task), following a
model in training, changing the projection, and fitting the mixture (at once for small
sets, in a task otherwise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from latentexplorer.analysis import mixture as mix
from latentexplorer.analysis.evaluation import encode_all
from latentexplorer.analysis.view_mixtures import MixtureFits, fit_mixtures
from latentexplorer.checkpoint import Run, load_run
from latentexplorer.config import DataConfig
from latentexplorer.data import ImageSet, load_dataset
from latentexplorer.errors import UserError
from latentexplorer.gui.state.colouring import Colouring
from latentexplorer.gui.state.layers import MapLayers
from latentexplorer.gui.state.opened_run import OpenedRun, check_shape
from latentexplorer.gui.state.selection import Selection
from latentexplorer.gui.state.view import ViewState
from latentexplorer.gui.tasks import Task, TaskRunner
from latentexplorer.logs import get_logger
from latentexplorer.models.base import eval_copy

SYNC_FIT_LIMIT = 20_000
"""Mixtures of up to this many codes are fitted at once; larger ones in a task."""
SYNC_ENCODE_LIMIT = 20_000
"""Sets of up to this many items are encoded at once; larger ones in a task, with progress."""
ENCODE_BATCH = 4096


class Session(QObject):
    errorOccurred = Signal(str)  # a message for the user; what was open stays open
    busyChanged = Signal(bool, str)  # background work that the status bar shows
    encodeProgress = Signal(int, int)  # items encoded, items in all (a large set, in a task)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log = get_logger("session")
        self.tasks = TaskRunner(self)
        self.opened = OpenedRun(self)
        self.view = ViewState(self.opened, self.report_error, self)
        self.colouring = Colouring(self.opened, self.view, self)
        self.selection = Selection(self.opened, self.view, self.colouring, self.report_error, self)
        self.layers = MapLayers(self)
        self._encoding: Task | None = None
        self._fitting: Task | None = None

    # --- messages ----------------------------------------------------------------------------

    def report_error(self, message: str) -> bool:
        """Tell the user what went wrong (views call this too); returns False for `return`."""
        self.log.error(message)
        self.errorOccurred.emit(message)
        return False

    def report_busy(self, busy: bool, message: str = "") -> None:
        """Show or clear a background job in the status bar."""
        self.busyChanged.emit(busy, message)

    # --- opening -------------------------------------------------------------------------------

    def open_run(self, folder: str | Path, images: ImageSet | None = None, fit: bool = True) -> bool:
        """Open a run folder with its data. On failure, say why and keep what was open.

        `fit=False` leaves the points grey (or in a colouring that needs no mixture) until the
        caller asks for `refit`: the app starts that in a task once its first picture is up."""
        try:
            run = load_run(folder)
            images = images if images is not None else load_dataset(run.config.data)
            check_shape(run, images)
        except UserError as exc:
            return self.report_error(str(exc))
        except Exception as exc:  # unexpected: still never lose the open run
            self.log.exception("opening %s failed", folder)
            return self.report_error(f"could not open {folder}: {exc}")
        self._install(run, images, fit=fit)
        return True

    def open_dataset(self, config: DataConfig | ImageSet) -> bool:
        """Encode another dataset with the current model (its image shape must match)."""
        run = self.opened.run
        if run is None:
            return self.report_error("open a run first: a dataset is encoded with the current model")
        try:
            images = config if isinstance(config, ImageSet) else load_dataset(config)
            check_shape(run, images)
        except UserError as exc:
            return self.report_error(str(exc))
        self._install(run, images)
        return True

    def use_model(self, run: Run, images: ImageSet | None = None,
                  codes: tuple[np.ndarray, np.ndarray] | None = None,
                  mixtures: MixtureFits | None = None, fit: bool = True) -> None:
        """Show an in-memory run (the model in training, a user's own model) on the given or
        current data; `codes` (μ, log σ²) when the caller has encoded the items already, and
        `mixtures` when it has fitted them to those codes with the K shown. `fit=False` leaves
        the fit to the caller (the app's start-up, once its first picture is up)."""
        images = images if images is not None else self.opened.images
        fitted = codes is not None and self.colouring.fits_shown_k(mixtures, len(codes[0]))
        self._install(run, images, codes, fit=fit and not fitted)
        if fitted:
            self.colouring.apply_fit(mixtures)

    def follow_model(self, run: Run, images: ImageSet,
                     codes: tuple[np.ndarray, np.ndarray] | None = None,
                     mixtures: MixtureFits | None = None) -> None:
        """Show the next snapshot of a model in training: only the codes, the projection and
        the mixture change; the view, the selection and the sliders stay. Far cheaper on the
        GUI thread than opening a run, so training never stalls the window: the training
        thread passes the codes it encoded and, with the K shown, their mixtures, so points
        and colours change in one picture; without them the mixture is refitted in a task."""
        o = self.opened
        same = (o.training and o.images is images and o.run.folder == run.folder
                and o.latent_dim == run.config.model.latent_dim)
        if not same:
            self.use_model(run, images, codes, mixtures)
            return
        model = run.model.cpu().eval()
        o.update_codes(run, model, codes if codes is not None else encode_all(model, images))
        self.tasks.cancel("mixture")  # a fit still running is for the codes replaced
        self.view.reproject()
        fitted = self.colouring.fits_shown_k(mixtures, len(o.mu))
        if fitted:
            self.colouring.set_fit(mixtures)
            self.colouring.compute_colours()
        self.view.projectionChanged.emit()
        o.codesUpdated.emit()
        self.selection.reselect()
        if fitted:
            self.colouring.mixtureChanged.emit()
            self.colouring.coloursChanged.emit()
        else:
            self.refit()

    def _install(self, run: Run, images: ImageSet,
                 codes: tuple[np.ndarray, np.ndarray] | None = None, fit: bool = True,
                 model=None) -> None:
        """`model`: the eval copy `codes` were encoded with, when a task made one already."""
        model = model if model is not None else eval_copy(run.model)
        self._cancel_encoding()
        if codes is None and len(images) > SYNC_ENCODE_LIMIT:
            self._start_encoding(run, model, images, fit)  # what is open stays until then
            return
        self.opened.install(run, model, images, codes if codes is not None else encode_all(model, images))
        self.tasks.cancel("mixture")  # a fit still running is for codes no longer shown
        self.colouring.reset_for_run()
        self.colouring.ensure_mode_available()
        self.selection.reset_for_run()
        self.view.reset_for_run()
        self.opened.runChanged.emit()
        self.view.projectionChanged.emit()
        self.selection.announce_cleared()
        if fit:
            self.refit()
        else:
            self.colouring.recolour()  # no colours of the previous codes on these

    def announce(self) -> None:
        """Re-emit the state signals, so views attached to an already open session fill in."""
        if not self.opened.has_run:
            return
        self.opened.runChanged.emit()
        self.view.projectionChanged.emit()
        self.colouring.mixtureChanged.emit()
        self.colouring.coloursChanged.emit()
        self.selection.selectionChanged.emit(self.selection.selected)
        self.selection.latentChanged.emit(self.selection.z)
        self.selection.lassoChanged.emit(self.selection.lasso_indices)

    # --- encoding a large set in a task ----------------------------------------------------------

    def _start_encoding(self, run: Run, model, images: ImageSet, fit: bool) -> None:
        task = self.tasks.start(encode_all, model, images, ENCODE_BATCH, name="encode", progress=True)
        self._encoding = task
        task.progress.connect(self.encodeProgress)
        task.result.connect(lambda codes: self._encoded(task, run, model, images, codes, fit))
        task.failed.connect(lambda message: self.report_error(f"encoding failed: {message}"))
        task.finished.connect(lambda: self._encoding_over(task))
        self.report_busy(True, f"encoding {len(images):,} items with {run.name}…")
        self.encodeProgress.emit(0, len(images))

    def _encoded(self, task: Task, run: Run, model, images: ImageSet, codes, fit: bool) -> None:
        if self._encoding is task:
            self._encoding_over(task)
            self._install(run, images, codes, fit=fit, model=model)

    def _encoding_over(self, task: Task) -> None:
        if self._encoding is task:
            self._encoding = None
            self.report_busy(False)

    def _cancel_encoding(self) -> None:
        if self._encoding is not None:
            self._encoding = None
            self.tasks.cancel("encode")
            self.tasks.wait("encode")
            self.report_busy(False)

    @property
    def encoding(self) -> bool:
        """A large set is being encoded in a task (the view still shows what was open)."""
        return self._encoding is not None

    def wait_until_ready(self, timeout_s: float = 600.0) -> bool:
        """Run the event loop until a large set's encoding has been installed (scripts, tests)."""
        import time

        from PySide6.QtCore import QCoreApplication

        deadline = time.monotonic() + timeout_s
        while self._encoding is not None and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.005)
        return self._encoding is None

    # --- projection and colouring ---------------------------------------------------------------

    def set_projection(self, kind: str, dims: tuple[int, int] | None = None) -> None:
        """Another 2-D view: the paths and samples of the old one go, the marker and the
        ellipse are drawn again in the new one."""
        if self.view.set_projection(kind, dims):
            self.selection.view_changed()

    def set_k(self, k: int | None) -> None:
        """K components, or None for the K with the lowest BIC; the mixture is refitted."""
        self.colouring.choose_k(k)
        self.refit()

    def refit(self, background: bool = False) -> None:
        """Fit the GMM (EM) and k-means in the full latent space of μ; in a task when asked
        (start-up), for large sets and for the model in training (refitted every epoch)."""
        o, c = self.opened, self.colouring
        if not o.has_run:
            return
        codes = o.mu  # the fits convert to float64 themselves: no copy kept for a task
        large = len(codes) > SYNC_FIT_LIMIT or codes.size > SYNC_FIT_LIMIT * 8  # EM's cost grows with n·d
        if background or large or o.training:
            seen = min(len(codes), mix.FIT_SUBSET)
            self.report_busy(True, f"fitting a mixture to {len(codes):,} codes…" if seen == len(codes)
                             else f"fitting a mixture to a random {seen:,} of {len(codes):,} codes…")
            self.tasks.wait("mixture")  # one fit at a time: two would share the two cores
            # One BLAS thread while training, and for small sets: their fit is many tiny solves
            # that a second, waking BLAS thread made several times slower on a busy 2-core machine.
            serial = o.training or len(codes) <= SYNC_FIT_LIMIT
            task = self.tasks.start(fit_mixtures, codes, c.k, c.auto_k, 1 if serial else None,
                                    name="mixture")
            self._fitting = task
            task.result.connect(c.apply_fit)
            task.failed.connect(lambda message: self.report_error(f"fitting the mixture failed: {message}"))
            task.finished.connect(lambda: self._fit_over(task))
            return
        if self._fitting is not None:  # a fit in a task of codes no longer shown
            self.tasks.cancel("mixture")
            self.tasks.wait("mixture")
            self._fit_over(self._fitting)
        # On one OpenMP thread: scikit-learn's OpenMP keeps a team for every thread that ran a
        # parallel k-means, and a team parked in the GUI thread made a later training run in
        # its worker thread ~30 % slower (libgomp workers of another thread stop spinning).
        c.apply_fit(fit_mixtures(codes, c.k, c.auto_k, native_threads=1))

    def _fit_over(self, task: Task) -> None:
        if self._fitting is task:
            self._fitting = None
            self.report_busy(False)

    @property
    def fitting(self) -> bool:
        """A mixture fit runs in a task; its colours follow."""
        return self._fitting is not None

    # --- the whole -----------------------------------------------------------------------------

    def codes_table(self) -> dict[str, np.ndarray]:
        """What File ▸ Export codes writes: μ, log σ², the view's x, y, labels, responsibilities."""
        mixture = self.colouring.mixture
        return self.opened.codes_table(self.view.xy, None if mixture is None else mixture.responsibilities)

    def describe(self) -> str:
        """One line for the status bar: the model, the data, the latent size and the view."""
        o = self.opened
        if not o.has_run:
            return "no run open"
        subset = ""
        mixture = self.colouring.mixture
        if mixture is not None and mixture.fitted_on:
            subset = f"  ·  mixture fitted on a random {mixture.fitted_on:,} of them, all assigned"
        return (
            f"{o.describe_model()}  ·  {o.images.name}, {len(o.images):,} items  ·  {o.latent_dim}-d latent"
            f"  ·  view: {self.view.describe()}{subset}"
        )

    def shutdown(self) -> None:
        """Cancel and wait for every background task (window closing, test teardown)."""
        self.selection.stop()
        self._encoding = self._fitting = None
        self.tasks.shutdown()


__all__ = ["SYNC_ENCODE_LIMIT", "SYNC_FIT_LIMIT", "Session"]
