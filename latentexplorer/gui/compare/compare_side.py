"""One side of the Compare tab: a run chooser, the run's latent scatter coloured by true label,
its prior-coverage figures, decodes of the shared prior samples and a clicked item's
reconstruction. The run is loaded and encoded in a worker thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QVBoxLayout, QWidget

from latentexplorer.analysis.aggregate_posterior import KLEstimate, aggregate_kl
from latentexplorer.analysis.aggregate_view import (
    AggregateView,
    covering_grid,
    density_in_view,
)
from latentexplorer.analysis.prior_coverage import PriorCoverage, prior_coverage
from latentexplorer.analysis.projection import Projection, make_projection
from latentexplorer.bundled import bundled_runs
from latentexplorer.checkpoint import Run, load_run, read_config
from latentexplorer.data import ImageSet, load_dataset
from latentexplorer.errors import DataError
from latentexplorer.gui.state.opened_run import MODEL_KINDS
from latentexplorer.gui.widgets import images as im
from latentexplorer.gui.widgets.aggregate_items import AggregateItems
from latentexplorer.gui.widgets.passive_scatter import PassiveScatter

OPEN_ITEM = "Open…"
KL_SAMPLES = 500
PICK_RADIUS_PX = 8.0


@dataclass(frozen=True)
class ComparedRun:
    """A run ready to show: its model, data, codes, 2-D view and prior coverage."""

    folder: Path
    run: Run
    images: ImageSet
    mu: np.ndarray
    projection: Projection
    xy: np.ndarray
    coverage: PriorCoverage
    aggregate: AggregateView  # q(z) and p(z) on a grid holding the codes and the prior's 3σ
    kl: KLEstimate  # KL(q(z) ‖ p(z)), Monte Carlo

    @property
    def latent_dim(self) -> int:
        return self.mu.shape[1]

    @torch.no_grad()
    def decode(self, zs: np.ndarray) -> np.ndarray:
        return self.run.model.mean(torch.as_tensor(np.atleast_2d(zs), dtype=torch.float32)).numpy()

    def describe(self) -> str:
        cfg = self.run.config.model
        kind = MODEL_KINDS.get(cfg.kind, cfg.kind)
        text = f"{kind} · {self.images.name}, {len(self.images):,} items · {cfg.latent_dim}-d latent"
        if cfg.is_linear:
            text += f"\n{self.run.model.summary()}"
        if np.isfinite(self.kl.kl):
            kl = f"KL(q(z) ‖ p(z)) ≈ {self.kl.kl:.2f} ± {self.kl.se:.2f} nats"
        else:
            kl = f"KL(q(z) ‖ p(z)): {self.kl.note}"
        return (f"{text}\nPrior N(0, I) vs codes: {self.coverage.describe()}\n{kl}; holes: "
                f"{self.aggregate.hole_fraction:.0%} of the prior's 2σ region")


def load_compared_run(folder: str | Path) -> ComparedRun:
    """Open, encode and measure a run; runs in a worker thread (no Qt)."""
    from latentexplorer.analysis.evaluation import encode_all

    run = load_run(folder)
    if not run.config.model.has_decoder:
        raise DataError(f"{run.name} has no decoder: the comparison decodes prior samples on both sides")
    images = load_dataset(run.config.data)
    mu, logvar = encode_all(run.model, images)
    d = mu.shape[1]
    projection = make_projection("dims" if d <= 2 else "pca", mu, (0, min(1, d - 1)))
    xy = projection.transform(mu)
    xs, ys = covering_grid(xy, projection, d)
    return ComparedRun(Path(folder), run, images, mu, projection, xy, prior_coverage(mu),
                       density_in_view(mu, logvar, projection, d, xs, ys),
                       aggregate_kl(mu, logvar, samples=KL_SAMPLES, seed=0))


class _ClickViewBox(pg.ViewBox):
    """Left clicks go to the side (which picks the nearest code); drags and the wheel pan and zoom."""

    def __init__(self, on_click) -> None:
        super().__init__()
        self._on_click = on_click

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._on_click(self.mapToView(ev.pos()))
        else:
            super().mouseClickEvent(ev)


class CompareSide(QWidget):
    """A run of the comparison; `requested` asks the tab to load a folder (it checks shapes)."""

    requested = Signal(object)  # Path of a run folder the user chose
    loaded = Signal()

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data: ComparedRun | None = None
        self.decoded: np.ndarray | None = None
        self.selected = -1
        self.chooser = QComboBox()
        self.chooser.setToolTip("The run shown on this side: a bundled run, or Open… a run folder")
        for folder in bundled_runs():
            if read_config(folder).model.has_decoder:  # both sides decode prior samples
                self.chooser.addItem(folder.name, str(folder))
        self.chooser.addItem(OPEN_ITEM, None)
        self.chooser.activated.connect(self._chosen)
        self.title = QLabel(f"<b>{title}</b>")
        self.figures = QLabel("loading…")
        self.figures.setWordWrap(True)
        self.figures.setObjectName("compareFigures")
        self.view_box = _ClickViewBox(self._clicked)
        self.plot = pg.PlotWidget(viewBox=self.view_box, background="w")
        self.plot.setMinimumSize(260, 240)
        self.legend = self.plot.addLegend(offset=(-4, 4), labelTextColor=(40, 40, 40),
                                          brush=pg.mkBrush(255, 255, 255, 200))
        self.plot.setAspectLocked(True)
        self.points = PassiveScatter(size=5, pen=pg.mkPen(None))
        self.sample_markers = PassiveScatter(size=16, symbol="star", pen=pg.mkPen("k", width=1.5),
                                             brush=pg.mkBrush(255, 255, 255, 230))
        self.selection_marker = PassiveScatter(size=14, symbol="o", pen=pg.mkPen("r", width=2),
                                                   brush=pg.mkBrush(None))
        for item in (self.points, self.sample_markers, self.selection_marker):
            self.plot.addItem(item)
        self.aggregate = AggregateItems(self.plot)  # q(z) vs p(z), when the tab asks
        self.density, self.prior_curves = self.aggregate.image, self.aggregate.prior_curves
        self.aggregate_shown = False
        self.strip_caption = QLabel("Press “Sample from prior” to decode the same z ~ N(0, I) on both sides")
        self.strip_caption.setWordWrap(True)
        self.strip = QLabel()
        self.recon_caption = QLabel("Click a point: its original and reconstruction")
        self.recon = QLabel()
        layout = QVBoxLayout(self)
        for widget in (self.title, self.chooser, self.figures):
            layout.addWidget(widget)
        layout.addWidget(self.plot, 1)
        for widget in (self.strip_caption, self.strip, self.recon_caption, self.recon):
            layout.addWidget(widget)

    # --- choosing ----------------------------------------------------------------------------

    def select_folder(self, folder: str | Path) -> None:
        """Show `folder` in the chooser (adding it once) without loading it."""
        folder = str(Path(folder))
        index = self.chooser.findData(folder)
        if index < 0:
            index = self.chooser.count() - 1  # before "Open…"
            self.chooser.insertItem(index, Path(folder).name, folder)
        self.chooser.setCurrentIndex(index)

    def revert_chooser(self) -> None:
        """Back to the run shown (after a refused choice)."""
        if self.data is not None:
            self.select_folder(self.data.folder)

    def _chosen(self, index: int) -> None:
        folder = self.chooser.itemData(index)
        if folder is None:
            start = str(self.data.folder.parent) if self.data is not None else str(Path.home())
            folder = QFileDialog.getExistingDirectory(self, "Open a run to compare", start)
            if not folder:
                self.revert_chooser()
                return
            self.select_folder(folder)
        self.requested.emit(Path(folder))

    # --- showing -----------------------------------------------------------------------------

    def _fill_legend(self, data) -> None:
        self.legend.clear()
        for name, brush in _legend_entries(data.images):
            self.legend.addItem(pg.ScatterPlotItem(size=8, pen=pg.mkPen(None), brush=brush), name)

    @Slot(object)
    def show_run(self, data: ComparedRun) -> None:
        self.data, self.decoded, self.selected = data, None, -1
        self.select_folder(data.folder)
        labels = data.images.labels
        brushes = _label_brushes(labels, len(data.images))
        self.points.setData(x=data.xy[:, 0], y=data.xy[:, 1], brush=brushes)
        self._fill_legend(data)
        self.sample_markers.setData([], [])
        self.selection_marker.setData([], [])
        self.figures.setText(data.describe())
        self.strip.clear()
        self.recon.clear()
        self.plot.setLabel("bottom", data.projection.labels[0])
        self.plot.setLabel("left", data.projection.labels[1])
        self.view_box.autoRange()
        self.show_aggregate(self.aggregate_shown)
        self.loaded.emit()

    def show_aggregate(self, on: bool) -> None:
        """Draw q(z) (blue), the prior's 1-3σ contours and the holes (red) under the points."""
        self.aggregate_shown = on
        data = self.data
        if data is None:
            return
        if on:
            self.aggregate.show_density(data.aggregate, 0.6)
            self.aggregate.show_prior(data.projection, data.latent_dim)
        else:
            self.aggregate.hide()

    def show_samples(self, zs: np.ndarray, seed: int) -> None:
        """Mark prior samples on the scatter and decode them in the strip."""
        if self.data is None:
            return
        xy = self.data.projection.transform(zs)
        self.sample_markers.setData(x=xy[:, 0], y=xy[:, 1])
        self.decoded = self.data.decode(zs)
        self.strip.setPixmap(im.rgb_to_pixmap(im.tile(self.decoded, columns=len(zs), size=40, gap=2)))
        self.strip_caption.setText(f"{len(zs)} samples z ~ N(0, I) (seed {seed}), decoded")

    def _clicked(self, position) -> None:
        if self.data is None:
            return
        xy = self.data.xy
        pixel = self.view_box.viewPixelSize()
        d2 = ((xy[:, 0] - position.x()) / pixel[0]) ** 2 + ((xy[:, 1] - position.y()) / pixel[1]) ** 2
        nearest = int(np.argmin(d2))
        if d2[nearest] <= PICK_RADIUS_PX**2:
            self.show_item(nearest)

    def show_item(self, index: int) -> None:
        """The item's original beside its reconstruction decode(μ)."""
        data = self.data
        self.selected = index
        original = im.display_images(data.images, np.array([index]))
        reconstruction = data.decode(data.mu[index])
        self.selection_marker.setData(x=[data.xy[index, 0]], y=[data.xy[index, 1]])
        self.recon.setPixmap(im.rgb_to_pixmap(im.tile(np.concatenate([original, reconstruction]),
                                                      columns=2, size=72, gap=2)))
        label = "" if data.images.labels is None else f", label {int(data.images.labels[index])}"
        self.recon_caption.setText(f"item {index}{label}: original | reconstruction")


def _legend_entries(images) -> list[tuple[str, object]]:
    """(class name, brush) per class present, in the colours `_label_brushes` gives them."""
    from latentexplorer.analysis.mixture import palette

    if images.labels is None:
        return []
    colours = palette(int(images.labels.max()) + 1)
    names = images.class_names
    return [(names[k] if k < len(names) else str(k), pg.mkBrush(*(int(c) for c in colours[k][:3]), 220))
            for k in np.unique(images.labels).astype(int)]


def _label_brushes(labels: np.ndarray | None, n: int) -> list:
    """One brush per class, the same classes in the same colours on both sides."""
    from latentexplorer.analysis.mixture import palette

    if labels is None:
        return [pg.mkBrush(120, 120, 120, 200)] * n
    colours = palette(int(labels.max()) + 1)
    brushes = [pg.mkBrush(*(int(c) for c in colour[:3]), 200) for colour in colours]
    return [brushes[int(label)] for label in labels]
