"""Layers ▸ True posterior: for a model with a 2-D latent, p(z|x) ∝ p(x|z) p(z) of the selected
(or drawn) item on a grid over the visible region, as filled contours (its 50 %, 80 % and 95 %
highest-density regions) under q(z|x)'s 1σ and 2σ ellipses. The panel shows log p(x) by
numerical integration over a region chosen to hold the posterior's mass, beside the ELBO and the
IWAE bound, and the gap log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)): what amortised inference costs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import QObject

from latentexplorer.analysis.true_posterior import Evidence, evidence, log_joint_grid
from latentexplorer.gui.explorer.view_layer import ViewLayer
from latentexplorer.gui.state.layers import TRUE_POSTERIOR
from latentexplorer.gui.state.session import Session
from latentexplorer.gui.widgets.images import grid_rect

GRID = 100
EVIDENCE_K = 1000
BANDS = ((0.95, 70), (0.80, 140), (0.50, 220))  # highest-density mass → alpha of its band
RGB = (120, 40, 170)


@dataclass(frozen=True)
class PosteriorView:
    """The normalised posterior on the visible grid."""

    xs: np.ndarray
    ys: np.ndarray
    density: np.ndarray  # sums to 1 over the grid's cells


@dataclass(frozen=True)
class TruePosteriorFigures:
    """For the panel: whose posterior, its evidence (None while it computes), or why none."""

    what: str
    evidence: Evidence | None = None
    note: str = ""


def posterior_in_view(model, image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> PosteriorView:
    """p(z|x) over the grid, normalised over it (runs in a task)."""
    log_joint = log_joint_grid(model, torch.from_numpy(image)[None], xs, ys)
    finite = np.where(np.isfinite(log_joint), log_joint, -np.inf)
    weights = np.exp(finite - finite.max())
    return PosteriorView(xs, ys, weights / weights.sum())


def evidence_of(model, image: np.ndarray) -> Evidence:
    return evidence(model, torch.from_numpy(image)[None], k=EVIDENCE_K, seed=0)


def band_alpha(density: np.ndarray) -> np.ndarray:
    """Per cell, the alpha of the innermost highest-density region it lies in (0 outside)."""
    order = np.sort(density.ravel())[::-1]
    cumulative = np.cumsum(order)
    alpha = np.zeros(density.shape, np.float64)
    for mass, value in BANDS:  # outer first, inner bands overwrite
        threshold = order[min(np.searchsorted(cumulative, mass), len(order) - 1)]
        alpha[density >= threshold] = value
    return alpha


class TruePosteriorLayer(ViewLayer):
    name = TRUE_POSTERIOR

    def __init__(self, session: Session, scatter, parent: QObject | None = None) -> None:
        super().__init__(session, scatter, parent)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-6)
        self.image.setVisible(False)
        scatter.plot.addItem(self.image, ignoreBounds=True)
        self.shown: PosteriorView | None = None
        self.figures: TruePosteriorFigures | None = None
        self._input: tuple[str, np.ndarray] | None = None
        session.selection.selectionChanged.connect(lambda _: self.data_changed())
        session.selection.posteriorChanged.connect(lambda _: self._input_moved())

    def _input_moved(self) -> None:
        """A drawing is encoded as it is drawn: its posterior follows (the selection's own
        change already refreshed)."""
        if self.session.selection.selected < 0:
            self.data_changed()

    def refresh(self) -> None:
        o = self.session.opened
        current = self.session.selection.current_input()
        if o.latent_dim != 2 or not o.has_decoder:
            self._say(TruePosteriorFigures("", note=f"only for a model with a 2-D latent (this one has "
                                                    f"{o.latent_dim})"))
            return
        if current is None:
            self._say(TruePosteriorFigures("", note="select an item or draw one to see its true posterior"))
            return
        xs, ys = self.grid(GRID)
        grid = self.session.tasks.start(posterior_in_view, o.model, current[1], xs, ys, name="true-posterior-grid")
        grid.result.connect(self._show)
        grid.failed.connect(lambda message: self.session.report_error(f"the true posterior failed: {message}"))
        key = (current[0], id(o.model))  # the same item of another model is another posterior
        if self._input is None or self._input[0] != key or not np.array_equal(self._input[1], current[1]):
            self._input = (key, current[1])
            self._say(TruePosteriorFigures(current[0]), keep_image=True)
            task = self.session.tasks.start(evidence_of, o.model, current[1], name="true-posterior-evidence")
            task.result.connect(lambda found, key=key: self._evidence_done(key, found))
            task.failed.connect(lambda message: self.session.report_error(f"log p(x) failed: {message}"))

    def _say(self, figures: TruePosteriorFigures, keep_image: bool = False) -> None:
        self.figures = figures
        if not keep_image:
            self.image.setVisible(False)
            self.shown = None
        self.session.layers.set_figures(self.name, figures)

    def _evidence_done(self, key: tuple, found: Evidence) -> None:
        if self.on and self._input is not None and self._input[0] == key:
            self._say(TruePosteriorFigures(key[0], found), keep_image=True)

    def _show(self, shown: PosteriorView) -> None:
        if not self.on:
            return
        self.shown = shown
        self._paint()

    def _paint(self) -> None:
        rgba = np.zeros((*self.shown.density.shape, 4), np.uint8)
        rgba[..., :3] = RGB
        rgba[..., 3] = (band_alpha(self.shown.density) * self.opacity).astype(np.uint8)
        self.image.setImage(rgba, autoLevels=False, levels=(0, 255))
        self.image.setRect(grid_rect(self.shown.xs, self.shown.ys))
        self.image.setVisible(True)

    def restyle(self) -> None:
        if self.on and self.shown is not None:
            self._paint()


    def clear(self) -> None:
        self.session.tasks.cancel("true-posterior-grid")
        self.session.tasks.cancel("true-posterior-evidence")
        self.image.setVisible(False)
        self.shown, self._input = None, None
