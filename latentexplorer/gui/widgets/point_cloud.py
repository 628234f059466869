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
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

MARKER_SIZE = 7  # apparent diameter of an isolated point, in pixels
_SIGMA = MARKER_SIZE / 3.3  # Gaussian spread whose 0.25-level ring has that diameter
_RADIUS = int(round(1.9 * _SIGMA))  # taps each side of the kernel (the edge is inside)
_KERNEL = np.exp(-0.5 * (np.arange(-_RADIUS, _RADIUS + 1) / _SIGMA) ** 2).astype(np.float32)
_EDGE = (0.2, 0.32)  # coverage over which a disc's edge fades in: the antialiasing
PAN_MARGIN = 0.15  # of the viewport's size, rendered on each side for large sets
PAN_MARGIN_FROM = 200_000  # points; smaller sets render a margin once the view is panned


ROW_BLOCK = 64
"""Output rows spread and finished at a time: every pass over a block stays in the core's
cache, where whole planes went out to memory on each of the ~30 passes (24 → 14 ms at 70k)."""


def _spread_into(planes: np.ndarray, out: np.ndarray, pair: np.ndarray) -> None:
    """Separable Gaussian of (channels, h + 2r, w + 2r) planes into `out` (channels, h, w),
    'valid' in both axes: the input carries `_RADIUS` pixels of margin on each side. The
    kernel is symmetric, so taps are paired (one multiply per pair), and every pass writes
    into `pair`, a reused buffer at least (channels, h + 2r, w)."""
    r = _RADIUS
    h, w = out.shape[1], out.shape[2]
    rows = np.multiply(planes[:, :, r : r + w], _KERNEL[r])
    taps = pair[:, : h + 2 * r, :w]
    for i in range(1, r + 1):
        np.add(planes[:, :, r - i : r - i + w], planes[:, :, r + i : r + i + w], out=taps)
        taps *= _KERNEL[r + i]
        rows += taps
    np.multiply(rows[:, r : r + h], _KERNEL[r], out=out)
    taps = pair[:, :h, :w]
    for i in range(1, r + 1):
        np.add(rows[:, r - i : r - i + h], rows[:, r + i : r + i + h], out=taps)
        taps *= _KERNEL[r + i]
        out += taps


def colour_weights(rgba: np.ndarray) -> list[np.ndarray]:
    """Per-point weights of the colour planes: r, g, b (times opacity), then the opacity
    itself when any point is translucent. Float64 and contiguous, as `np.bincount` wants
    them, and computed once per colouring, not per repaint."""
    opacity = rgba[:, 3].astype(np.float64) / 255.0
    faded = bool((opacity < 1.0).any())
    weights = [rgba[:, c].astype(np.float64) * (opacity if faded else 1.0) for c in range(3)]
    return weights + [opacity] if faded else weights


