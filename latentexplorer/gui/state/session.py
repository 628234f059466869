"""The one object the views share: the open run, its data and codes, the projection,
the mixture, the selection and what the preview shows. Views listen to its signals and
call its methods; they never talk to each other."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from latentexplorer.analysis import mixture as mix
from latentexplorer.analysis.evaluation import encode_all
from latentexplorer.analysis.paths import lerp, slerp
from latentexplorer.analysis.projection import Projection, make_projection
from latentexplorer.checkpoint import Run, load_run
from latentexplorer.config import DataConfig
from latentexplorer.data import ImageSet, load_dataset
from latentexplorer.errors import DataError, UserError
from latentexplorer.gui.widgets.images import display_images
from latentexplorer.logs import get_logger

COLOUR_MODES = {
    "gmm-soft": "GMM responsibilities (soft)",
    "gmm-hard": "GMM assignment (hard)",
    "kmeans": "k-means",
    "labels": "True labels",
    "uncertainty": "Posterior uncertainty (mean σ)",
}
"""Colour modes; `factor:<name>` adds one per ground-truth factor of the data."""

SYNC_FIT_LIMIT = 20_000
SYNC_ENCODE_LIMIT = 20_000  # larger sets are encoded in a worker, with progress
"""Mixtures of up to this many codes are fitted at once; larger ones in a worker thread."""

POSTERIOR_SAMPLES = 4
POSTERIOR_DELAY_MS = 30
"""The selected item's posterior ellipse is drawn this long after its preview (one frame or two)."""
NEIGHBOURS = 6


@dataclass(frozen=True)
class PointPreview:
    """A data item: original, reconstruction decode(μ), decodes of z ~ q(z|x)."""

    index: int
    original: np.ndarray
    reconstruction: np.ndarray
    samples: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    label: str
    responsibilities: np.ndarray | None


@dataclass(frozen=True)
class LocationPreview:
    """An arbitrary latent location, decoded, with the data item nearest to it."""

    z: np.ndarray
    image: np.ndarray
    nearest: int
    nearest_image: np.ndarray
    distance: float
    source: str = "click"  # "click" | "slider"
    original: np.ndarray | None = None  # the selected item's image, when perturbing it


@dataclass(frozen=True)
class InterpolationPreview:
    start: int
    end: int | None
    zs: np.ndarray
    frames: np.ndarray
    method: str
    done: bool


@dataclass(frozen=True)
class SamplesPreview:
    zs: np.ndarray
    images: np.ndarray
    title: str


@dataclass(frozen=True)
class DrawingPreview:
    """An image the user drew or dropped, as the model reads it: its reconstruction, decodes
    of z ~ q(z|x), and the labels of the data items whose codes are nearest to its μ."""

    image: np.ndarray
    reconstruction: np.ndarray
    samples: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    nearest: np.ndarray
    nearest_labels: tuple[str, ...]


@dataclass(frozen=True)
class PosteriorShape:
    """q(z|x) of one code drawn in the current view: its μ and the 1σ and 2σ contours of
    the posterior's covariance projected by the view (exact: the views are linear)."""

    centre: np.ndarray
    one_sigma: np.ndarray
    two_sigma: np.ndarray


@dataclass(frozen=True)
class DimensionStats:
    order: np.ndarray
    kl: np.ndarray | None
    variance: np.ndarray
    active: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass
class ExplorerState:
    """What the user chose, kept across runs where it still applies."""

    projection: str = "dims"
    dims: tuple[int, int] = (0, 1)
    colour_mode: str = "gmm-soft"
    k: int = 10
    auto_k: bool = False
    frames: int = 10
    path_method: str = "lerp"
    show_ellipses: bool = True
    hidden: set[int] = field(default_factory=set)
    placement: str = "mu"  # "mu": points at E[z|x]; "sample": at one z ~ q(z|x) each
    placement_seed: int = 0


