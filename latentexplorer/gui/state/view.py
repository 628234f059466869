"""The view of the latent space: which 2-D projection, and where each item is placed.

Vocabulary: projection kind (two dimensions, PCA, factor analysis), the two dimensions, the
placement (at μ or at a sampled z), the projected points `xy`, and the way back from a 2-D
location to a full latent vector."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from latentexplorer.analysis.posterior_shape import PosteriorShape, posterior_shape
from latentexplorer.analysis.projection import Projection, make_projection
from latentexplorer.gui.state.opened_run import OpenedRun

PROJECTIONS = ("dims", "pca", "fa")


class ViewState(QObject):
    projectionChanged = Signal()  # new `xy` (projection, placement or codes changed)

    def __init__(self, opened: OpenedRun, fail: Callable[[str], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._opened = opened
        self._fail = fail
        self.kind = "dims"
        self.dims: tuple[int, int] = (0, 1)
        self.placement = "mu"  # "mu": points at E[z|x]; "sample": at one z ~ q(z|x) each
        self.placement_seed = 0
        self.projection: Projection | None = None
        self.xy = np.zeros((0, 2))

    def reset_for_run(self) -> None:
        """Choose the view a newly opened run starts on (silently: the Session announces it)."""
        o = self._opened
        if o.latent_dim > 2:  # open on the two dimensions the codes use most
            top = np.argsort(-o.mu.var(axis=0), kind="stable")[:2]
            self.dims = (int(top[0]), int(top[1]))
        else:
            self.dims = (0, min(1, o.latent_dim - 1))
        if o.latent_dim <= 2 and self.kind != "dims":
            self.kind = "dims"
        elif not o.has_decoder:  # embeddings spread over all their dimensions
            self.kind = "pca"
        self.reproject()

    def reproject(self) -> None:
        """Fit the projection to the current codes and place the items (no signal)."""
        o = self._opened
        dims = self.dims if o.latent_dim > 1 else (0, 0)
        self.projection = make_projection(self.kind, o.mu, dims)
        self.xy = self.projection.transform(self.placed_codes())

    def set_projection(self, kind: str, dims: tuple[int, int] | None = None) -> bool:
        """Show another projection; False (and a message) when it cannot be fitted."""
        self.kind = kind
        if dims is not None:
            self.dims = dims
        if not self._opened.has_run:
            return False
        try:
            self.reproject()
        except ValueError as exc:
            self._fail(str(exc))
            return False
        self.projectionChanged.emit()
        return True

    def placed_codes(self) -> np.ndarray:
        """Where the scatter puts each item: at μ, or at one draw z = μ + σ·ε of q(z|x)
        (seeded, so a redraw is a choice of the user, not of a repaint). An autoencoder's
        posterior is a point, so its items stay where they are."""
        o = self._opened
        if self.placement != "sample" or not o.variational:
            return o.mu
        rng = np.random.default_rng(self.placement_seed)
        eps = rng.standard_normal(o.mu.shape, dtype=np.float32)
        return o.mu + np.exp(0.5 * o.logvar) * eps

    def set_placement(self, placement: str, redraw: bool = False) -> None:
        """Points at μ ("mu") or at a sampled z ("sample"); `redraw` draws new ε."""
        if placement not in ("mu", "sample"):
            raise ValueError(f"placement is mu or sample, got {placement!r}")
        self.placement = placement
        if redraw:
            self.placement_seed += 1
        if self._opened.has_run:
            self.xy = self.projection.transform(self.placed_codes())
            self.projectionChanged.emit()

    def transform(self, zs: np.ndarray) -> np.ndarray:
        """Latent vectors → their 2-D positions in this view."""
        return self.projection.transform(zs)

    def to_latent(self, xy: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """A 2-D location of the view → a full latent vector; the coordinates the view does
        not show come from `base` (the selected item's μ), or the data mean without one."""
        return self.projection.inverse(np.asarray(xy, float), base)

    def posterior_shape(self, mu: np.ndarray, logvar: np.ndarray) -> PosteriorShape | None:
        """The posterior N(μ, diag σ²) in this view (factor analysis: N(μ, Σ) with its full
        covariance shared by all items); None for a point posterior (AE, PCA)."""
        if not self._opened.variational or self.projection is None:
            return None
        return posterior_shape(self.projection, mu, logvar, self._opened.shared_covariance())

    def describe(self) -> str:
        return " × ".join(p for p in self.projection.labels if p)
