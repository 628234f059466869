"""The decoded atlas under the scatter's points: the visible region tiled with decodes.

The layout (a level-of-detail ladder, integer tile centres) and the cache are
`analysis.atlas`'s. On every range change (coalesced to one per event-loop pass) the layer
draws the tiles it has at once; the missing ones (visible first, nearest the centre first,
then a ring around the view) are decoded in the task "atlas", in batches that arrive one by
one. A new range cancels that task after its current batch and asks again, so at most one
decode runs and pan and zoom never wait for the decoder. While a zoom's finer tiles decode,
the tiles drawn before stay underneath, so the map refines instead of flashing blank. Tiles
are drawn upright at whole device pixels (neighbours share their edges, no seams), without
smoothing, so each pixel of a decode shows as a crisp block, with a pixel's gap between tiles
(abutting decodes of small images run into each other).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRect, QRectF
from PySide6.QtGui import QImage, QPainter

from latentexplorer.analysis import atlas
from latentexplorer.gui.explorer.view_layer import ItemLayer
from latentexplorer.gui.state.layers import ATLAS
from latentexplorer.gui.state.session import Session
from latentexplorer.gui.tasks import Task, TaskContext

Z_VALUE = -10  # under the points (0) and the mixture's ellipses (5)
GAP_PX, GAP_FROM_PX = 1, 24  # a line between tiles of 24 px and more, so images read apart


def rgb_image(pixels: np.ndarray) -> QImage:
    """An H×W×3 uint8 array as a QImage that owns its pixels."""
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    return QImage(pixels.data, w, h, pixels.strides[0], QImage.Format.Format_RGB888).copy()


def device_rects(cells: np.ndarray, painter: QPainter) -> np.ndarray:
    """K×4 cells (x0, x1, y0, y1) in item coordinates → (left, top, right, bottom) whole device
    pixels, normalised (the view's y axis points up)."""
    t = painter.transform()
    xs = np.rint(cells[:, :2] * t.m11() + t.dx())
    ys = np.rint(cells[:, 2:] * t.m22() + t.dy())
    return np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], axis=1).astype(np.int64)


