"""The picture of q(z) against p(z) on a plot: q(z) shaded blue, the holes red, the prior's 1σ,
2σ and 3σ contours dashed. One set of items for the Explorer's layer and the Compare tab."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt

from latentexplorer.analysis.aggregate_view import AggregateView, prior_contours
from latentexplorer.gui.widgets.images import grid_rect

Z_VALUE = -12  # under the points and the mixture's ellipses


class AggregateItems:
    def __init__(self, plot: pg.PlotWidget) -> None:
        self.image = pg.ImageItem(axisOrder="row-major")
        self.hole_image = pg.ImageItem(axisOrder="row-major")
        self.prior_curves = [pg.PlotCurveItem(pen=pg.mkPen((40, 40, 40), width=1.5, style=Qt.PenStyle.DashLine))
                             for _ in range(3)]
        for z, item in enumerate(self.items):
            item.setZValue(Z_VALUE + z)
            item.setVisible(False)
            plot.addItem(item, ignoreBounds=True)

    @property
    def items(self) -> tuple:
        return (self.image, self.hole_image, *self.prior_curves)

    def show_prior(self, projection, latent_dim: int) -> None:
        for polygon, curve in zip(prior_contours(projection, latent_dim), self.prior_curves):
            curve.setData(polygon[:, 0], polygon[:, 1])
            curve.setVisible(True)

    def show_density(self, view: AggregateView, opacity: float) -> None:
        shade, hole = view.rgba(opacity)
        rect = grid_rect(view.xs, view.ys)
        for image, pixels in ((self.image, shade), (self.hole_image, hole)):
            image.setImage(pixels, autoLevels=False, levels=(0, 255))
            image.setRect(rect)
            image.setVisible(True)

    def hide(self) -> None:
        for item in self.items:
            item.setVisible(False)
