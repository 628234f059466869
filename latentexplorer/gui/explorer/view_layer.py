"""What every computed layer of the map shares: it works only while switched on, and follows
the visible region of the scatter (recomputed a moment after the last pan or zoom, so a drag
of the view is never held up by it)."""

from __future__ import annotations

import numpy as np
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
