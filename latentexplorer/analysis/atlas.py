"""The decoded atlas: a grid of decoder images over the visible region of a 2-D view.

The Kingma & Welling manifold figure, but for any view and zoom. Tiles sit on a level-of-detail
ladder: at level (a, b) the spacing is (2**a, 2**b) latent units and tile (i, j) is centred at
(i·2**a, j·2**b). Quantised spacings and integer centres make a pan reuse the tiles already
decoded (only the new edge is missing) and a zoom by 2× land on the next level, whose every
other tile is a tile the coarser level lacked: the map refines. The level of each axis is the one
whose spacing on screen is nearest `TARGET_PX` pixels (between ~34 and ~68 px, so a tile shows a
decoded image at about its own resolution). Nothing here knows Qt: the GUI layer asks for the
grid of its view, decodes the missing tiles (visible first, nearest the centre first) with
`decode_batches` in a task and keeps them in a `TileCache` under their `canonical` names.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass

import numpy as np

TARGET_PX = 48.0
"""Tile spacing on screen that the level ladder aims at (a level is the power of 2 nearest it)."""
MAX_TILES = 2500
"""At most this many tiles in view: a huge viewport takes the next coarser level instead."""
CACHE_BYTES = 96 * 2**20
"""Decoded tiles kept (least recently used go first): ~8,000 tiles of 64×64 RGB."""

TileKey = tuple[int, int, int, int]
"""(level x, level y, i, j): the tile centred at (i·2**level_x, j·2**level_y)."""


def level_for(units_per_px: float, target_px: float = TARGET_PX) -> int:
    """The ladder's level whose spacing, 2**level latent units, is nearest `target_px` pixels."""
    return int(round(math.log2(max(units_per_px * target_px, 1e-300))))


@dataclass(frozen=True)
class TileGrid:
    """The tiles whose cells meet a rectangle: columns i0..i1 and rows j0..j1 (inclusive) at
    one level of the ladder."""

    level: tuple[int, int]
    columns: tuple[int, int]
    rows: tuple[int, int]

    @property
    def spacing(self) -> tuple[float, float]:
        return 2.0 ** self.level[0], 2.0 ** self.level[1]

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return self.rows[1] - self.rows[0] + 1, self.columns[1] - self.columns[0] + 1

    def __len__(self) -> int:
        rows, columns = self.shape
        return rows * columns

    def in_rows(self) -> list[TileKey]:
        """Every tile, top row (highest y) first, left to right: the mosaic's order."""
        a, b = self.level
        return [(a, b, i, j) for j in range(self.rows[1], self.rows[0] - 1, -1)
                for i in range(self.columns[0], self.columns[1] + 1)]

    def nearest_first(self, centre: tuple[float, float]) -> list[TileKey]:
        """Every tile, nearest to `centre` first (distance in tiles, so about in pixels):
        what the user looks at is decoded first."""
        keys = self.in_rows()
        if not keys:
            return []
        ij = np.array([k[2:] for k in keys], np.float64)
        sx, sy = self.spacing
        d = (ij[:, 0] - centre[0] / sx) ** 2 + (ij[:, 1] - centre[1] / sy) ** 2
        return [keys[k] for k in np.argsort(d, kind="stable")]

    def grown(self, ring: int = 1) -> TileGrid:
        """The grid with `ring` more tiles on each side (decoded after the visible ones, so a
        short pan finds its tiles ready)."""
        return TileGrid(self.level, (self.columns[0] - ring, self.columns[1] + ring),
                        (self.rows[0] - ring, self.rows[1] + ring))

    def __contains__(self, key: object) -> bool:
        return (isinstance(key, tuple) and len(key) == 4 and key[:2] == self.level
                and self.columns[0] <= key[2] <= self.columns[1] and self.rows[0] <= key[3] <= self.rows[1])


def centres(keys: list[TileKey]) -> np.ndarray:
    """K×2 tile centres in view coordinates."""
    k = np.array(keys, np.float64).reshape(-1, 4)
    return np.stack([k[:, 2] * 2.0 ** k[:, 0], k[:, 3] * 2.0 ** k[:, 1]], axis=1)


def _reduced(level: int, i: int) -> tuple[int, int]:
    if i == 0:
        return (0, 0)
    while i % 2 == 0:
        level, i = level + 1, i // 2
    return level, i


def canonical(key: TileKey) -> TileKey:
    """One name per tile centre, whatever the level it was asked at: (2a, 2i) is the centre of
    (a + 1, i). A decode depends on the centre alone, so a zoom in reuses a quarter of its
    tiles (every other row and column) and a zoom out all of them."""
    (a, i), (b, j) = _reduced(key[0], key[2]), _reduced(key[1], key[3])
    return a, b, i, j


