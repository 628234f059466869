"""A scatter item for overlay markers that leaves clicks to the view under it."""

from __future__ import annotations

import pyqtgraph as pg


class PassiveScatter(pg.ScatterPlotItem):
    """A ScatterPlotItem (for the few overlay markers) that leaves clicks to the view:
    pyqtgraph's own handler would accept them, and the view box would never see them."""

    def mouseClickEvent(self, ev) -> None:
        ev.ignore()