class TilesItem(pg.GraphicsObject):
    """Images in view-coordinate cells, drawn upright in device pixels, one layer of them
    after the other (the tiles drawn before, then the view's own)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers: list[tuple[np.ndarray, list[QImage]]] = []  # (cells K×4, images), in order
        self._bounds = QRectF()

    def set_tiles(self, *layers: tuple[np.ndarray, list[QImage]]) -> None:
        self.prepareGeometryChange()
        self.layers = [(c, im) for c, im in layers if len(im)]
        if self.layers:
            every = np.concatenate([c for c, _ in self.layers])
            x0, x1 = float(every[:, 0].min()), float(every[:, 1].max())
            y0, y1 = float(every[:, 2].min()), float(every[:, 3].max())
            self._bounds = QRectF(x0, y0, x1 - x0, y1 - y0)
        else:
            self._bounds = QRectF()
        self.update()

    def __len__(self) -> int:
        return sum(len(im) for _, im in self.layers)

    def boundingRect(self) -> QRectF:
        return QRectF(self._bounds)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not self.layers:
            return
        rects = [device_rects(c, painter) for c, _ in self.layers]
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        for (_, images), rect in zip(self.layers, rects):
            for image, (left, top, right, bottom) in zip(images, rect.tolist()):
                gap = GAP_PX if right - left >= GAP_FROM_PX else 0
                painter.drawImage(QRect(left, top, right - left - gap, bottom - top - gap), image)
        painter.restore()


def _cache_key(context: int, key: atlas.TileKey) -> tuple:
    return (context, *atlas.canonical(key))


def decode_task(model, zs: np.ndarray, keys: list, task: TaskContext) -> int:
    """Decode the tiles `keys` (at `zs`) in growing batches, each sent to the GUI with its
    keys as it is done; stops between batches once cancelled (a newer view wants others)."""
    done = 0
    for start, stop, tiles in atlas.decode_batches(model, zs):
        task.send((keys[start:stop], tiles))
        done = stop
        task.check()
    return done


class AtlasLayer(ItemLayer):
    """Decoded images of the visible region, under the points."""

    name = ATLAS

    def __init__(self, session: Session, scatter, parent: QObject | None = None) -> None:
        super().__init__(session, scatter, TilesItem(), Z_VALUE, parent)
        self._backdrop: tuple = ()  # the last complete drawing: (cells, images, level, context)
        self.cache = atlas.TileCache()
        self.decoded = 0  # tiles decoded so far (tests, benchmarks)
        self.grid: atlas.TileGrid | None = None  # the level and tiles of the view
        self._context = -1  # what the shown tiles' decodes depend on (see _context_now)
        self._contexts: dict[tuple, int] = {}
        self._model, self._model_generation = None, 0
        self._shown: tuple[list, list] = ([], [])  # keys and cached tiles drawn at the view's level
        self._task: Task | None = None
        self._task_keys: set = set()  # cache keys the running task will still bring
        self._task_context = -1
        self._again = False  # ask again once the running task has stopped
        self._failed: int | None = None  # a context whose decode failed: not tried again
        session.opened.codesUpdated.connect(self._model_moved_on)
        session.selection.selectionChanged.connect(self._selection_changed)
        scatter.installEventFilter(self)  # hidden (another tab, closed) it starts no work: see refresh

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Show:
            self._changed()  # what changed while another tab was shown
        return False

    @property
    def on(self) -> bool:
        o = self.session.opened
        return (self.session.layers.is_on(ATLAS) and o.has_run and o.has_decoder
                and self.session.view.projection is not None)

    # --- following the view ----------------------------------------------------------------

    def _toggled(self, on: bool) -> None:
        if on:
            self.refresh()
        else:
            self._stop()

    def _run_changed(self) -> None:
        self._backdrop = ()  # another model's images are no stand-in
        self._model_moved_on()

    def _model_moved_on(self) -> None:
        """New weights, perhaps in the same module object (a model in training, a user's own
        model shown again): no tile decoded before is this model's."""
        self._model_generation += 1
        self._changed()

    def _selection_changed(self, _index: int) -> None:
        if self.session.opened.latent_dim > 2:  # the hidden coordinates come from the selection
            self._changed()

    def _stop(self) -> None:
        """Off: nothing drawn, nothing decoding."""
        self._refresh.stop()
        if self._task is not None:
            self._task.cancel()
        self._again = False
        self._shown, self._backdrop, self.grid = ([], []), (), None
        self.item.set_tiles()
        self.item.setVisible(False)

    def _context_now(self) -> int:
        """A small number naming what a tile's decode depends on besides its place: the model
        (a new snapshot is a new model), the projection's inverse and, for latents of more than
        two dimensions, the hidden coordinates (those of the selected item's μ, or the mean)."""
        o, projection = self.session.opened, self.session.view.projection
        if o.model is not self._model:
            self._model, self._model_generation = o.model, self._model_generation + 1
        hidden = self.session.selection.to_latent(np.zeros(2)).tobytes() if o.latent_dim > 2 else b""
        raw = (self._model_generation, projection.matrix.tobytes(), projection.offset.tobytes(), hidden)
        return self._contexts.setdefault(raw, len(self._contexts))

    def refresh(self) -> None:
        """Draw the tiles of the visible region that are decoded, and ask for the others."""
        self._refresh.stop()
        if not self.on:
            self._stop()
            return
        if not self.scatter.isVisible():  # another tab, or the window closed: until it shows
            return
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        grid = atlas.tile_grid((x0, x1, y0, y1), self.view_box.viewPixelSize())
        if grid is None:
            return
        context = self._context_now()
        found = [(k, self.cache.get(_cache_key(context, k))) for k in grid.in_rows()]
        keys = [k for k, tile in found if tile is not None]
        tiles = [tile for _, tile in found if tile is not None]
        self.grid, self._context, self._shown = grid, context, (keys, tiles)
        over = (atlas.cells(keys), [t[1] for t in tiles], grid.level, context)
        if len(keys) == len(grid):
            self._backdrop = over
            self.item.set_tiles(over[:2])
        elif self._backdrop and self._backdrop[2:] != over[2:]:
            self.item.set_tiles(self._backdrop[:2], over[:2])  # the tiles before, until these come
        else:
            self.item.set_tiles(over[:2])
        self.item.setOpacity(self.session.layers.opacity[ATLAS])
        self.item.setVisible(True)
        if context != self._failed:
            centre = ((x0 + x1) / 2, (y0 + y1) / 2)
            wanted = atlas.wanted_order(grid, centre)
            self._request(context, [k for k in wanted if _cache_key(context, k) not in self.cache])

    def _request(self, context: int, missing: list) -> None:
        """Decode `missing` (in that order) in the task "atlas", unless the running task brings
        them already; a running task that does not is cancelled after its batch, and this is
        asked again when it has stopped (so one decode runs at a time)."""
        keys = [_cache_key(context, k) for k in missing]
        if self._task is not None:
            if not set(keys) <= self._task_keys:
                self._task.cancel()
                self._again = True
            return
        if not keys:
            return
        zs = self.session.selection.to_latent(atlas.centres(missing))
        # One torch thread: a team of two, with the GUI thread painting on the other core,
        # waited at every op for its second thread (a 128-tile MLP batch 0.3 → 12 ms).
        task = self.session.tasks.start(decode_task, self.session.opened.model, zs, keys,
                                        name="atlas", context=True, threads=1)
        self._task, self._task_keys, self._task_context, self._again = task, set(keys), context, False
        task.yielded.connect(self._arrived)
        task.failed.connect(self._decode_failed)
        task.finished.connect(self._task_finished)

    def _arrived(self, batch: tuple[list, np.ndarray]) -> None:
        keys, tiles = batch
        for key, tile in zip(keys, tiles):
            self.cache.put(key, (tile, rgb_image(tile)), 2 * tile.nbytes)
            self._task_keys.discard(key)
        self.decoded += len(keys)
        self._changed()

    def _decode_failed(self, message: str) -> None:
        self._failed = self._task_context
        self.session.report_error(f"the decoded atlas could not decode: {message}")

    def _task_finished(self) -> None:
        self._task, self._task_keys = None, set()
        if self._again:
            self._again = False
            self._changed()

    # --- what is shown, for tests and exports ---------------------------------------------

    @property
    def busy(self) -> bool:
        """Tiles are being decoded, or the view has changed and not been drawn yet."""
        return self._task is not None or self._refresh.isActive()

    @property
    def complete(self) -> bool:
        """Every tile of the view, as it is now, is drawn from a decode of this context."""
        return not self._refresh.isActive() and self.grid is not None and len(self._shown[0]) == len(self.grid)

    def tiles(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(centre (2,), H×W×3 uint8) of each tile drawn at the view's level, as on screen."""
        keys, tiles = self._shown
        return [(c, t[0]) for c, t in zip(atlas.centres(keys), tiles)]

    def mosaic(self) -> np.ndarray | None:
        """The tiles of the visible region as one H×W×3 uint8 image (None: nothing decoded).
        An export: tiles not decoded yet are decoded now."""
        if self.on:
            self.refresh()  # the view as it is now, should its change not be drawn yet
        if not self.on or self.grid is None:
            return None
        grid, context = self.grid, self._context
        keys = grid.in_rows()
        missing = [k for k in keys if _cache_key(context, k) not in self.cache]
        if missing:
            zs = self.session.selection.to_latent(atlas.centres(missing))
            keys_missing = [_cache_key(context, k) for k in missing]
            for start, stop, tiles in atlas.decode_batches(self.session.opened.model, zs, first=256):
                self._arrived((keys_missing[start:stop], tiles))
        tiles = [self.cache.get(_cache_key(context, k)) for k in keys]
        return atlas.mosaic([None if t is None else t[0] for t in tiles], grid.shape)

    def screen_rect_of(self, centre: np.ndarray) -> QRectF:
        """Where the tile centred at `centre` is drawn, in the plot's viewport pixels."""
        sx, sy = self.grid.spacing
        corners = [self.scatter.widget_pos_of(centre[0] + dx * sx / 2, centre[1] + dy * sy / 2)
                   for dx, dy in ((-1, -1), (1, 1))]
        return QRectF(QPointF(corners[0]), QPointF(corners[1])).normalized()