def rasterise(x: np.ndarray, y: np.ndarray, weights: list[np.ndarray], width: int,
              height: int) -> np.ndarray:
    """Premultiplied RGBA (height, width, 4) uint8 picture of points at device pixel
    coordinates (x, y), with `colour_weights` of their colours."""
    r = _RADIUS
    wp, hp = width + 2 * r, height + 2 * r
    image = np.zeros((height, width, 4), np.uint8)
    if len(x) == 0 or width <= 0 or height <= 0:
        return image
    inside = (x >= -r) & (x < width + r) & (y >= -r) & (y < height + r)
    with np.errstate(invalid="ignore"):  # NaN or far-off points: cast to junk, masked below
        px = (x + r).astype(np.int32)  # truncation is floor for the points inside (≥ 0)
        py = (y + r).astype(np.int32)
    if not inside.any():
        return image
    # Work only on the rows and columns the points reach. In these padded coordinates a
    # point at p paints device pixels p - 2r … p; the spread's output pixel j (device x0 + j)
    # reads planes x0 + j … x0 + j + 2r.
    shown_x, shown_y = px[inside], py[inside]
    x0, x1 = max(int(shown_x.min()) - 2 * r, 0), min(int(shown_x.max()) + 2 * r + 1, wp)
    y0, y1 = max(int(shown_y.min()) - 2 * r, 0), min(int(shown_y.max()) + 2 * r + 1, hp)
    bw, bh = x1 - x0, y1 - y0
    size = bw * bh  # < 2**31: a screen's pixels
    flat = (py - y0) * bw + (px - x0)
    flat = np.where(inside, flat, size)  # points off screen land in one extra bin, dropped
    faded = len(weights) == 4
    # Planes: point count, Σ colour (weighted by opacity), then Σ opacity when the points
    # have opacities, so a pixel shows the mean colour at the mean opacity around it.
    planes = np.empty((5 if faded else 4, bh, bw), np.float32)
    planes[0] = np.bincount(flat, minlength=size + 1)[:size].reshape(bh, bw)
    for c, w in enumerate(weights):
        planes[c + 1] = np.bincount(flat, weights=w, minlength=size + 1)[:size].reshape(bh, bw)
    # The spread's output is in device pixels from (x0, y0), the margin gone; the picture
    # gets the part of it inside the viewport, ROW_BLOCK rows at a time.
    ew = bw - 2 * r
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x0 + ew, width), min(y0 + bh - 2 * r, height)
    if cx1 <= cx0 or cy1 <= cy0:
        return image
    block = np.empty((len(planes), ROW_BLOCK, ew), np.float32)
    pair = np.empty((len(planes), ROW_BLOCK + 2 * r, ew), np.float32)
    alpha_rows = np.empty((ROW_BLOCK, ew), np.float32)
    scale_rows = np.empty((ROW_BLOCK, ew), np.float32)
    columns = slice(cx0 - x0, cx1 - x0)
    for top in range(cy0 - y0, cy1 - y0, ROW_BLOCK):
        n = min(ROW_BLOCK, cy1 - y0 - top)
        spread = block[:, :n]
        _spread_into(planes[:, top : top + n + 2 * r], spread, pair)
        coverage = spread[0]
        alpha = alpha_rows[:n]
        np.subtract(coverage, np.float32(_EDGE[0]), out=alpha)
        alpha *= np.float32(1.0 / (_EDGE[1] - _EDGE[0]))
        np.clip(alpha, 0.0, 1.0, out=alpha)
        denominator = spread[4] if faded else coverage
        if faded:  # × the mean opacity of the points around
            alpha *= np.divide(spread[4], coverage, out=np.zeros_like(coverage), where=coverage > 1e-6)
        scale = scale_rows[:n]
        scale.fill(0.0)
        np.divide(alpha, denominator, out=scale, where=denominator > 1e-6)
        colour = spread[1:4]
        colour *= scale  # premultiplied: mean colour × alpha
        np.minimum(colour, 255.0, out=colour)
        target = image[y0 + top : y0 + top + n, cx0:cx1]
        target[..., :3] = colour[:, :, columns].transpose(1, 2, 0)
        alpha *= 255.0
        target[..., 3] = alpha[:, columns]
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
        self._cache_origin = (0.0, 0.0)
        self._panned_at: tuple | None = None  # the scale key at which a small set was panned
        self._weights: list[np.ndarray] = []
        self._x = self._y = np.zeros(0, np.float32)
        self.renders = 0  # pictures computed (not blits), for benchmarks and tests

    def __len__(self) -> int:
        return len(self.xy)

    def setData(self, xy: np.ndarray, rgba: np.ndarray) -> None:
        """Show these points in these colours (a colour per point, or one for all)."""
        self.prepareGeometryChange()
        self.xy = np.ascontiguousarray(xy, dtype=np.float32).reshape(-1, 2)
        self._x, self._y = np.ascontiguousarray(self.xy[:, 0]), np.ascontiguousarray(self.xy[:, 1])
        rgba = np.asarray(rgba, np.uint8)
        self.rgba = np.broadcast_to(rgba, (len(self.xy), 4)) if rgba.ndim == 1 else rgba
        self._weights = colour_weights(self.rgba)
        if len(self.xy):  # per contiguous column: a reduction across N×2 rows is 50× slower
            x0, x1, y0, y1 = (float(f(a)) for a in (self._x, self._y) for f in (np.nanmin, np.nanmax))
            self._bounds = QRectF(x0, y0, x1 - x0, y1 - y0)
        else:
            self._bounds = QRectF()
        self._version += 1
        self.informViewBoundsChanged()
        self.update()

    # --- what the view box asks of its items ----------------------------------------------

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):
        if len(self.xy) == 0:
            return (None, None)
        column = self._y if ax else self._x
        if frac >= 1.0:
            return (float(np.nanmin(column)), float(np.nanmax(column)))
        return tuple(float(v) for v in np.nanpercentile(column, [50 * (1 - frac), 50 * (1 + frac)]))

    def pixelPadding(self) -> float:
        return float(_RADIUS + 1)

    def boundingRect(self) -> QRectF:
        if len(self.xy) == 0:
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
        # A margin around the viewport makes a pan within it a blit of the cached picture; the
        # render (tens of ms at a million) runs when the view leaves it. Large sets render it
        # from the start; smaller ones from their first pan at a scale, so a first draw or a
        # zoom pays only for the viewport, and a drag pays once, not on every move.
        scale_key = (self._version, t.m11(), t.m12(), t.m21(), t.m22(), width, height, ratio)
        ox, oy = t.dx() * ratio, t.dy() * ratio
        cached = self._cache_key
        if cached is not None and cached[:-2] == scale_key and (ox, oy) != self._cache_origin:
            self._panned_at = scale_key
        panning = len(self.xy) >= PAN_MARGIN_FROM or self._panned_at == scale_key
        margin = PAN_MARGIN if panning else 0.0
        mx, my = int(margin * width), int(margin * height)
        key = (*scale_key, mx, my)
        if key == self._cache_key:
            shift_x, shift_y = ox - self._cache_origin[0], oy - self._cache_origin[1]
            reusable = abs(shift_x) <= mx and abs(shift_y) <= my
        else:
            reusable = False
        if not reusable:
            x = self._x * np.float32(t.m11() * ratio) + np.float32(ox + mx)
            y = self._y * np.float32(t.m22() * ratio) + np.float32(oy + my)
            if t.m21() or t.m12():  # a rotated view (never in a plot, but be right)
                x += self._y * np.float32(t.m21() * ratio)
                y += self._x * np.float32(t.m12() * ratio)
            w, h = width + 2 * mx, height + 2 * my
            pixels = rasterise(x, y, self._weights, w, h)
            image = QImage(pixels.data, w, h, 4 * w, QImage.Format.Format_RGBA8888_Premultiplied)
            self._cache = image.copy()  # own the pixels: the numpy buffer goes away
            self._cache.setDevicePixelRatio(ratio)
            self._cache_key, self._cache_origin = key, (ox, oy)
            shift_x = shift_y = 0.0
            self.renders += 1
        painter.save()
        painter.resetTransform()
        painter.drawImage(QPointF((shift_x - mx) / ratio, (shift_y - my) / ratio), self._cache)
        painter.restore()


