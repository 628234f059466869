"""The lasso on the latent scatter: draw a freehand loop, select every point inside it.

Alt+drag always draws one; with the "Lasso" toggle on, a plain left drag does too (a click
still selects or decodes, Shift+drag still makes a box). The loop is drawn as it is dragged
(dashed, translucent, even-odd like the test); on release `Selection.set_lasso` takes the
visible points inside, and the bar above the scatter shows how many, with Export… (CSV or
NPZ: index, label, μ, σ) and Clear. Escape on the scatter clears the lasso (or abandons one
being drawn). The selected points are darkened by a second raster point cloud, so a lasso
over a million points redraws as fast as the scatter itself.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QPainterPath
from PySide6.QtWidgets import (
    QFileDialog,
    QGraphicsPathItem,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QWidget,
)

from latentexplorer.gui.state.session import Session
from latentexplorer.gui.widgets.point_cloud import PointCloudItem

MIN_STEP_PX = 2.0  # a vertex closer than this to the last one adds nothing to the loop
SHADE = np.array([0, 0, 0, 120], np.uint8)  # over the selected points: darker, hue still seen


class LassoTool(QObject):
    """The lasso's bar (`bar`: toggle, count, Export…, Clear), its outline in the view box and
    the shading of the selected points. The view box hands it the drags it `wants`."""

    def __init__(self, session: Session, view_box: pg.ViewBox, plot: pg.PlotWidget,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.view_box = view_box
        self.plot = plot
        self.bar = QWidget()
        self.bar.setObjectName("lassoBar")
        self.toggle = QToolButton()
        self.toggle.setObjectName("lassoToggle")
        self.toggle.setText("Lasso")
        self.toggle.setCheckable(True)
        self.toggle.setToolTip("Drag a freehand loop to select the points inside it (Alt+drag "
                               "does it any time); a click still selects a point")
        self.toggle.toggled.connect(self._toggled)
        self.count = QLabel()
        self.count.setObjectName("lassoCount")
        self.export_button = QToolButton()
        self.export_button.setObjectName("lassoExport")
        self.export_button.setText("Export…")
        self.export_button.setToolTip("Save the lassoed items' index, label, μ and σ as CSV or NPZ")
        self.export_button.clicked.connect(lambda: self.export())
        self.clear_button = QToolButton()
        self.clear_button.setObjectName("lassoClear")
        self.clear_button.setText("Clear")
        self.clear_button.setToolTip("Clear the lasso selection (Escape on the scatter)")
        self.clear_button.clicked.connect(session.selection.clear_lasso)
        layout = QHBoxLayout(self.bar)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.toggle, self.count, self.export_button, self.clear_button):
            layout.addWidget(widget)
        layout.insertStretch(2, 1)
        self.outline = QGraphicsPathItem()
        self.outline.setPen(pg.mkPen((200, 40, 120), width=1.5, style=Qt.PenStyle.DashLine, cosmetic=True))
        self.outline.setBrush(pg.mkBrush(200, 40, 120, 35))
        self.outline.setZValue(20)
        self.outline.setVisible(False)
        view_box.addItem(self.outline, ignoreBounds=True)
        self.shade = PointCloudItem()
        self.shade.setZValue(1)  # over the points, under the rings and markers
        self.shade.setVisible(False)
        plot.addItem(self.shade, ignoreBounds=True)
        self._vertices: list[tuple[float, float]] = []
        self._drawing = False  # a drag is drawing a loop (Escape abandons it)
        self._releasing = False  # set_lasso is answering our own release: keep the outline
        session.selection.lassoChanged.connect(self._show)
        session.view.projectionChanged.connect(self._projection_changed)
        plot.installEventFilter(self)
        self._show(session.selection.lasso_indices)

    @property
    def active(self) -> bool:
        """The toggle is on: a plain left drag draws a lasso."""
        return self.toggle.isChecked()

    @property
    def polygon(self) -> np.ndarray:
        """The loop drawn (M×2, view coordinates) while it is shown; empty otherwise."""
        return np.array(self._vertices, np.float64).reshape(-1, 2)

    def wants(self, modifiers: Qt.KeyboardModifier) -> bool:
        """Whether a left drag starting with these modifiers is a lasso."""
        return self.active or bool(modifiers & Qt.KeyboardModifier.AltModifier)

    def _toggled(self, on: bool) -> None:
        viewport = self.plot.viewport()
        if on:
            viewport.setCursor(Qt.CursorShape.CrossCursor)
        else:
            viewport.unsetCursor()

    # --- drawing -----------------------------------------------------------------------------

    def drag(self, start: QPointF, pos: QPointF, first: bool, finished: bool) -> None:
        """One step of a lasso drag in view coordinates (`start`: where the button went down);
        on release the points inside are selected."""
        if first:
            self._vertices = [(start.x(), start.y())]
            self._drawing = True
        if not self._drawing:
            return  # abandoned with Escape: the rest of this drag is ignored
        px, py = self.view_box.viewPixelSize()
        last_x, last_y = self._vertices[-1]
        if ((pos.x() - last_x) / max(px, 1e-300)) ** 2 + ((pos.y() - last_y) / max(py, 1e-300)) ** 2 \
                >= MIN_STEP_PX ** 2 or finished:
            self._vertices.append((pos.x(), pos.y()))
        self._draw_outline()
        if finished:
            self._drawing = False
            self._releasing = True
            try:
                self.session.selection.set_lasso(np.array(self._vertices))
            finally:
                self._releasing = False

    def _draw_outline(self) -> None:
        path = QPainterPath()  # odd-even fill, the rule of the selection
        if len(self._vertices) >= 2:
            path.moveTo(*self._vertices[0])
            for x, y in self._vertices[1:]:
                path.lineTo(x, y)
            path.closeSubpath()
        self.outline.setPath(path)
        self.outline.setVisible(len(self._vertices) >= 2)

    def abandon(self) -> None:
        """Stop drawing the lasso being dragged (nothing is selected by it)."""
        self._drawing = False
        self._vertices = []
        self._draw_outline()
        self._show(self.session.selection.lasso_indices)

    # --- showing the selection ---------------------------------------------------------------

    def _show(self, indices: np.ndarray) -> None:
        n = len(indices)
        self.count.setText(f"{n:,} selected" if n else "")
        self.export_button.setEnabled(n > 0)
        self.clear_button.setEnabled(n > 0)
        if not (self._releasing and n):  # a loop of another view, or one that took nothing
            self._vertices = []
            self.outline.setVisible(False)
        self._shade(indices)

    def _shade(self, indices: np.ndarray) -> None:
        xy = self.session.view.xy
        if len(indices) == 0 or len(xy) == 0 or int(indices[-1]) >= len(xy):
            self.shade.setData(np.zeros((0, 2)), SHADE)
            self.shade.setVisible(False)
            return
        self.shade.setData(xy[indices], SHADE)
        self.shade.setVisible(True)

    def _projection_changed(self) -> None:
        """The same items, shaded where the new view puts them; the loop belonged to the old one."""
        if not self._drawing:
            self._vertices = []
            self.outline.setVisible(False)
        self._shade(self.session.selection.lasso_indices)

    # --- keys and export ---------------------------------------------------------------------

    def eventFilter(self, watched, event) -> bool:
        """Escape on the scatter clears the lasso before the window's Escape (clear the
        selection) sees it: the shortcut is overridden only while there is a lasso."""
        kind = event.type()
        if kind in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and event.key() == Qt.Key.Key_Escape \
                and (self._drawing or len(self.session.selection.lasso_indices)):
            if kind == QEvent.Type.KeyPress:
                if self._drawing:
                    self.abandon()
                else:
                    self.session.selection.clear_lasso()
            event.accept()
            return True
        return False

    def export(self, path: str | None = None) -> None:
        """Save the lasso's items; without a path, ask for one (CSV or NPZ by its suffix)."""
        if path is None:
            path, chosen = QFileDialog.getSaveFileName(self.bar, "Export lasso selection", "lasso.csv",
                                                       "CSV (*.csv);;NumPy (*.npz)")
            if not path:
                return
            if "." not in path.rsplit("/", 1)[-1]:
                path += ".npz" if "npz" in chosen else ".csv"
        self.session.selection.export_lasso(path)
