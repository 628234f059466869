"""Each visible point drawn as its own image when zoomed in (the Embedding Projector's sprites).

Thumbnails show only where they can be told apart: when at most `DENSE` points are in view
and the median distance from a visible point to its nearest visible neighbour is at least
`APART` thumbnails on screen. Then the `CAP` points nearest the view's centre are drawn as
images of `THUMB_PX` pixels, centred on their points; zooming out past that returns to dots.
The test is a numpy mask over the projected points (a few ms at a million) and a k-d tree
over the few in view, run once per event-loop pass of range changes; the images come from
the data (`display_images`: a drawing for pen trajectories) and are kept per item.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRect, QRectF, Qt
from PySide6.QtGui import QImage, QPainter, QPen

from latentexplorer.analysis.atlas import to_rgb8
from latentexplorer.gui.explorer.view_layer import ItemLayer
from latentexplorer.gui.state.layers import THUMBNAILS
from latentexplorer.gui.state.session import Session
from latentexplorer.gui.widgets.images import display_images

THUMB_PX = 40
"""A thumbnail's size on screen, in pixels."""
CAP = 300
"""At most this many thumbnails at once (those nearest the view's centre)."""
DENSE = 4 * CAP
"""More points than this in view: dots, without measuring how far apart they are."""
APART = 0.6
"""The median nearest-neighbour distance on screen, in thumbnail sizes, at which they show."""
KEPT_IMAGES = 4 * CAP
Z_VALUE = 4  # above the points (0), under the ellipses (5) and the selection's ring (10)


class ThumbnailsItem(pg.GraphicsObject):
    """Images of a fixed size in pixels, centred on points in view coordinates."""

    def __init__(self) -> None:
        super().__init__()
        self.xy = np.zeros((0, 2))
        self.images: list[QImage] = []
        self._bounds = QRectF()

    def __len__(self) -> int:
        return len(self.images)

    def set_thumbnails(self, xy: np.ndarray, images: list[QImage]) -> None:
        self.prepareGeometryChange()
        self.xy, self.images = np.asarray(xy, float).reshape(-1, 2), list(images)
        if len(self.xy):
            lo, hi = self.xy.min(0), self.xy.max(0)
            self._bounds = QRectF(lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])
        else:
            self._bounds = QRectF()
        self.update()

    def boundingRect(self) -> QRectF:
        if not self.images:
            return QRectF()
        pad_x, pad_y = (THUMB_PX / 2 + 2) * (self.pixelWidth() or 0.0), (THUMB_PX / 2 + 2) * (self.pixelHeight() or 0.0)
        return self._bounds.adjusted(-pad_x, -pad_y, pad_x, pad_y)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()  # the padding, in pixels, is another size in the view

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not self.images:
            return
        t = painter.transform()
        left = np.rint(self.xy[:, 0] * t.m11() + t.dx() - THUMB_PX / 2).astype(int)
        top = np.rint(self.xy[:, 1] * t.m22() + t.dy() - THUMB_PX / 2).astype(int)
        painter.save()
        painter.resetTransform()
        painter.setPen(QPen(Qt.GlobalColor.darkGray, 1))
        for image, x, y in zip(self.images, left.tolist(), top.tolist()):
            # small images stay crisp blocks, larger ones (drawn strokes) are shrunk smoothly
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, image.width() > THUMB_PX)
            target = QRect(x, y, THUMB_PX, THUMB_PX)
            painter.drawImage(target, image)
            painter.drawRect(target.adjusted(0, 0, -1, -1))
        painter.restore()


class ThumbnailLayer(ItemLayer):
    """Zoomed in far enough that points are apart, each is drawn as its image."""

    name = THUMBNAILS

    def __init__(self, session: Session, scatter, parent: QObject | None = None) -> None:
        super().__init__(session, scatter, ThumbnailsItem(), Z_VALUE, parent)
        self.shown = np.zeros(0, np.int64)  # the items drawn as images
        self._images: OrderedDict[int, QImage] = OrderedDict()
        session.colouring.coloursChanged.connect(self._changed)  # a group hidden or shown
        session.opened.codesUpdated.connect(self._changed)

    @property
    def on(self) -> bool:
        return self.session.layers.is_on(THUMBNAILS) and self.session.opened.has_run

    def _toggled(self, _on: bool) -> None:
        self.refresh()

    def _run_changed(self) -> None:
        self._images.clear()  # other items
        self._changed()

    def chosen(self) -> np.ndarray:
        """The items to draw as images for the view as it is now (empty: dots)."""
        xy = self.session.view.xy
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        ux, uy = self.view_box.viewPixelSize()
        if len(xy) == 0 or not ux > 0 or not uy > 0:
            return np.zeros(0, np.int64)
        x, y = xy[:, 0], xy[:, 1]
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        if self.session.colouring.hidden:
            inside &= self.session.colouring.visible()
        index = np.flatnonzero(inside)
        if len(index) == 0 or len(index) > DENSE:
            return np.zeros(0, np.int64)
        pixels = (xy[index] - (x0, y0)) / (ux, uy)
        if len(index) > 1:
            from scipy.spatial import cKDTree

            nearest, _ = cKDTree(pixels).query(pixels, k=2)
            if np.median(nearest[:, 1]) < APART * THUMB_PX:
                return np.zeros(0, np.int64)
        if len(index) > CAP:
            centre = ((x1 - x0) / ux / 2, (y1 - y0) / uy / 2)
            d = ((pixels - centre) ** 2).sum(1)
            index = np.sort(index[np.argsort(d, kind="stable")[:CAP]])
        return index

    def refresh(self) -> None:
        """Draw the chosen items as images, or nothing."""
        self._refresh.stop()
        index = self.chosen() if self.on else np.zeros(0, np.int64)
        self.shown = index
        self.item.set_thumbnails(self.session.view.xy[index] if len(index) else np.zeros((0, 2)),
                                 self._images_of(index))
        self.item.setOpacity(self.session.layers.opacity[THUMBNAILS])
        self.item.setVisible(len(index) > 0)

    def _images_of(self, index: np.ndarray) -> list[QImage]:
        missing = np.array([i for i in index.tolist() if i not in self._images], np.int64)
        if len(missing):
            pixels = to_rgb8(display_images(self.session.opened.images, missing))
            for i, p in zip(missing.tolist(), pixels):
                p = np.ascontiguousarray(p)
                self._images[i] = QImage(p.data, p.shape[1], p.shape[0], p.strides[0],
                                         QImage.Format.Format_RGB888).copy()
        images = []
        for i in index.tolist():
            self._images.move_to_end(i)
            images.append(self._images[i])
        while len(self._images) > max(KEPT_IMAGES, len(index)):
            self._images.popitem(last=False)
        return images

    def shown_images(self) -> list[np.ndarray]:
        """The images drawn (H×W×3 uint8), in the order of `shown` (tests)."""
        out = []
        for image in self.item.images:
            converted = image.convertToFormat(QImage.Format.Format_RGB888)
            h, w, stride = converted.height(), converted.width(), converted.bytesPerLine()
            rows = np.frombuffer(converted.constBits(), np.uint8, count=h * stride).reshape(h, stride)
            out.append(rows[:, : 3 * w].reshape(h, w, 3).copy())
        return out
