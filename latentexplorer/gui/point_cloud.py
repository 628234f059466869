"""Every point of the latent scatter drawn as a raster, so a million soft-coloured points
redraw in tens of milliseconds.

pyqtgraph's ScatterPlotItem keeps one Python record and one brush per point: colouring a
million points by their GMM responsibilities cost seconds per change. Here each repaint
maps all points to device pixels with numpy, sums their colours and counts per pixel
(`np.bincount`), spreads the sums with a small separable Gaussian so an isolated point
becomes an antialiased disc of about `MARKER_SIZE` pixels, and divides: each pixel shows
the mean colour of the points around it, so dense regions blend the mixture's colours as
the responsibilities do. Nothing is subsampled; picking stays exact, done in numpy on the
coordinates by the scatter view. The picture is cached per (data, view transform, size),
so repaints for overlays (selection, marker, path) only blit it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter

MARKER_SIZE = 7  # apparent diameter of an isolated point, in pixels
_SIGMA = MARKER_SIZE / 3.3  # Gaussian spread whose 0.25-level ring has that diameter
_RADIUS = int(np.ceil(2.2 * _SIGMA))  # taps each side of the kernel
_KERNEL = np.exp(-0.5 * (np.arange(-_RADIUS, _RADIUS + 1) / _SIGMA) ** 2).astype(np.float32)
_EDGE = (0.2, 0.32)  # coverage over which a disc's edge fades in: the antialiasing


def _spread(planes: np.ndarray) -> np.ndarray:
    """Separable Gaussian over the last two axes of (channels, H, W), 'valid' in both:
    the input carries `_RADIUS` pixels of margin on each side."""
    k = len(_KERNEL)
    h, w = planes.shape[1] - k + 1, planes.shape[2] - k + 1
    rows = _KERNEL[0] * planes[:, :, 0:w]
    for i in range(1, k):
        rows += _KERNEL[i] * planes[:, :, i : i + w]
    out = _KERNEL[0] * rows[:, 0:h, :]
    for i in range(1, k):
        out += _KERNEL[i] * rows[:, i : i + h, :]
    return out


def rasterise(x: np.ndarray, y: np.ndarray, rgba: np.ndarray, width: int, height: int) -> np.ndarray:
    """Premultiplied RGBA (height, width, 4) uint8 picture of points at device pixel
    coordinates (x, y) with colours `rgba` (N×4 uint8)."""
    r = _RADIUS
    wp, hp = width + 2 * r, height + 2 * r
    image = np.zeros((height, width, 4), np.uint8)
    if len(x) == 0 or width <= 0 or height <= 0:
        return image
    inside = (x >= -r) & (x < width + r) & (y >= -r) & (y < height + r)
    if not inside.all():
        x, y, rgba = x[inside], y[inside], rgba[inside]
    px = (x + r).astype(np.int32)  # ≥ 0 here, so truncation is floor
    py = (y + r).astype(np.int32)
    if len(px) == 0:
        return image
    # Work only on the rows and columns the points reach.
    x0, x1 = max(int(px.min()) - r, 0), min(int(px.max()) + r + 1, wp)
    y0, y1 = max(int(py.min()) - r, 0), min(int(py.max()) + r + 1, hp)
    bw, bh = x1 - x0, y1 - y0
    flat = (py - y0) * bw + (px - x0)  # < 2**31: a screen's pixels
    size = bw * bh
    planes = np.empty((4, bh, bw), np.float32)
    planes[0] = np.bincount(flat, minlength=size).reshape(bh, bw)
    weights = rgba[:, :3].astype(np.float32)
    for c in range(3):
        planes[c + 1] = np.bincount(flat, weights=weights[:, c], minlength=size).reshape(bh, bw)
    spread = _spread(planes)  # (4, bh - 2r, bw - 2r), in device pixels from (x0, y0)
    coverage = spread[0]
    alpha = np.clip((coverage - _EDGE[0]) / (_EDGE[1] - _EDGE[0]), 0.0, 1.0)
    scale = np.divide(alpha, coverage, out=np.zeros_like(coverage), where=coverage > 1e-6)
    # Device rectangle of the spread block: x0..x1-2r, y0..y1-2r (the margin is gone).
    ox, oy = x0, y0
    ew, eh = spread.shape[2], spread.shape[1]
    cx0, cy0 = max(ox, 0), max(oy, 0)
    cx1, cy1 = min(ox + ew, width), min(oy + eh, height)
    if cx1 <= cx0 or cy1 <= cy0:
        return image
    sl = (slice(cy0 - oy, cy1 - oy), slice(cx0 - ox, cx1 - ox))
    target = image[cy0:cy1, cx0:cx1]
    s = scale[sl]
    for c in range(3):  # premultiplied: mean colour × alpha
        target[..., c] = np.minimum(spread[c + 1][sl] * s, 255.0)
    target[..., 3] = alpha[sl] * 255.0
    return image


class PointCloudItem(pg.GraphicsObject):
    """All points of the scatter (x, y in view coordinates, RGBA uint8 colours)."""

    def __init__(self) -> None:
        super().__init__()
        self.xy = np.zeros((0, 2), np.float32)
        self.rgba = np.zeros((0, 4), np.uint8)
        self._bounds = QRectF()
        self._version = 0
        self._cache_key: tuple | None = None
        self._cache: QImage | None = None
        self.renders = 0  # pictures computed (not blits), for benchmarks and tests

    def __len__(self) -> int:
        return len(self.xy)

    def setData(self, xy: np.ndarray, rgba: np.ndarray) -> None:
        """Show these points in these colours (a colour per point, or one for all)."""
        self.prepareGeometryChange()
        self.xy = np.ascontiguousarray(xy, dtype=np.float32).reshape(-1, 2)
        rgba = np.asarray(rgba, np.uint8)
        self.rgba = np.broadcast_to(rgba, (len(self.xy), 4)) if rgba.ndim == 1 else rgba
        if len(self.xy):
            lo, hi = self.xy.min(axis=0), self.xy.max(axis=0)
            self._bounds = QRectF(float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))
        else:
            self._bounds = QRectF()
        self._version += 1
        self.informViewBoundsChanged()
        self.update()

    # --- what the view box asks of its items ----------------------------------------------

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):
        if len(self.xy) == 0:
            return (None, None)
        column = self.xy[:, ax]
        if frac >= 1.0:
            return (float(column.min()), float(column.max()))
        return tuple(float(v) for v in np.percentile(column, [50 * (1 - frac), 50 * (1 + frac)]))

    def pixelPadding(self) -> float:
        return float(_RADIUS + 1)

    def boundingRect(self) -> QRectF:
        if self._bounds.isNull() and len(self.xy) == 0:
            return QRectF()
        px, py = self.pixelWidth() or 0.0, self.pixelHeight() or 0.0
        pad = _RADIUS + 2
        return self._bounds.adjusted(-pad * px, -pad * py, pad * px, pad * py)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()  # the pixel padding of the bounds changed

    # --- painting ----------------------------------------------------------------------------

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if len(self.xy) == 0 or widget is None:
            return
        t = painter.transform()
        ratio = widget.devicePixelRatioF()
        width, height = int(widget.width() * ratio), int(widget.height() * ratio)
        key = (self._version, t.m11(), t.m12(), t.m21(), t.m22(), t.dx(), t.dy(), width, height, ratio)
        if key != self._cache_key:
            x = self.xy[:, 0] * (t.m11() * ratio) + self.xy[:, 1] * (t.m21() * ratio) + t.dx() * ratio
            y = self.xy[:, 0] * (t.m12() * ratio) + self.xy[:, 1] * (t.m22() * ratio) + t.dy() * ratio
            pixels = rasterise(x, y, self.rgba, width, height)
            image = QImage(pixels.data, width, height, 4 * width, QImage.Format.Format_RGBA8888_Premultiplied)
            image.setDevicePixelRatio(ratio)
            self._cache = image.copy()  # own the pixels: the numpy buffer goes away
            self._cache_key = key
            self.renders += 1
        painter.save()
        painter.resetTransform()
        painter.drawImage(0, 0, self._cache)
        painter.restore()
