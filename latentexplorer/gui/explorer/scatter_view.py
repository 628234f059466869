"""The latent scatter: every item at its μ, coloured by the session, with its own picking.

The points are one raster item (`PointCloudItem`: every point drawn, a million in tens of
milliseconds); picking is a numpy nearest-point search on the projected coordinates, in
screen pixels, over the slab of points whose x is near the cursor (x sorted once per
projection), so the renderer and the gestures are independent:
click a point → select it; click empty space → decode there; press on a point and
drag → interpolate (coalesced: at most one decode per event-loop pass); drag from
empty space → pan, as usual; Shift+drag → a box selection (a group for attribute vectors);
Alt+drag, or any drag with the Lasso toggle on → a freehand lasso (`lasso_tool.py`).
The selected item's posterior q(z|x) is drawn as its 1σ and 2σ ellipses in the view.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QCursor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.gui.explorer.lasso_tool import LassoTool
from latentexplorer.gui.state.session import Session
from latentexplorer.gui.widgets.after_paint import AfterPaint
from latentexplorer.gui.widgets.passive_scatter import PassiveScatter
from latentexplorer.gui.widgets.point_cloud import ContoursItem, PointCloudItem

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

PICK_RADIUS_PX = 6.0
UNCOLOURED = np.array([150, 150, 150, 255], np.uint8)  # until the mixture's colours arrive


class ExplorerViewBox(pg.ViewBox):
    """A ViewBox that hands left clicks and drags starting on a point to the scatter view."""

    def __init__(self, view: LatentScatter) -> None:
        super().__init__()
        self._view = view
        self._dragging_point = False
        self._boxing = False
        self._lassoing = False

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._view.clicked(self.mapToView(ev.pos()))
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        if ev.isStart():
            self._boxing = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self._lassoing = axis is None and not self._boxing and self._view.lasso.wants(ev.modifiers())
        if self._lassoing:
            ev.accept()
            self._view.lasso.drag(self.mapToView(ev.buttonDownPos()), self.mapToView(ev.pos()),
                                  ev.isStart(), ev.isFinish())
            self._lassoing = not ev.isFinish()
            return
        if self._boxing:
            ev.accept()
            self._view.box_dragged(self.mapToView(ev.buttonDownPos()), self.mapToView(ev.pos()), ev.isFinish())
            if ev.isFinish():
                self._boxing = False
            return
        if ev.isStart():
            start = self._view.pick(self.mapToView(ev.buttonDownPos()))
            self._dragging_point = start >= 0
            if self._dragging_point:
                self._view.drag_started(start)
        if not self._dragging_point:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        self._view.drag_moved(self.mapToView(ev.pos()), finished=ev.isFinish())
        if ev.isFinish():
            self._dragging_point = False


class LatentScatter(QWidget):
    """The scatter plot of μ with its legend; objectName `latentScatter`."""

    hovered = Signal(int)
    box_selected = Signal(int)  # items in a box just made with Shift+drag (0: none, not kept)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("latentScatter")
        self.session = session
        self.view_box = ExplorerViewBox(self)
        self.plot = pg.PlotWidget(viewBox=self.view_box, background="w")
        self.plot.setObjectName("latentPlot")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        for side in ("bottom", "left"):
            axis = self.plot.getAxis(side)
            axis.enableAutoSIPrefix(False)  # latent units, never "×0.001" rescaled ticks
            # With the grid on, each axis spans the whole plot, and replaying its labels and
            # lines cost ~3 ms on every repaint of the view (a click's ring, a drag's path);
            # cached as a pixmap it is redrawn only when its ticks change.
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.plot.setMouseTracking(True)
        self.points = PointCloudItem()
        self.plot.addItem(self.points)
        self._sorted_for: np.ndarray | None = None  # the xy array the pick order belongs to
        self._order = np.zeros(0, np.int64)
        self._sorted_x = np.zeros(0)
        self.contours = ContoursItem()
        self.plot.addItem(self.contours)
        self._ellipses_for: tuple | None = None  # what the drawn contours show
        self.highlight = PassiveScatter(
            size=16, pen=pg.mkPen("k", width=2.5), brush=None, symbol="o", pxMode=True
        )
        self.marker = PassiveScatter(
            size=18, pen=pg.mkPen((20, 20, 20), width=2.5), brush=pg.mkBrush(255, 255, 255, 160),
            symbol="+", pxMode=True,
        )
        self.path_line = pg.PlotCurveItem(pen=pg.mkPen((30, 30, 30), width=2.5, style=Qt.PenStyle.DashLine))
        self.path_frames = PassiveScatter(size=7, pen=pg.mkPen("k"), brush=pg.mkBrush("w"))
        self.prior_samples = PassiveScatter(
            size=13, symbol="star", pen=pg.mkPen("k"), brush=pg.mkBrush(255, 255, 255, 220)
        )
        posterior_pen = pg.mkPen((200, 20, 60), width=2.5)
        self.posterior_1s = pg.PlotCurveItem(pen=posterior_pen)
        self.posterior_2s = pg.PlotCurveItem(pen=pg.mkPen((200, 20, 60), width=2, style=Qt.PenStyle.DashLine))
        self.box = QGraphicsRectItem()
        self.box.setPen(pg.mkPen((30, 90, 200), width=1.5, style=Qt.PenStyle.DashLine, cosmetic=True))
        self.box.setBrush(pg.mkBrush(30, 90, 200, 40))
        self.box.setZValue(20)
        self.box.setVisible(False)
        self.view_box.addItem(self.box, ignoreBounds=True)
        self.matches = PassiveScatter(  # items a caption search found
            size=14, pen=pg.mkPen((230, 120, 0), width=2.5), brush=None, symbol="o", pxMode=True
        )
        self._matches: np.ndarray | None = None
        for item in (self.highlight, self.matches, self.path_line, self.path_frames, self.prior_samples, self.marker,
                     self.posterior_1s, self.posterior_2s):
            item.setZValue(10)
            item.setVisible(False)
            # overlays never widen the view, so changing one does not make the view box
            # re-measure every item's bounds (the fitted range is the points', see _redraw_all)
            self.plot.addItem(item, ignoreBounds=True)
        self.legend = QListWidget()
        self.legend.setObjectName("scatterLegend")
        self.legend.setMaximumWidth(190)
        self.legend.setToolTip("Click an entry to hide or show its points")
        self.legend.itemClicked.connect(self._legend_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.lasso = LassoTool(session, self.view_box, self.plot, self)
        left = QVBoxLayout()
        left.addWidget(self.lasso.bar)
        left.addWidget(self.plot)
        layout.addLayout(left, 1)
        layout.addWidget(self.legend)
        self._pending: tuple[QPointF, bool] | None = None
        self._coalesce = QTimer(self, singleShot=True, interval=0)
        self._coalesce.timeout.connect(self._flush_drag)
        self._hover_pos: QPointF | None = None
        self._hover_timer = QTimer(self, singleShot=True, interval=0)
        self._hover_timer.timeout.connect(self._flush_hover)
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self._pressed = -1  # the point selected at the last press, before pyqtgraph saw it
        self.plot.viewport().installEventFilter(self)
        self.decodes = 0  # drag decodes actually run (coalescing makes it ≤ mouse moves)
        session.view.projectionChanged.connect(self._redraw_all)
        session.colouring.coloursChanged.connect(self._recolour)
        session.colouring.mixtureChanged.connect(self._draw_ellipses)
        # The ring and the marker move after the click's preview has been painted (AfterPaint)
        self._rings = AfterPaint(self._draw_selection, self)
        self._ringed: tuple[int, np.ndarray | None] = (-1, None)  # what the ring was drawn for
        session.selection.selectionChanged.connect(lambda _: self._rings.request())
        session.selection.latentChanged.connect(lambda _: self._rings.request())
        session.selection.pathChanged.connect(self._show_path)
        session.selection.samplesChanged.connect(self._show_samples)
        session.selection.posteriorChanged.connect(self._show_posterior)
        session.selection.matchesChanged.connect(self._show_matches)
        session.opened.runChanged.connect(lambda: self._show_matches(None))
        session.opened.runChanged.connect(self._fill_legend)  # no last run's legend while fitting
        session.view.projectionChanged.connect(lambda: self._show_matches(self._matches))

    # --- rendering -------------------------------------------------------------------------

    def _redraw_all(self) -> None:
        s = self.session
        self._set_points()
        x_label, y_label = s.view.projection.labels
        for side, label in (("bottom", x_label), ("left", y_label)):
            if self.plot.getAxis(side).labelText != label:  # a new label lays the axes out anew
                self.plot.setLabel(side, label)
        if not (s.opened.training and self._codes_fill_view()):
            self.view_box.autoRange(items=[self.points], padding=0.05)  # not the last run's ellipses
        self._draw_ellipses()
        self._rings.now()

    def _codes_fill_view(self) -> bool:
        """A followed run's new codes lie inside the view and fill most of it: the view stays
        (re-ranging every epoch redrew both axes, GUI-thread work taken from the training)."""
        xy = self.session.view.xy
        if len(xy) == 0:
            return False
        lo, hi = np.nanmin(xy, axis=0), np.nanmax(xy, axis=0)
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        inside = x0 <= lo[0] and hi[0] <= x1 and y0 <= lo[1] and hi[1] <= y1
        return bool(inside and hi[0] - lo[0] >= 0.6 * (x1 - x0) and hi[1] - lo[1] >= 0.6 * (y1 - y0))

    def _set_points(self) -> None:
        """All visible points at their projected μ, in the session's colours (grey until the
        colours of these codes exist)."""
        s = self.session
        if len(s.colouring.colours) != len(s.view.xy):
            self.points.setData(s.view.xy, UNCOLOURED)
            return
        visible = s.colouring.visible()
        if visible.all():
            self.points.setData(s.view.xy, s.colouring.colours)
        else:
            self.points.setData(s.view.xy[visible], s.colouring.colours[visible])

    def _recolour(self) -> None:
        self._set_points()
        self._fill_legend()
        self._draw_ellipses()

    def _draw_ellipses(self) -> None:
        s = self.session
        shown = s.colouring.show_ellipses and s.colouring.mode in ("gmm-soft", "gmm-hard")
        # What the contours depend on. A followed epoch changes codes, mixture and colours at
        # once and each signal asks for them; drawn once, they cost its frame a third.
        key = (shown, s.colouring.mixture, s.view.projection, frozenset(s.colouring.hidden), s.colouring.colour_index.tobytes())
        last = self._ellipses_for
        if (last is not None and key[0] == last[0] and key[1] is last[1] and key[2] is last[2]
                and key[3:] == last[3:]):
            return
        self._ellipses_for = key
        contours = []
        if shown:
            for rgb, one, two in s.colouring.ellipses():
                darker = QColor(int(rgb[0]), int(rgb[1]), int(rgb[2])).darker(140)
                for polygon, style in ((one, Qt.PenStyle.SolidLine), (two, Qt.PenStyle.DashLine)):
                    pen = pg.mkPen(darker, width=2, style=style)
                    pen.setCosmetic(True)
                    contours.append((polygon, pen))
        self.contours.setData(contours)

    @property
    def ellipse_items(self) -> list:
        """The contours drawn (two per shown component: 1σ solid, 2σ dashed)."""
        return self.contours.contours

    def _fill_legend(self) -> None:
        self.legend.clear()
        entries = self.session.colouring.legend()
        self.legend.setVisible(bool(entries))
        for key, name, rgb in entries:
            swatch = QPixmap(14, 14)
            swatch.fill(QColor(int(rgb[0]), int(rgb[1]), int(rgb[2])))
            item = QListWidgetItem(QIcon(swatch), name)
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setCheckState(
                Qt.CheckState.Unchecked if key in self.session.colouring.hidden else Qt.CheckState.Checked
            )
            self.legend.addItem(item)

    def _legend_clicked(self, item: QListWidgetItem) -> None:
        self.session.colouring.toggle_group(int(item.data(Qt.ItemDataRole.UserRole)))

    @staticmethod
    def _overlay(item, x, y) -> None:
        """Set an overlay's points; an empty one is hidden, so the scene skips it when it
        looks for items under the cursor."""
        item.setData(x, y)
        item.setVisible(len(x) > 0)

    def _draw_selection(self) -> None:
        """The ring around the selected item and the marker at z, as the session has them now."""
        self._show_selection(self.session.selection.selected)
        self._show_marker(self.session.selection.z)

    def _show_selection(self, index: int) -> None:
        xy = self.session.view.xy
        if index == self._ringed[0] and xy is self._ringed[1]:
            return  # a slider move re-reads the same selection: the ring stays where it is
        self._ringed = (index, xy)
        if index < 0 or index >= len(xy):
            self._overlay(self.highlight, [], [])
        else:
            x, y = xy[index]
            self._overlay(self.highlight, [x], [y])

    def _show_matches(self, indices) -> None:
        self._matches = indices
        xy = np.zeros((0, 2)) if indices is None else self.session.view.xy[indices]
        self._overlay(self.matches, xy[:, 0], xy[:, 1])

    def _show_marker(self, z) -> None:
        if z is None or self.session.view.projection is None:
            self._overlay(self.marker, [], [])
            return
        x, y = self.session.view.projection.transform(np.asarray(z, float))
        self._overlay(self.marker, [x], [y])

    def _show_path(self, xy) -> None:
        xy = np.zeros((0, 2)) if xy is None else xy
        self._overlay(self.path_line, xy[:, 0], xy[:, 1])
        self._overlay(self.path_frames, xy[:, 0], xy[:, 1])

    def _show_posterior(self, shape) -> None:
        """q(z|x) of the selected or drawn item: 1σ solid, 2σ dashed (hidden for an AE)."""
        for item, polygon in ((self.posterior_1s, None if shape is None else shape.one_sigma),
                              (self.posterior_2s, None if shape is None else shape.two_sigma)):
            polygon = np.zeros((0, 2)) if polygon is None else polygon
            self._overlay(item, polygon[:, 0], polygon[:, 1])

    def box_dragged(self, start: QPointF, end: QPointF, finished: bool) -> None:
        """Shift+drag: show the box; on release keep its items as a group."""
        rect = QRectF(start, end).normalized()
        self.box.setRect(rect)
        self.box.setVisible(not finished)
        if finished:
            kept = self.session.selection.add_box(np.array([start.x(), start.y()]), np.array([end.x(), end.y()]))
            self.box_selected.emit(kept)

    def _show_samples(self, xy) -> None:
        xy = np.zeros((0, 2)) if xy is None else xy
        self._overlay(self.prior_samples, xy[:, 0], xy[:, 1])

    # --- picking and gestures --------------------------------------------------------------

    def pick(self, pos: QPointF, radius_px: float = PICK_RADIUS_PX) -> int:
        """Index of the visible item nearest to a view position if within `radius_px` on screen."""
        xy = self.session.view.xy
        if len(xy) == 0:
            return -1
        if xy is not self._sorted_for:
            self._order = np.argsort(xy[:, 0], kind="stable")
            self._sorted_x = xy[self._order, 0]
            self._sorted_for = xy
        px, py = self.view_box.viewPixelSize()
        px, py = max(px, 1e-300), max(py, 1e-300)
        lo, hi = np.searchsorted(self._sorted_x, [pos.x() - radius_px * px, pos.x() + radius_px * px])
        candidates = self._order[lo:hi]
        if len(candidates) == 0:
            return -1
        dx = (xy[candidates, 0] - pos.x()) / px
        dy = (xy[candidates, 1] - pos.y()) / py
        d2 = dx * dx + dy * dy
        if self.session.colouring.hidden:
            d2 = np.where(self.session.colouring.visible()[candidates], d2, np.inf)
        best = int(np.argmin(d2))
        return int(candidates[best]) if d2[best] <= radius_px * radius_px else -1

    def eventFilter(self, watched, event) -> bool:
        """Select a point the moment it is pressed: pyqtgraph reports a click only on release,
        after searching its scene for items near the cursor (~10 ms). The press still goes on
        to pyqtgraph, so a drag from the point interpolates as before."""
        if (event.type() == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton
                and event.modifiers() == Qt.KeyboardModifier.NoModifier and self.session.opened.has_run
                and not self.lasso.active):  # with the lasso on, a press starts a loop: select on release
            scene_pos = self.plot.mapToScene(event.position().toPoint())
            self._pressed = -1
            if self.view_box.sceneBoundingRect().contains(scene_pos):
                self._pressed = self.pick(self.view_box.mapSceneToView(scene_pos))
                if self._pressed >= 0:
                    self.session.selection.select(self._pressed)
        return False

    def clicked(self, pos: QPointF) -> None:
        index = self.pick(pos)
        if index >= 0:
            if index != self._pressed:  # not already selected at the press
                self.session.selection.select(index)
        else:
            self.session.selection.decode_location(np.array([pos.x(), pos.y()]))
        self._pressed = -1

    def drag_started(self, index: int) -> None:
        if index != self._pressed:
            self.session.selection.select(index)
        self.session.selection.begin_interpolation(index)

    def drag_moved(self, pos: QPointF, finished: bool) -> None:
        """Keep only the latest position; decode once per event-loop pass (or now, on release)."""
        self._pending = (QPointF(pos), finished)
        if finished:
            self._coalesce.stop()
            self._flush_drag()
        elif not self._coalesce.isActive():
            self._coalesce.start()

    def _flush_drag(self) -> None:
        if self._pending is None:
            return
        pos, finished = self._pending
        self._pending = None
        target = self.pick(pos)
        self.decodes += 1
        if target >= 0:
            self.session.selection.interpolate_to(target, done=finished)
        else:
            self.session.selection.interpolate_to(np.array([pos.x(), pos.y()]), done=finished)

    def _mouse_moved(self, scene_pos) -> None:
        self._hover_pos = self.view_box.mapSceneToView(scene_pos)
        if not self._hover_timer.isActive():
            self._hover_timer.start()

    def _flush_hover(self) -> None:
        if self._hover_pos is None or not self.session.opened.has_run:
            return
        index = self.pick(self._hover_pos)
        self.hovered.emit(index)
        if index < 0:
            QToolTip.hideText()
            return
        QToolTip.showText(QCursor.pos(), self.tooltip_text(index), self.plot)

    def tooltip_text(self, index: int) -> str:
        s = self.session
        lines = [f"item {index}"]
        label = s.opened.label_of(index)
        if label:
            lines.append(f"label {label}")
        resp = s.colouring.responsibilities_of(index)
        if resp is not None:
            top = np.argsort(resp)[::-1][:4]
            lines.append(
                "responsibilities: "
                + ", ".join(f"c{i + 1} {resp[i]:.0%}" for i in top if resp[i] >= 0.005)
            )
        return "\n".join(lines)

    # --- coordinates, for tests and exports ------------------------------------------------

    def widget_pos_of(self, x: float, y: float) -> QPointF:
        """Where the data point (x, y) is in the plot's viewport (widget pixels)."""
        scene = self.view_box.mapViewToScene(QPointF(x, y))
        return QPointF(self.plot.mapFromScene(scene))