def cells(keys: list[TileKey]) -> np.ndarray:
    """K×4 cells (x0, x1, y0, y1) in view coordinates: each tile's centre ± half its spacing.
    Neighbours share their edge exactly ((i + ½)·s is the next tile's (i + 1 − ½)·s)."""
    k = np.array(keys, np.float64).reshape(-1, 4)
    sx, sy = 2.0 ** k[:, 0], 2.0 ** k[:, 1]
    return np.stack([(k[:, 2] - 0.5) * sx, (k[:, 2] + 0.5) * sx,
                     (k[:, 3] - 0.5) * sy, (k[:, 3] + 0.5) * sy], axis=1)


def tile_grid(rect: tuple[float, float, float, float], units_per_px: tuple[float, float],
              target_px: float = TARGET_PX, max_tiles: int = MAX_TILES) -> TileGrid | None:
    """The grid of tiles meeting the view `rect` (x0, x1, y0, y1) whose pixels are
    `units_per_px` (x, y) latent units wide; None for an empty or degenerate view."""
    x0, x1, y0, y1 = rect
    ux, uy = units_per_px
    if not all(math.isfinite(v) for v in (*rect, ux, uy)) or x1 <= x0 or y1 <= y0 or ux <= 0 or uy <= 0:
        return None
    a, b = level_for(ux, target_px), level_for(uy, target_px)
    while True:
        sx, sy = 2.0**a, 2.0**b
        grid = TileGrid((a, b), (math.floor(x0 / sx + 0.5), math.ceil(x1 / sx - 0.5)),
                        (math.floor(y0 / sy + 0.5), math.ceil(y1 / sy - 0.5)))
        if len(grid) <= max_tiles:
            return grid
        a, b = a + 1, b + 1


def wanted_order(grid: TileGrid, centre: tuple[float, float], ring: int = 1) -> list[TileKey]:
    """The tiles to decode for a view: its own, nearest the centre first, then a ring around."""
    visible = grid.nearest_first(centre)
    if ring <= 0:
        return visible
    return visible + [k for k in grid.grown(ring).nearest_first(centre) if k not in grid]


def to_rgb8(images: np.ndarray) -> np.ndarray:
    """N×C×H×W floats in [0, 1] → N×H×W×3 uint8 (grey repeated), rounded as the GUI's
    `to_uint8` rounds one image, so a tile is the pixel-for-pixel picture of its decode."""
    images = np.asarray(images, np.float32)
    rgb = np.repeat(images, 3, axis=1) if images.shape[1] == 1 else images[:, :3]
    return np.clip(np.rint(rgb.transpose(0, 2, 3, 1) * 255), 0, 255).astype(np.uint8)


def decode_batches(model, zs: np.ndarray, first: int = 16, most: int = 256,
                   budget_s: float = 0.05) -> Iterator[tuple[int, int, np.ndarray]]:
    """(start, stop, tiles uint8) for the latent vectors `zs`, in batches that start at `first`
    tiles and double (up to `most`) while a batch takes under `budget_s`, halving when one
    takes over twice that: the first tiles show quickly, the rest go at a batch's efficiency,
    and a cancel waits at most about one budget even for a slow decoder (a sequence model).
    `model.mean(z)` is the decode (images in [0, 1], or a sequence model's drawn strokes), as
    `OpenedRun.decode` does it."""
    import time

    import torch

    start, size = 0, max(1, first)
    while start < len(zs):
        stop = min(len(zs), start + size)
        began = time.perf_counter()
        with torch.no_grad():
            images = model.mean(torch.as_tensor(zs[start:stop], dtype=torch.float32)).numpy()
        tiles = to_rgb8(images)
        took = time.perf_counter() - began
        yield start, stop, tiles
        if took < budget_s:
            size = min(most, size * 2)
        elif took > 2 * budget_s:
            size = max(1, size // 2)
        start = stop


def mosaic(tiles: list[np.ndarray | None], shape: tuple[int, int]) -> np.ndarray | None:
    """Tiles (H×W×3 uint8, top row first, None for a missing one: white) as one image."""
    present = [t for t in tiles if t is not None]
    if not present:
        return None
    h, w = present[0].shape[:2]
    rows, columns = shape
    out = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for n, tile in enumerate(tiles):
        if tile is not None and tile.shape[:2] == (h, w):
            r, c = divmod(n, columns)
            out[r * h:(r + 1) * h, c * w:(c + 1) * w] = tile[..., :3]
    return out


class TileCache:
    """Least-recently-used tiles under a byte budget, keyed by (context, *TileKey): the context
    names what a decode depends on besides the tile (model, projection, hidden coordinates),
    so tiles of another view or model are never shown for this one, and come back when it does."""

    def __init__(self, capacity_bytes: int = CACHE_BYTES) -> None:
        self.capacity = int(capacity_bytes)
        self.nbytes = 0
        self._items: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def get(self, key: Hashable) -> object | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: Hashable, value: object, nbytes: int) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.nbytes -= old[1]
        self._items[key] = (value, int(nbytes))
        self.nbytes += int(nbytes)
        while self.nbytes > self.capacity and len(self._items) > 1:
            _, (_, size) = self._items.popitem(last=False)
            self.nbytes -= size

    def clear(self) -> None:
        self._items.clear()
        self.nbytes = 0