class Session(QObject):
    runChanged = Signal()
    codesUpdated = Signal()  # same run and data, new codes (a model in training moved on)
    projectionChanged = Signal()
    coloursChanged = Signal()
    mixtureChanged = Signal()
    selectionChanged = Signal(int)
    latentChanged = Signal(object)  # the z the sliders and the scatter marker show (or None)
    previewChanged = Signal(object)
    pathChanged = Signal(object)  # N×2 projected path, or None
    samplesChanged = Signal(object)  # N×2 projected prior samples, or None
    busyChanged = Signal(bool, str)
    encodeProgress = Signal(int, int)  # items encoded, items in all (a large set, in a worker)
    posteriorChanged = Signal(object)  # PosteriorShape of the selected or drawn item, or None
    groupsChanged = Signal()  # a box selection was added or the groups were cleared
    errorOccurred = Signal(str)
    matchesChanged = Signal(object)  # items a caption search found, best first (or None)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log = get_logger("session")
        self.run: Run | None = None
        self.model = None
        self.images: ImageSet | None = None
        self.mu = np.zeros((0, 2), np.float32)
        self.logvar = np.zeros((0, 2), np.float32)
        self.state = ExplorerState()
        self.projection: Projection | None = None
        self.xy = np.zeros((0, 2))
        self.mixture: mix.MixtureFit | None = None
        self.kmeans: mix.MixtureFit | None = None
        self.colour_index = np.arange(0)
        self.colours = np.zeros((0, 4), np.uint8)
        self._encoding: tuple | None = None  # (task, run, images, fit) of a set being encoded
        self._norms_for: np.ndarray | None = None  # the codes `_norms` (|μ|²) belong to
        self._norms = np.zeros(0, np.float32)
        self.bic: dict[int, float] = {}
        self.selected = -1
        self.z: np.ndarray | None = None
        self._interp_start = -1
        self._worker = None
        self._generation = 0
        self.boxes: list = []  # analysis.directions.Group per box selection on the scatter
        self._posterior_of = -1  # the item whose ellipse is due (see select)
        self._posterior_timer = QTimer(self, singleShot=True, interval=POSTERIOR_DELAY_MS)
        self._posterior_timer.timeout.connect(self._emit_pending_posterior)
        self.drawing: DrawingPreview | None = None

    # --- opening -------------------------------------------------------------------------

    @property
    def latent_dim(self) -> int:
        return self.mu.shape[1]

    @property
    def has_run(self) -> bool:
        return self.run is not None and self.images is not None

    @property
    def has_decoder(self) -> bool:
        """False for models that only embed (CLIP): nothing may be decoded."""
        return getattr(self.model, "has_decoder", True)

    def open_run(self, folder: str | Path, images: ImageSet | None = None, fit: bool = True) -> bool:
        """Open a run folder with its data. On failure, say why and keep what was open.

        `fit=False` leaves the points grey (or in a colouring that needs no mixture) until the
        caller asks for `refit`: the app starts that in a worker once its first picture is up."""
        try:
            run = load_run(folder)
            images = images if images is not None else load_dataset(run.config.data)
            self._check_shape(run, images)
        except UserError as exc:
            return self._fail(str(exc))
        except Exception as exc:  # unexpected: still never lose the open run
            self.log.exception("opening %s failed", folder)
            return self._fail(f"could not open {folder}: {exc}")
        self._install(run, images, fit=fit)
        return True

    def open_dataset(self, config: DataConfig | ImageSet) -> bool:
        """Encode another dataset with the current model (its image shape must match)."""
        if self.run is None:
            return self._fail("open a run first: a dataset is encoded with the current model")
        try:
            images = config if isinstance(config, ImageSet) else load_dataset(config)
            self._check_shape(self.run, images)
        except UserError as exc:
            return self._fail(str(exc))
        self._install(self.run, images)
        return True

    def use_model(self, run: Run, images: ImageSet | None = None,
                  codes: tuple[np.ndarray, np.ndarray] | None = None,
                  mixtures: tuple | None = None) -> None:
        """Show an in-memory run (e.g. the model in training) on the given or current data;
        `codes` (μ, log σ²) when the caller has encoded the items already, and `mixtures`
        (GMM, k-means, BIC) when it has fitted them to those codes with the K shown."""
        images = images if images is not None else self.images
        fitted = codes is not None and self._fits_shown_k(mixtures, len(codes[0]))
        self._install(run, images, codes, fit=not fitted)
        if fitted:
            self._apply_fit(*mixtures)

    def follow_model(self, run: Run, images: ImageSet,
                     codes: tuple[np.ndarray, np.ndarray] | None = None,
                     mixtures: tuple | None = None) -> None:
        """Show the next snapshot of a model in training: only the codes, the projection and
        the mixture change; the view, the selection and the sliders stay. Far cheaper on the
        GUI thread than opening a run, so training never stalls the window: the training
        thread passes the codes it encoded and, with the K shown, their mixtures (GMM, k-means,
        BIC), so points and colours change in one picture; without them the mixture is
        refitted in a worker."""
        same = (
            self.run is not None and self.run.state.get("training") and self.images is images
            and self.run.folder == run.folder and self.latent_dim == run.config.model.latent_dim
        )
        if not same:
            self.use_model(run, images, codes, mixtures)
            return
        model = run.model.cpu().eval()
        self.run, self.model = run, model
        self.mu, self.logvar = codes if codes is not None else encode_all(model, images)
        self._generation += 1  # a fit still running in a worker is for the codes replaced
        self._project()
        fitted = self._fits_shown_k(mixtures, len(self.mu))
        if fitted:
            self._set_fit(*mixtures)
            self._compute_colours()
        self.projectionChanged.emit()
        self.codesUpdated.emit()
        if self.selected >= 0:
            self.select(self.selected)
        if fitted:
            self.mixtureChanged.emit()
            self.coloursChanged.emit()
        else:
            self.refit()

    def _fits_shown_k(self, mixtures: tuple | None, n: int) -> bool:
        """Whether mixtures fitted elsewhere can be shown as they are: the K the view asks for
        (it may have changed while they were fitted) and one row per code."""
        if mixtures is None or self.state.auto_k:
            return False
        gmm = mixtures[0]
        return gmm.k == self.state.k and len(gmm.responsibilities) == n

    def _check_shape(self, run: Run, images: ImageSet) -> None:
        if images.image_shape != run.config.model.image_shape:
            raise DataError(
                f"{images.name} has images of shape {images.image_shape}, but the model "
                f"{run.name} expects {run.config.model.image_shape}"
            )

    def _fail(self, message: str) -> bool:
        self.log.error(message)
        self.errorOccurred.emit(message)
        return False

    def _install(self, run: Run, images: ImageSet,
                 codes: tuple[np.ndarray, np.ndarray] | None = None, fit: bool = True) -> None:
        model = copy.deepcopy(run.model).cpu().eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self._cancel_encoding()
        if codes is None and len(images) > SYNC_ENCODE_LIMIT:
            # Encode in a worker, batch by batch, with progress; what is open stays until then.
            from latentexplorer.gui.workers import start_encoding

            self._encoding = (start_encoding(self, model, images), run, images, fit)
            self.busyChanged.emit(True, f"encoding {len(images):,} items with {run.name}…")
            self.encodeProgress.emit(0, len(images))
            return
        self.run, self.model, self.images = run, model, images
        self.mu, self.logvar = codes if codes is not None else encode_all(model, images)
        self.selected, self.z, self._interp_start = -1, None, -1
        self.mixture = self.kmeans = None
        self.boxes, self.drawing = [], None
        self._generation += 1
        self.state.hidden = set()
        if self.latent_dim > 2:  # open on the two dimensions the codes use most
            top = np.argsort(-self.mu.var(axis=0), kind="stable")[:2]
            self.state.dims = (int(top[0]), int(top[1]))
        else:
            self.state.dims = (0, min(1, self.latent_dim - 1))
        if self.latent_dim <= 2 and self.state.projection != "dims":
            self.state.projection = "dims"
        elif not self.has_decoder:  # embeddings spread over all their dimensions
            self.state.projection = "pca"
        self._project()
        self.runChanged.emit()
        self.projectionChanged.emit()
        self.selectionChanged.emit(-1)
        self.latentChanged.emit(None)
        self.pathChanged.emit(None)
        self.samplesChanged.emit(None)
        self.posteriorChanged.emit(None)
        self.groupsChanged.emit()
        if fit:
            self.refit()
        else:
            self._recolour()  # no colours of the previous codes on these

    def announce(self) -> None:
        """Re-emit the state signals, so views attached to an already open session fill in."""
        if not self.has_run:
            return
        self.runChanged.emit()
        self.projectionChanged.emit()
        self.mixtureChanged.emit()
        self.coloursChanged.emit()
        self.selectionChanged.emit(self.selected)
        self.latentChanged.emit(self.z)

    # --- projection ------------------------------------------------------------------------

    def set_projection(self, kind: str, dims: tuple[int, int] | None = None) -> None:
        self.state.projection = kind
        if dims is not None:
            self.state.dims = dims
        if not self.has_run:
            return
        try:
            self._project()
        except ValueError as exc:
            self._fail(str(exc))
            return
        self.projectionChanged.emit()
        self.pathChanged.emit(None)
        self.samplesChanged.emit(None)
        if self.z is not None:
            self.latentChanged.emit(self.z)
        self.posteriorChanged.emit(self.current_posterior())

    def current_posterior(self) -> PosteriorShape | None:
        """The posterior shape of the selected item, or of the drawing, in the current view."""
        if self.selected >= 0:
            return self.posterior_shape(self.mu[self.selected], self.logvar[self.selected])
        if self.drawing is not None:
            return self.posterior_shape(self.drawing.mu, 2.0 * np.log(np.maximum(self.drawing.sigma, 1e-30)))
        return None

    def _project(self) -> None:
        dims = self.state.dims if self.latent_dim > 1 else (0, 0)
        self.projection = make_projection(self.state.projection, self.mu, dims)
        self.xy = self.projection.transform(self.placed_codes())

    @property
    def variational(self) -> bool:
        return self.run is not None and self.run.config.model.is_variational

    def placed_codes(self) -> np.ndarray:
        """Where the scatter puts each item: at μ, or at one draw z = μ + σ·ε of q(z|x)
        (seeded, so a redraw is a choice of the user, not of a repaint). An autoencoder's
        posterior is a point, so its items stay where they are."""
        if self.state.placement != "sample" or not self.variational:
            return self.mu
        rng = np.random.default_rng(self.state.placement_seed)
        eps = rng.standard_normal(self.mu.shape, dtype=np.float32)
        return self.mu + np.exp(0.5 * self.logvar) * eps

    def set_placement(self, placement: str, redraw: bool = False) -> None:
        """Points at μ ("mu") or at a sampled z ("sample"); `redraw` draws new ε."""
        if placement not in ("mu", "sample"):
            raise ValueError(f"placement is mu or sample, got {placement!r}")
        self.state.placement = placement
        if redraw:
            self.state.placement_seed += 1
        if self.has_run:
            self.xy = self.projection.transform(self.placed_codes())
            self.projectionChanged.emit()

    def to_latent(self, xy: np.ndarray) -> np.ndarray:
        """A 2-D location of the view → a full latent vector; the coordinates the view does
        not show come from the selected item's μ, or the data mean with no selection."""
        base = self.mu[self.selected] if self.selected >= 0 else None
        return self.projection.inverse(np.asarray(xy, float), base)

    # --- mixture and colours ---------------------------------------------------------------

    def set_colour_mode(self, mode: str) -> None:
        self.state.colour_mode = mode
        self.state.hidden = set()
        self._recolour()

    def set_k(self, k: int | None) -> None:
        """K components, or None for the K with the lowest BIC."""
        self.state.auto_k = k is None
        if k is not None:
            self.state.k = int(k)
        self.refit()

    def refit(self, background: bool = False) -> None:
        """Fit the GMM (EM) and k-means in the full latent space of μ; in a worker thread when
        asked (start-up), for large sets and for the model in training (refitted every epoch)."""
        if not self.has_run:
            return
        codes = self.mu  # the fits convert to float64 themselves: no copy kept for a worker
        large = len(codes) > SYNC_FIT_LIMIT or codes.size > SYNC_FIT_LIMIT * 8  # EM's cost grows with n·d
        if background or large or self.run.state.get("training"):
            from latentexplorer.gui.workers import start_mixture_fit

            seen = min(len(codes), mix.FIT_SUBSET)
            self.busyChanged.emit(True, f"fitting a mixture to {len(codes):,} codes…" if seen == len(codes)
                                  else f"fitting a mixture to a random {seen:,} of {len(codes):,} codes…")
            self._generation += 1
            # One BLAS thread while training, and for small sets: their fit is many tiny solves
            # that a second, waking BLAS thread made several times slower on a busy 2-core machine.
            serial = self.run.state.get("training") or len(codes) <= SYNC_FIT_LIMIT
            self._worker = start_mixture_fit(
                self, codes, self.state.k, self.state.auto_k, self._generation,
                native_threads=1 if serial else None,
            )
            return
        if self._worker is not None:  # a background fit of codes no longer shown
            self._worker.wait()
            self._worker = None
            self.busyChanged.emit(False, "")
        self._apply_fit(*fit_mixtures(codes, self.state.k, self.state.auto_k))

    @Slot(object)
    def _on_fit_done(self, result) -> None:
        *fit, generation = result
        if generation != self._generation:  # a fit for codes that are no longer shown
            if self._worker is not None and not self._worker.thread.isRunning():
                self._worker = None
                self.busyChanged.emit(False, "")
            self._release_fits()
            return
        self._worker = None
        self._release_fits()
        self.busyChanged.emit(False, "")
        self._apply_fit(*fit)

    @Slot(str)
    def _on_fit_failed(self, message: str) -> None:
        self._worker = None
        self._release_fits()
        self.busyChanged.emit(False, "")
        self._fail(f"fitting the mixture failed: {message}")

    @property
    def fitting(self) -> bool:
        """A mixture fit runs in a worker thread; its colours follow."""
        return self._worker is not None

    @property
    def encoding(self) -> bool:
        """A large set is being encoded in a worker (the view still shows what was open)."""
        return self._encoding is not None

    def _cancel_encoding(self) -> None:
        if self._encoding is not None:
            task = self._encoding[0]
            self._encoding = None
            task.worker.cancel.set()
            task.wait()
            self.busyChanged.emit(False, "")

    @Slot(int, int)
    def _on_encode_progress(self, done: int, total: int) -> None:
        if self._encoding is not None and self.sender() is self._encoding[0].worker:
            self.encodeProgress.emit(done, total)

    @Slot(object)
    def _on_encoded(self, codes) -> None:
        if self._encoding is None or self.sender() is not self._encoding[0].worker:
            return  # a request that was replaced
        task, run, images, fit = self._encoding
        self._encoding = None
        task.wait()
        self.busyChanged.emit(False, "")
        self._install(run, images, codes, fit=fit)

    @Slot(str)
    def _on_encode_failed(self, message: str) -> None:
        if self._encoding is None or self.sender() is not self._encoding[0].worker:
            return
        self._encoding[0].wait()
        self._encoding = None
        self.busyChanged.emit(False, "")
        if message:
            self._fail(message)

    def wait_until_ready(self, timeout_s: float = 600.0) -> bool:
        """Run the event loop until a large set's encoding has been installed (scripts, tests)."""
        import time

        from PySide6.QtCore import QCoreApplication

        deadline = time.monotonic() + timeout_s
        while self._encoding is not None and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.005)
        return self._encoding is None

    def shutdown(self) -> None:
        """Wait for background work (window closing, test teardown)."""
        self._posterior_timer.stop()
        self._cancel_encoding()
        if self._worker is not None:
            self._worker.wait()
            self._worker = None
        self._release_fits()

    def _release_fits(self) -> None:
        """Delete the fit tasks that have reported: children of the session, they would live
        as long as it, each with its thread and the codes it was given."""
        from latentexplorer.gui.workers import BackgroundTask

        for task in self.findChildren(BackgroundTask):
            if task is not self._worker:
                task.wait()  # its thread is quitting: it has just reported
                task.deleteLater()

    def _apply_fit(self, gmm: mix.MixtureFit, kmeans: mix.MixtureFit, bic: dict[int, float]) -> None:
        self._set_fit(gmm, kmeans, bic)
        self.mixtureChanged.emit()
        self._recolour()

    def _set_fit(self, gmm: mix.MixtureFit, kmeans: mix.MixtureFit, bic: dict[int, float]) -> None:
        previous = self.mixture
        if previous is not None and previous.means.shape[1] == gmm.means.shape[1]:
            self.colour_index = mix.stable_colour_indices(previous.means, self.colour_index, gmm.means)
        else:
            self.colour_index = np.arange(gmm.k)
        self.mixture, self.kmeans, self.bic = gmm, kmeans, bic or self.bic
        self.state.k = gmm.k

    def component_colours(self) -> np.ndarray:
        return mix.palette(int(self.colour_index.max()) + 1 if len(self.colour_index) else 1)[
            self.colour_index
        ]

    def legend(self) -> list[tuple[int, str, np.ndarray]]:
        """(key, name, RGB) of what the current colour mode distinguishes."""
        mode = self.state.colour_mode
        if mode in ("gmm-soft", "gmm-hard") and self.mixture is not None:
            colours = self.component_colours()
            return [(i, f"component {i + 1} ({w:.0%})", colours[i]) for i, w in enumerate(self.mixture.weights)]
        if mode == "kmeans" and self.kmeans is not None:
            colours = mix.palette(self.kmeans.k)
            return [(i, f"cluster {i + 1}", colours[i]) for i in range(self.kmeans.k)]
        if mode == "labels" and self.images is not None and self.images.labels is not None:
            classes = self._class_names()
            colours = mix.palette(len(classes))
            return [(i, name, colours[i]) for i, name in enumerate(classes)]
        return []

    def _class_names(self) -> list[str]:
        labels = self.images.labels
        count = max(len(self.images.class_names), int(labels.max()) + 1 if len(labels) else 0)
        return [self.images.class_names[i] if i < len(self.images.class_names) else str(i) for i in range(count)]

    def group_of_points(self) -> np.ndarray | None:
        """The legend key of each point (for hiding), or None when the mode has no groups."""
        mode = self.state.colour_mode
        if mode in ("gmm-soft", "gmm-hard") and self.mixture is not None:
            return self.mixture.labels
        if mode == "kmeans" and self.kmeans is not None:
            return self.kmeans.labels
        if mode == "labels" and self.images.labels is not None:
            return self.images.labels
        return None

    def toggle_group(self, key: int) -> None:
        """Hide or show the points of one legend entry."""
        self.state.hidden ^= {key}
        self.coloursChanged.emit()

    def visible(self) -> np.ndarray:
        groups = self.group_of_points()
        if groups is None or not self.state.hidden:
            return np.ones(len(self.mu), bool)
        return ~np.isin(groups, list(self.state.hidden))

    def _recolour(self) -> None:
        if not self.has_run:
            return
        self._compute_colours()
        self.coloursChanged.emit()

    def _compute_colours(self) -> None:
        mode = self.state.colour_mode
        if mode == "gmm-soft" and self.mixture is not None:
            self.colours = mix.blend_colours(self.mixture.responsibilities, self.component_colours())
        elif mode == "gmm-hard" and self.mixture is not None:
            self.colours = mix.hard_colours(self.mixture.labels, self.component_colours())
        elif mode == "kmeans" and self.kmeans is not None:
            self.colours = mix.hard_colours(self.kmeans.labels, mix.palette(self.kmeans.k))
        elif mode == "labels" and self.images.labels is not None:
            self.colours = mix.hard_colours(self.images.labels, mix.palette(len(self._class_names())))
        elif mode == "uncertainty":
            sigma = np.exp(0.5 * self.logvar.astype(np.float64)).mean(axis=1)
            self.colours = mix.scalar_colours(sigma)
        elif mode.startswith("factor:") and self.images.factors is not None:
            factors = self.images.factors
            column = factors.names.index(mode.split(":", 1)[1])
            self.colours = mix.scalar_colours(factors.indices[:, column].astype(float))
        else:
            self.colours = np.full((len(self.mu), 4), (90, 90, 90, 255), np.uint8)

    def colour_modes(self) -> dict[str, str]:
        modes = dict(COLOUR_MODES)
        if self.images is None or self.images.labels is None:
            modes.pop("labels")
        if self.run is not None and not self.run.config.model.is_variational:
            modes.pop("uncertainty")
        if self.images is not None and self.images.factors is not None:
            for name in self.images.factors.names:
                modes[f"factor:{name}"] = f"Factor: {name}"
        return modes

    def ellipses(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(RGB, 1σ polygon, 2σ polygon) per GMM component in the current projection."""
        if self.mixture is None or self.projection is None or self.mixture.kind != "gmm":
            return []
        centres = self.projection.transform(self.mixture.means)
        covs = self.projection.project_covariance(self.mixture.covariances)
        colours = self.component_colours()
        return [
            (colours[i], mix.ellipse(centres[i], covs[i], 1.0), mix.ellipse(centres[i], covs[i], 2.0))
            for i in range(self.mixture.k)
            if i not in self.state.hidden
        ]

    # --- decoding --------------------------------------------------------------------------

    @torch.no_grad()
    def decode(self, z: np.ndarray) -> np.ndarray:
        """Images in [0, 1] (M×C×H×W float32) for latent vectors M×D, from the eval copy."""
        z = torch.as_tensor(np.atleast_2d(z), dtype=torch.float32)
        return self.model.mean(z).numpy()

    def original(self, index: int) -> np.ndarray:
        return display_images(self.images, np.array([index]))[0]

    def nearest(self, z: np.ndarray, k: int = 1, exclude: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """Indices and Euclidean distances of the k items whose μ is nearest to z.

        |μ − z|² = |μ|² − 2 μ·z + |z|², with |μ|² kept per set of codes: one matrix-vector
        product per query (a million codes in a few ms, on every slider move)."""
        if self._norms_for is not self.mu:
            self._norms = np.einsum("ij,ij->i", self.mu, self.mu)
            self._norms_for = self.mu
        z = np.asarray(z, np.float32)
        d2 = self._norms - 2.0 * np.einsum("ij,j->i", self.mu, z)  # no BLAS: its threads
        # would wake for a matrix-vector product and cost more than it
        if 0 <= exclude < len(d2):
            d2[exclude] = np.inf
        k = min(k, len(d2))
        if k == 1:  # argmin: ~100× cheaper than a partition (a slider move asks for one)
            order = np.array([int(np.argmin(d2))])
        else:
            order = np.argpartition(d2, k - 1)[:k] if k < len(d2) else np.arange(len(d2))
            order = order[np.argsort(d2[order])]
        # exact distances for the k found (the expansion loses digits near zero)
        return order, np.sqrt(((self.mu[order] - z) ** 2).sum(axis=1))

    def neighbours_of(self, index: int, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
        """The k items whose μ is nearest to item `index`'s, and their images."""
        neighbours, _ = self.nearest(self.mu[index], k, exclude=index)
        return neighbours, display_images(self.images, neighbours)

    def label_of(self, index: int) -> str:
        if self.images.labels is None:
            return ""
        label = int(self.images.labels[index])
        names = self.images.class_names
        return names[label] if label < len(names) else str(label)

    def show_matches(self, indices: np.ndarray | None) -> None:
        """Mark the items a caption search found (None clears the marks)."""
        self.matchesChanged.emit(None if indices is None else np.asarray(indices, np.int64))

    def responsibilities_of(self, index: int) -> np.ndarray | None:
        return None if self.mixture is None else self.mixture.responsibilities[index]

    # --- gestures --------------------------------------------------------------------------

    def select(self, index: int) -> None:
        """Select an item: the preview shows it, its reconstruction and posterior samples."""
        if not self.has_run:
            return
        if index < 0:
            self.clear_selection()
            return
        self.selected = int(index)
        mu, logvar = self.mu[index], self.logvar[index]
        if not self.has_decoder:
            from latentexplorer.gui.explorer.caption_preview import caption_preview

            self.z = mu.astype(np.float64).copy()
            self.selectionChanged.emit(self.selected)
            self.latentChanged.emit(self.z)
            self.previewChanged.emit(caption_preview(self, self.selected))
            return
        sigma = np.exp(0.5 * logvar.astype(np.float64))
        finite_sigma = np.where(np.isfinite(sigma), sigma, 0.0)
        decoded = self._decode_with_samples(mu, finite_sigma, seed=index)
        preview = PointPreview(
            index=self.selected, original=self.original(index), reconstruction=decoded[0],
            samples=decoded[1:], mu=mu.copy(), sigma=finite_sigma, label=self.label_of(index),
            responsibilities=self.responsibilities_of(index),
        )
        self.z = mu.astype(np.float64).copy()
        self.selectionChanged.emit(self.selected)
        self.latentChanged.emit(self.z)
        self.previewChanged.emit(preview)
        # The ellipse follows a moment later: its repaint of the scatter (~2.5 ms among a million
        # points) would otherwise delay the preview the click is for.
        self._posterior_of = index
        self._posterior_timer.start()

    def _emit_pending_posterior(self) -> None:
        index = self._posterior_of
        if index == self.selected and 0 <= index < len(self.mu) and self.has_run:
            self.posteriorChanged.emit(self.posterior_shape(self.mu[index], self.logvar[index]))

    def _decode_with_samples(self, mu: np.ndarray, sigma: np.ndarray, seed: int) -> np.ndarray:
        """decode(μ) followed by the decodes of POSTERIOR_SAMPLES seeded draws z = μ + σ·ε."""
        eps = np.random.default_rng(seed).standard_normal((POSTERIOR_SAMPLES, len(mu)))
        return self.decode(np.vstack([mu[None], mu + sigma * eps]))

    def posterior_shape(self, mu: np.ndarray, logvar: np.ndarray) -> PosteriorShape | None:
        """The posterior N(μ, diag σ²) in the current view (factor analysis: N(μ, Σ) with its full
        covariance shared by all items); None for a point posterior (AE, PCA)."""
        if not self.variational or self.projection is None:
            return None
        shared = getattr(self.model, "posterior_covariance", None)  # factor analysis: full, shared
        if callable(shared):
            cov = shared().detach().double().numpy()
        else:
            cov = np.diag(np.exp(np.asarray(logvar, np.float64)))
        centre = self.projection.transform(np.asarray(mu, np.float64))
        cov2 = self.projection.project_covariance(cov)
        return PosteriorShape(centre, mix.ellipse(centre, cov2, 1.0), mix.ellipse(centre, cov2, 2.0))

    def clear_selection(self) -> None:
        self.selected, self.z = -1, None
        self.drawing = None
        self.posteriorChanged.emit(None)
        self.selectionChanged.emit(-1)
        self.latentChanged.emit(None)
        self.pathChanged.emit(None)
        self.samplesChanged.emit(None)
        self.previewChanged.emit(None)

    def decode_location(self, xy: np.ndarray) -> None:
        """Decode an empty spot of the view, with the nearest data item beside it."""
        if not self.has_run:
            return
        if not self.has_decoder:  # nothing to decode: the nearest item instead
            self.select(int(self.nearest(self.to_latent(xy))[0][0]))
            return
        self.show_latent(self.to_latent(xy), source="click")

    def show_latent(self, z: np.ndarray, source: str = "slider") -> None:
        """Decode z (a slider move or a click) and mark it on the scatter."""
        if not self.has_decoder:
            return
        z = np.asarray(z, np.float64)
        self.z = z.copy()
        (near,), (dist,) = self.nearest(z)
        original = self.original(self.selected) if source == "slider" and self.selected >= 0 else None
        self.latentChanged.emit(self.z)
        self.previewChanged.emit(
            LocationPreview(
                z=self.z, image=self.decode(z)[0], nearest=int(near),
                nearest_image=self.original(int(near)), distance=float(dist), source=source,
                original=original,
            )
        )

    def path(self, z_start: np.ndarray, z_end: np.ndarray) -> np.ndarray:
        n = max(2, int(self.state.frames))
        return slerp(z_start, z_end, n) if self.state.path_method == "slerp" else lerp(z_start, z_end, n)

    def begin_interpolation(self, start: int) -> None:
        self._interp_start = int(start)

    def interpolate_to(self, target: int | np.ndarray, done: bool = False) -> None:
        """Frames from the start item's μ to an item (exactly its μ) or a 2-D location."""
        if self._interp_start < 0 or not self.has_run or not self.has_decoder:
            return
        start = self._interp_start
        z_a = self.mu[start].astype(np.float64)
        if isinstance(target, (int, np.integer)):
            end, z_b = int(target), self.mu[int(target)].astype(np.float64)
        else:
            end, z_b = None, self.projection.inverse(np.asarray(target, float), z_a)
        zs = self.path(z_a, z_b)
        frames = self.decode(zs)
        self.pathChanged.emit(self.projection.transform(zs))
        self.previewChanged.emit(
            InterpolationPreview(start, end, zs, frames, self.state.path_method, done)
        )
        if done:
            self._interp_start = -1

    def set_frames(self, frames: int) -> None:
        self.state.frames = max(2, int(frames))

    def set_path_method(self, method: str) -> None:
        self.state.path_method = method

    @torch.no_grad()
    def encode_image(self, image: np.ndarray) -> DrawingPreview | None:
        """Encode an image from outside the dataset (drawn or dropped, C×H×W in [0, 1]):
        the preview shows how the model reads it, the scatter its μ and posterior ellipse,
        and the sliders start from its μ."""
        if not self.has_run or not self.has_decoder:
            return None
        shape = tuple(self.run.config.model.image_shape)
        image = np.asarray(image, np.float32)
        if image.shape != shape:
            self._fail(f"the image is {image.shape}, the model reads {shape}")
            return None
        posterior = self.model.encode(torch.from_numpy(image)[None])
        mu = posterior.mu[0].double().numpy()
        logvar = posterior.logvar[0].double().numpy()
        sigma = np.exp(0.5 * logvar) if self.variational else np.zeros_like(mu)
        decoded = self._decode_with_samples(mu, sigma, seed=0)
        nearest, _ = self.nearest(mu, NEIGHBOURS)
        preview = DrawingPreview(
            image=image, reconstruction=decoded[0], samples=decoded[1:], mu=mu, sigma=sigma,
            nearest=nearest, nearest_labels=tuple(self.label_of(int(i)) for i in nearest),
        )
        self.selected, self.drawing = -1, preview
        self.z = mu.copy()
        self.selectionChanged.emit(-1)
        self.latentChanged.emit(self.z)
        self.posteriorChanged.emit(self.posterior_shape(mu, logvar))
        self.previewChanged.emit(preview)
        return preview

    def add_box(self, corner_a: np.ndarray, corner_b: np.ndarray) -> int:
        """Keep the visible items inside a box of the view as a group for attribute vectors;
        returns how many it holds (an empty box is not kept)."""
        from latentexplorer.analysis.directions import Group, box_members

        if not self.has_run:
            return 0
        members = box_members(self.xy, np.asarray(corner_a, float), np.asarray(corner_b, float),
                              self.visible() if self.state.hidden else None)
        if len(members) == 0:
            return 0
        self.boxes.append(Group(f"box {len(self.boxes) + 1} ({len(members):,} items)", members))
        self.groupsChanged.emit()
        return len(members)

    def groups(self) -> list:
        """Every group an attribute vector can be drawn between: label classes, factor
        values, and the box selections made on the scatter."""
        from latentexplorer.analysis.directions import factor_groups, label_groups

        if not self.has_run:
            return []
        return [*label_groups(self.images), *factor_groups(self.images), *self.boxes]

    def sample_prior(self, n: int = 16, seed: int | None = None) -> None:
        """Decode z ~ N(0, I) and mark the samples on the scatter."""
        if not self.has_run:
            return
        if not self.has_decoder:
            self._fail("this model has no decoder, so there is nothing to sample images from")
            return
        rng = np.random.default_rng(seed)
        zs = rng.standard_normal((n, self.latent_dim))
        self.samplesChanged.emit(self.projection.transform(zs))
        self.previewChanged.emit(SamplesPreview(zs, self.decode(zs), "Samples from the prior N(0, I)"))

    def dimension_stats(self) -> DimensionStats:
        """Per latent dimension: average KL (VAEs), variance of μ over the data, activity
        (Burda et al.: Var(μ_j) > 0.01) and the slider range (±3 prior σ, or ±3 code σ)."""
        mu = self.mu.astype(np.float64)
        var = mu.var(axis=0)
        centre = mu.mean(axis=0)
        variational = self.run.config.model.is_variational
        if variational:
            lv = self.logvar.astype(np.float64)
            kl = (0.5 * (mu**2 + np.exp(lv) - 1.0 - lv)).mean(axis=0)
            order = np.argsort(-kl, kind="stable")
            low, high = np.full_like(var, -3.0), np.full_like(var, 3.0)
        else:
            kl = None
            order = np.argsort(-var, kind="stable")
            spread = 3.0 * np.sqrt(np.maximum(var, 1e-12))
            low, high = centre - spread, centre + spread
        return DimensionStats(order=order, kl=kl, variance=var, active=var > 0.01, low=low, high=high)

    def traversal(self, dims: list[int], steps: int = 9) -> tuple[np.ndarray, np.ndarray]:
        """The β-VAE figure: each dimension swept over its slider range, the others at the
        current z. Returns (values per dim: len(dims)×steps, images: len(dims)×steps×C×H×W)."""
        stats = self.dimension_stats()
        base = self.z if self.z is not None else self.mu.mean(axis=0).astype(np.float64)
        values = np.stack([np.linspace(stats.low[d], stats.high[d], steps) for d in dims])
        zs = np.repeat(base[None, None], steps, axis=1).repeat(len(dims), axis=0).copy()
        for row, d in enumerate(dims):
            zs[row, :, d] = values[row]
        images = self.decode(zs.reshape(-1, self.latent_dim))
        return values, images.reshape(len(dims), steps, *images.shape[1:])

    def manifold(self, n: int = 15) -> np.ndarray:
        """The Kingma & Welling figure for 2-D latents: decodes of a grid placed through the
        inverse Gaussian CDF, so each cell holds equal prior mass. n×n×C×H×W, top row y high."""
        from scipy.stats import norm

        grid = norm.ppf(np.linspace(0.5 / n, 1 - 0.5 / n, n))
        zs = np.array([[x, y] for y in grid[::-1] for x in grid])
        images = self.decode(zs)
        return images.reshape(n, n, *images.shape[1:])

    # --- export ----------------------------------------------------------------------------

    def codes_table(self) -> dict[str, np.ndarray]:
        table = {"mu": self.mu, "logvar": self.logvar, "xy": self.xy}
        if self.images.labels is not None:
            table["labels"] = self.images.labels
        if self.mixture is not None:
            table["responsibilities"] = self.mixture.responsibilities
        return table

    def describe(self) -> str:
        if not self.has_run:
            return "no run open"
        cfg = self.run.config.model
        kind = {"ae": "autoencoder", "vae": "VAE", "betavae": f"β-VAE (β = {cfg.beta:g})",
                "pca": "PCA", "fa": "factor analysis", "seqvae": "sequence VAE"}.get(cfg.kind, cfg.kind.upper())
        if cfg.kind == "vae" and cfg.beta != 1:
            kind = f"VAE (β = {cfg.beta:g})"
        if cfg.is_linear:
            kind += f": {self.model.summary()}"
        projection = " × ".join(p for p in self.projection.labels if p)
        if self.run.state.get("training"):
            kind += f" in training (epoch {self.run.state.get('epoch', 0)})"
        subset = ""
        if self.mixture is not None and self.mixture.fitted_on:
            subset = f"  ·  mixture fitted on a random {self.mixture.fitted_on:,} of them, all assigned"
        return (
            f"{kind}  ·  {self.images.name}, {len(self.images):,} items  ·  {self.latent_dim}-d latent"
            f"  ·  view: {projection}{subset}"
        )


def fit_mixtures_tagged(codes: np.ndarray, k: int, auto_k: bool, generation: int,
                        native_threads: int | None = None) -> tuple:
    """fit_mixtures for a worker, tagged with the codes' generation."""
    return (*fit_mixtures(codes, k, auto_k, native_threads), generation)


def fit_mixtures(codes: np.ndarray, k: int, auto_k: bool, native_threads: int | None = None) -> tuple:
    """GMM (with K by BIC when asked) and k-means with the same K. Runs in any thread.

    `native_threads` caps scikit-learn's OpenMP/BLAS threads: 1 while a model trains, so the
    fit takes no core from the training loop or the GUI thread (on 2 cores its 2 extra threads
    stalled the window)."""
    if native_threads is None:
        return _fit_mixtures(codes, k, auto_k)
    # scikit-learn (imported on first use) loads its own OpenMP and scipy's OpenBLAS: load them
    # before the limit is set, or it misses them and a 0.06 s fit sometimes took 2 s.
    import sklearn.cluster  # noqa: F401
    import sklearn.mixture  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=native_threads):
        return _fit_mixtures(codes, k, auto_k)


def _fit_mixtures(codes: np.ndarray, k: int, auto_k: bool) -> tuple:
    bic: dict[int, float] = {}
    if auto_k:
        k, bic = mix.choose_k(codes, range(1, min(15, len(codes)) + 1))
    k = max(1, min(int(k), len(codes)))
    return (mix.fit_gmm(codes, k, max_fit=mix.FIT_SUBSET),
            mix.fit_kmeans(codes, k, max_fit=mix.FIT_SUBSET), bic)


__all__ = [
    "COLOUR_MODES", "DrawingPreview", "InterpolationPreview", "LocationPreview", "PointPreview",
    "PosteriorShape", "SamplesPreview", "Session", "fit_mixtures",
]