class ContoursItem(pg.GraphicsObject):
    """The mixture's 1σ/2σ ellipses, all in one item: pyqtgraph looks through every item
    under the cursor on each press, and twenty curve items made that a visible delay."""

    def __init__(self) -> None:
        super().__init__()
        self.contours: list[tuple[np.ndarray, QPen]] = []  # (polygon M×2, pen)
        self._paths: list[tuple[QPainterPath, QPen]] = []
        self._bounds = QRectF()
        self.setZValue(5)
        # Drawn into a cached pixmap: a click elsewhere repaints the view, not twenty paths.
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def __len__(self) -> int:
        return len(self.contours)

    def setData(self, contours: list[tuple[np.ndarray, QPen]]) -> None:
        self.prepareGeometryChange()
        self.contours = [(np.asarray(p, float), pen) for p, pen in contours]
        if self.contours:
            points = np.concatenate([p for p, _ in self.contours])
            lo, hi = np.nanmin(points, axis=0), np.nanmax(points, axis=0)
            self._bounds = QRectF(float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))
        else:
            self._bounds = QRectF()
        self._paths = [(_path(p), pen) for p, pen in self.contours]
        self.update()

    def boundingRect(self) -> QRectF:
        if not self.contours:
            return QRectF()
        px, py = self.pixelWidth() or 0.0, self.pixelHeight() or 0.0
        return self._bounds.adjusted(-3 * px, -3 * py, 3 * px, 3 * py)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for path, pen in self._paths:
            painter.setPen(pen)
            painter.drawPath(path)


def _path(polygon: np.ndarray) -> QPainterPath:
    """pyqtgraph's array-to-path: ~10× faster than a QPointF per vertex from Python."""
    return pg.arrayToQPath(polygon[:, 0], polygon[:, 1])
