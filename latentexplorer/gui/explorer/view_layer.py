"""What every computed layer of the map shares: it works only while switched on, and follows
the visible region of the scatter. `ViewLayer`s recompute a moment after the last pan or zoom,
so a drag of the view is never held up by them; `ItemLayer`s (the atlas, the thumbnails) draw
their own graphics item once per event-loop pass of view changes, cheaply enough to follow
the drag."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer

from latentexplorer.gui.state.session import Session

SETTLE_MS = 60  # after the last range change, before the layer recomputes


class ViewLayer(QObject):
    """Subclasses implement `refresh` (draw for the visible region) and `clear` (draw nothing)."""

    name = ""

    def __init__(self, session: Session, scatter, parent: QObject | None = None) -> None:
        super().__init__(parent or scatter)
        self.session, self.scatter = session, scatter
        self.view_box = scatter.view_box
        self._settle = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._settle.timeout.connect(self._refresh_if_on)
        session.layers.layerToggled.connect(self._toggled)
        session.layers.opacityChanged.connect(lambda layer, _: layer == self.name and self.restyle())
        self.view_box.sigRangeChanged.connect(lambda *_: self.on and self._settle.start())
        session.view.projectionChanged.connect(self.data_changed)
        session.opened.runChanged.connect(self.data_changed)

    @property
    def on(self) -> bool:
        return self.session.layers.is_on(self.name) and self.session.opened.has_run

    @property
    def opacity(self) -> float:
        return self.session.layers.opacity[self.name]

    def _toggled(self, layer: str, on: bool) -> None:
        if layer != self.name:
            return
        if on:
            self.data_changed()
        else:
            self._settle.stop()
            self.clear()

    def data_changed(self) -> None:
        """The codes, the model or the projection changed: what was computed is stale."""
        if self.on:
            self._settle.start()
        else:
            self.clear()

    def _refresh_if_on(self) -> None:
        if self.on:
            self.refresh()

    def visible_rect(self) -> tuple[float, float, float, float]:
        """(x0, x1, y0, y1) of the region the scatter shows."""
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        return float(x0), float(x1), float(y0), float(y1)

    def grid(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Cell centres of an n×n grid over the visible region (xs, ys, ascending)."""
        x0, x1, y0, y1 = self.visible_rect()
        dx, dy = (x1 - x0) / n, (y1 - y0) / n
        return x0 + dx * (np.arange(n) + 0.5), y0 + dy * (np.arange(n) + 0.5)

    def refresh(self) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def restyle(self) -> None:
        """The opacity changed: redraw what was computed, without computing again."""
        if self.on:
            self.refresh()


class ItemLayer(QObject):
    """A layer drawn by its own graphics item over the scatter's plot, redrawn once per
    event-loop pass of view changes (a pan's many range changes make one redraw).

    Subclasses set `name`, implement `refresh` and `_toggled(on)`, and may override
    `_run_changed` (another model or data: what is kept of the last one is stale)."""

    name = ""

    def __init__(self, session: Session, scatter, item: pg.GraphicsObject, z_value: float,
                 parent: QObject | None = None) -> None:
        super().__init__(parent or scatter)
        self.session, self.scatter = session, scatter
        self.view_box = scatter.view_box
        self.item = item
        item.setZValue(z_value)
        item.setVisible(False)
        scatter.plot.addItem(item, ignoreBounds=True)
        self._refresh = QTimer(self, singleShot=True, interval=0)
        self._refresh.timeout.connect(self.refresh)
        session.layers.layerToggled.connect(lambda layer, on: layer == self.name and self._toggled(on))
        session.layers.opacityChanged.connect(self._opacity_changed)
        self.view_box.sigRangeChanged.connect(self._changed)
        self.view_box.sigResized.connect(self._changed)
        session.view.projectionChanged.connect(self._changed)
        session.opened.runChanged.connect(self._run_changed)

    def _opacity_changed(self, layer: str, opacity: float) -> None:
        if layer == self.name:
            self.item.setOpacity(opacity)

    def _changed(self, *_args) -> None:
        """Something the drawing depends on changed: redraw in this event-loop pass, once."""
        if self.session.layers.is_on(self.name) and not self._refresh.isActive():
            self._refresh.start()

    def _run_changed(self) -> None:
        self._changed()

    def _toggled(self, on: bool) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        raise NotImplementedError
