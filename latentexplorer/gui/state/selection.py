"""What the user pointed at and what the preview shows: the selected item, the latent z the
sliders and the marker show, the interpolation path, prior samples, a drawn input, the
groups kept from box selections, the items a lasso encloses, and the items a caption search
found.

Vocabulary: select, decode a location, interpolate, path, sample, drawing, group, lasso, match.
Every gesture ends in one preview record (`gui.state.previews`) on `previewChanged`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from latentexplorer.analysis.caption_ranking import best_captions, true_caption
from latentexplorer.analysis.lasso import inside_mask, write_selection
from latentexplorer.analysis.paths import lerp, slerp
from latentexplorer.gui.state.colouring import Colouring
from latentexplorer.gui.state.opened_run import NEIGHBOURS, OpenedRun
from latentexplorer.gui.state.previews import (
    CaptionPreview,
    DrawingPreview,
    InterpolationPreview,
    LocationPreview,
    PointPreview,
    SamplesPreview,
)
from latentexplorer.gui.state.view import ViewState
from latentexplorer.gui.widgets.after_paint import AfterPaint

if TYPE_CHECKING:
    from latentexplorer.analysis.directions import Group

POSTERIOR_SAMPLES = 4


def posterior_draws(mu: np.ndarray, sigma: np.ndarray, seed: int) -> np.ndarray:
    """POSTERIOR_SAMPLES draws z = μ + σ·ε, seeded (an item's samples are the same each time)."""
    return mu + sigma * np.random.default_rng(seed).standard_normal((POSTERIOR_SAMPLES, len(mu)))
POSTERIOR_DELAY_MS = 30
"""The selected item's posterior ellipse is drawn this long after its preview (one frame or two)."""


class Selection(QObject):
    selectionChanged = Signal(int)
    latentChanged = Signal(object)  # the z the sliders and the scatter marker show (or None)
    previewChanged = Signal(object)  # one record of gui.state.previews, or None
    pathChanged = Signal(object)  # N×2 projected path, or None
    samplesChanged = Signal(object)  # N×2 projected prior samples, or None
    posteriorChanged = Signal(object)  # PosteriorShape of the selected or drawn item, or None
    groupsChanged = Signal()  # a box was added, the lasso changed, or the groups were cleared
    matchesChanged = Signal(object)  # items a caption search found, best first (or None)
    lassoChanged = Signal(object)  # the items the lasso encloses (int64, ascending; empty: none)
    samplesDecoded = Signal(object)  # the selected item's PointPreview again, its samples filled

    def __init__(self, opened: OpenedRun, view: ViewState, colouring: Colouring,
                 fail: Callable[[str], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._opened, self._view, self._colouring, self._fail = opened, view, colouring, fail
        self.selected = -1
        self.z: np.ndarray | None = None
        self.drawing: DrawingPreview | None = None
        self.boxes: list = []  # analysis.directions.Group per box selection on the scatter
        self.lasso_indices = np.zeros(0, np.int64)  # items inside the lasso (ex.selection() reads it)
        self.frames = 10
        self.path_method = "lerp"
        self._interp_start = -1
        self._posterior_of = -1  # the item whose ellipse is due (see select)
        self._posterior_timer = QTimer(self, singleShot=True, interval=POSTERIOR_DELAY_MS)
        self._posterior_timer.timeout.connect(self._emit_pending_posterior)
        # A click's preview is painted with its reconstruction first; the posterior samples
        # (four more decodes) follow in the pass after the paint, about a millisecond later.
        self._pending_samples: PointPreview | None = None
        self._samples_later = AfterPaint(self._decode_pending_samples, self)

    def reset_for_run(self) -> None:
        """Nothing of the previous run stays selected (silently: the Session announces)."""
        self.selected, self.z, self._interp_start = -1, None, -1
        self.boxes, self.drawing = [], None
        self.lasso_indices = np.zeros(0, np.int64)

    def announce_cleared(self) -> None:
        """Tell the views that nothing is selected, drawn or marked any more."""
        self.selectionChanged.emit(-1)
        self.latentChanged.emit(None)
        self.pathChanged.emit(None)
        self.samplesChanged.emit(None)
        self.posteriorChanged.emit(None)
        self.groupsChanged.emit()
        self.lassoChanged.emit(self.lasso_indices)

    def stop(self) -> None:
        self._posterior_timer.stop()

    # --- selecting -------------------------------------------------------------------------------

    def select(self, index: int) -> None:
        """Select an item: the preview shows it, its reconstruction and posterior samples."""
        o = self._opened
        if not o.has_run:
            return
        if index < 0:
            self.clear()
            return
        self.selected = int(index)
        mu, logvar = o.mu[index], o.logvar[index]
        self.z = mu.astype(np.float64).copy()
        if not o.has_decoder:
            captions, scores = best_captions(o.model, mu)
            preview = CaptionPreview(index=self.selected, original=o.original(index), captions=captions,
                                     scores=scores, label=o.label_of(index),
                                     true_caption=true_caption(o.images, index))
            self.selectionChanged.emit(self.selected)
            self.latentChanged.emit(self.z)
            self.previewChanged.emit(preview)
            return
        sigma = np.exp(0.5 * logvar.astype(np.float64))
        finite_sigma = np.where(np.isfinite(sigma), sigma, 0.0)
        reconstruction = o.decode(mu[None])[0]
        preview = PointPreview(
            index=self.selected, original=o.original(index), reconstruction=reconstruction,
            samples=np.zeros((0, *reconstruction.shape), reconstruction.dtype), mu=mu.copy(),
            sigma=finite_sigma, label=o.label_of(index),
            responsibilities=self._colouring.responsibilities_of(index),
            samples_pending=o.variational,
        )
        self.previewChanged.emit(preview)  # first: the preview is what the click is for
        self.selectionChanged.emit(self.selected)
        self.latentChanged.emit(self.z)
        if preview.samples_pending:
            self._pending_samples = preview
            self._samples_later.request()
        # The ellipse follows a moment later: its repaint of the scatter (~2.5 ms among a million
        # points) would otherwise delay the preview the click is for.
        self._posterior_of = index
        self._posterior_timer.start()

    def reselect(self) -> None:
        """Show the selected item again (its codes moved: a model in training)."""
        if self.selected >= 0:
            self.select(self.selected)

    def _emit_pending_posterior(self) -> None:
        index, o = self._posterior_of, self._opened
        if index == self.selected and 0 <= index < len(o.mu) and o.has_run:
            self.posteriorChanged.emit(self._view.posterior_shape(o.mu[index], o.logvar[index]))

    def _decode_pending_samples(self) -> None:
        p, self._pending_samples = self._pending_samples, None
        if p is None or p.index != self.selected or not self._opened.has_run:
            return
        samples = self._opened.decode(posterior_draws(p.mu, p.sigma, seed=p.index))
        self.samplesDecoded.emit(replace(p, samples=samples, samples_pending=False))

    def _decode_with_samples(self, mu: np.ndarray, sigma: np.ndarray, seed: int) -> np.ndarray:
        """decode(μ) followed by the decodes of the seeded `posterior_draws`."""
        return self._opened.decode(np.vstack([mu[None], posterior_draws(mu, sigma, seed)]))

    def current_posterior(self):
        """The posterior shape of the selected item, or of the drawing, in the current view."""
        o = self._opened
        if self.selected >= 0:
            return self._view.posterior_shape(o.mu[self.selected], o.logvar[self.selected])
        if self.drawing is not None:
            logvar = 2.0 * np.log(np.maximum(self.drawing.sigma, 1e-30))
            return self._view.posterior_shape(self.drawing.mu, logvar)
        return None

    def current_input(self) -> tuple[str, np.ndarray] | None:
        """(what it is, C×H×W float image in [0, 1]) of the selected item or of the drawing:
        the x whose true posterior p(z|x) a layer of the map shows."""
        o = self._opened
        if self.selected >= 0:
            return f"item {self.selected}", o.images.float_batch(np.array([self.selected]))[0].numpy()
        if self.drawing is not None:
            return "your drawing", np.asarray(self.drawing.image, np.float32)
        return None

    def view_changed(self) -> None:
        """The projection changed: paths and samples drawn in the old one go, the marker and
        the ellipse are drawn again in the new one."""
        self.pathChanged.emit(None)
        self.samplesChanged.emit(None)
        if self.z is not None:
            self.latentChanged.emit(self.z)
        self.posteriorChanged.emit(self.current_posterior())

    def clear(self) -> None:
        self.selected, self.z = -1, None
        self.drawing = None
        self.posteriorChanged.emit(None)
        self.selectionChanged.emit(-1)
        self.latentChanged.emit(None)
        self.pathChanged.emit(None)
        self.samplesChanged.emit(None)
        self.previewChanged.emit(None)

    # --- decoding locations ------------------------------------------------------------------

    def to_latent(self, xy: np.ndarray) -> np.ndarray:
        """A 2-D location of the view → a full latent vector; the coordinates the view does
        not show come from the selected item's μ, or the data mean with no selection."""
        base = self._opened.mu[self.selected] if self.selected >= 0 else None
        return self._view.to_latent(xy, base)

    def decode_location(self, xy: np.ndarray) -> None:
        """Decode an empty spot of the view, with the nearest data item beside it."""
        o = self._opened
        if not o.has_run:
            return
        if not o.has_decoder:  # nothing to decode: the nearest item instead
            self.select(int(o.nearest(self.to_latent(xy))[0][0]))
            return
        self.show_latent(self.to_latent(xy), source="click")

    def show_latent(self, z: np.ndarray, source: str = "slider") -> None:
        """Decode z (a slider move or a click) and mark it on the scatter."""
        o = self._opened
        if not o.has_decoder:
            return
        z = np.asarray(z, np.float64)
        self.z = z.copy()
        (near,), (dist,) = o.nearest(z)
        original = o.original(self.selected) if source == "slider" and self.selected >= 0 else None
        self.latentChanged.emit(self.z)
        self.previewChanged.emit(
            LocationPreview(
                z=self.z, image=o.decode(z)[0], nearest=int(near),
                nearest_image=o.original(int(near)), distance=float(dist), source=source,
                original=original,
            )
        )

    # --- paths -----------------------------------------------------------------------------

    def path(self, z_start: np.ndarray, z_end: np.ndarray) -> np.ndarray:
        n = max(2, int(self.frames))
        return slerp(z_start, z_end, n) if self.path_method == "slerp" else lerp(z_start, z_end, n)

    def set_frames(self, frames: int) -> None:
        self.frames = max(2, int(frames))

    def set_path_method(self, method: str) -> None:
        self.path_method = method

    def begin_interpolation(self, start: int) -> None:
        self._interp_start = int(start)

    def interpolate_to(self, target: int | np.ndarray, done: bool = False) -> None:
        """Frames from the start item's μ to an item (exactly its μ) or a 2-D location."""
        o, view = self._opened, self._view
        if self._interp_start < 0 or not o.has_run or not o.has_decoder:
            return
        start = self._interp_start
        z_a = o.mu[start].astype(np.float64)
        if isinstance(target, (int, np.integer)):
            end, z_b = int(target), o.mu[int(target)].astype(np.float64)
        else:
            end, z_b = None, view.to_latent(np.asarray(target, float), z_a)
        zs = self.path(z_a, z_b)
        frames = o.decode(zs)
        self.pathChanged.emit(view.transform(zs))
        self.previewChanged.emit(InterpolationPreview(start, end, zs, frames, self.path_method, done))
        if done:
            self._interp_start = -1

    def show_path(self, zs: np.ndarray | None) -> None:
        """Draw a path of latent vectors on the scatter (an attribute vector's steps), or none."""
        self.pathChanged.emit(None if zs is None else self._view.transform(np.asarray(zs, np.float64)))

    # --- inputs from outside the data ----------------------------------------------------------

    def encode_image(self, image: np.ndarray) -> DrawingPreview | None:
        """Encode an image from outside the dataset (drawn or dropped, C×H×W in [0, 1]):
        the preview shows how the model reads it, the scatter its μ and posterior ellipse,
        and the sliders start from its μ."""
        o = self._opened
        if not o.has_run or not o.has_decoder:
            return None
        shape = tuple(o.run.config.model.image_shape)
        image = np.asarray(image, np.float32)
        if image.shape != shape:
            self._fail(f"the image is {image.shape}, the model reads {shape}")
            return None
        mu, logvar = o.encode(image)
        sigma = np.exp(0.5 * logvar) if o.variational else np.zeros_like(mu)
        decoded = self._decode_with_samples(mu, sigma, seed=0)
        nearest, _ = o.nearest(mu, NEIGHBOURS)
        preview = DrawingPreview(
            image=image, reconstruction=decoded[0], samples=decoded[1:], mu=mu, sigma=sigma,
            nearest=nearest, nearest_labels=tuple(o.label_of(int(i)) for i in nearest),
        )
        self.selected, self.drawing = -1, preview
        self.z = mu.copy()
        self.selectionChanged.emit(-1)
        self.latentChanged.emit(self.z)
        self.posteriorChanged.emit(self._view.posterior_shape(mu, logvar))
        self.previewChanged.emit(preview)
        return preview

    def sample_prior(self, n: int = 16, seed: int | None = None) -> None:
        """Decode z ~ N(0, I) and mark the samples on the scatter."""
        o = self._opened
        if not o.has_run:
            return
        if not o.has_decoder:
            self._fail("this model has no decoder, so there is nothing to sample images from")
            return
        zs = np.random.default_rng(seed).standard_normal((n, o.latent_dim))
        self.samplesChanged.emit(self._view.transform(zs))
        self.previewChanged.emit(SamplesPreview(zs, o.decode(zs), "Samples from the prior N(0, I)"))

    # --- groups and matches ----------------------------------------------------------------------

    def add_box(self, corner_a: np.ndarray, corner_b: np.ndarray) -> int:
        """Keep the visible items inside a box of the view as a group for attribute vectors;
        returns how many it holds (an empty box is not kept)."""
        from latentexplorer.analysis.directions import Group, box_members

        if not self._opened.has_run:
            return 0
        c = self._colouring
        members = box_members(self._view.xy, np.asarray(corner_a, float), np.asarray(corner_b, float),
                              c.visible() if c.hidden else None)
        if len(members) == 0:
            return 0
        self.boxes.append(Group(f"box {len(self.boxes) + 1} ({len(members):,} items)", members))
        self.groupsChanged.emit()
        return len(members)

    def groups(self) -> list:
        """Every group an attribute vector can be drawn between: label classes, factor
        values, the box selections made on the scatter, and its lasso."""
        from latentexplorer.analysis.directions import factor_groups, label_groups

        if not self._opened.has_run:
            return []
        images = self._opened.images
        lasso = self.lasso_group()
        return [*label_groups(images), *factor_groups(images), *self.boxes, *([lasso] if lasso else [])]

    def show_matches(self, indices: np.ndarray | None) -> None:
        """Mark the items a caption search found (None clears the marks)."""
        self.matchesChanged.emit(None if indices is None else np.asarray(indices, np.int64))

    # --- the lasso ---------------------------------------------------------------------------

    def set_lasso(self, polygon_xy: np.ndarray) -> int:
        """Select the visible items inside a freehand polygon of the current view (even-odd
        rule, `analysis.lasso`); returns how many. The indices outlive a change of projection
        (the polygon does not: it belonged to the old view). Fewer than three vertices, or
        nothing inside, leaves no lasso."""
        if not self._opened.has_run:
            return 0
        inside = inside_mask(self._view.xy, polygon_xy)
        if self._colouring.hidden:  # as a box: the points the user cannot see are not taken
            inside &= self._colouring.visible()
        self._set_lasso(np.flatnonzero(inside))
        return len(self.lasso_indices)

    def clear_lasso(self) -> None:
        """No lasso any more (Escape on the scatter, its Clear button)."""
        if len(self.lasso_indices):
            self._set_lasso(np.zeros(0, np.int64))

    def _set_lasso(self, indices: np.ndarray) -> None:
        self.lasso_indices = indices
        self.lassoChanged.emit(indices)
        self.groupsChanged.emit()

    def lasso_group(self) -> Group | None:
        """The lasso as an `analysis.directions.Group` for attribute vectors, or None."""
        from latentexplorer.analysis.directions import Group

        n = len(self.lasso_indices)
        return Group("lasso", self.lasso_indices) if n else None  # a redrawn lasso stays chosen

    def export_lasso(self, path: str | Path) -> Path | None:
        """Write the lasso's items (index, label, μ, σ) as CSV or NPZ, by the suffix; the path
        written, or None after saying why not."""
        o = self._opened
        if not o.has_run or len(self.lasso_indices) == 0:
            self._fail("nothing is selected with the lasso")
            return None
        i = self.lasso_indices
        mu = o.mu[i].astype(np.float64)
        sigma = np.exp(0.5 * o.logvar[i].astype(np.float64)) if o.variational else np.zeros_like(mu)
        sigma = np.where(np.isfinite(sigma), sigma, 0.0)
        labels = None if o.images.labels is None else np.asarray(o.images.labels)[i]
        try:
            return write_selection(path, i, mu, sigma, labels)
        except (OSError, ValueError) as exc:
            self._fail(f"could not export the lasso selection to {path}: {exc}")
            return None
