"""Procedural dSprites-like images whose generative factors are known exactly.

The factor grid is dSprites' own (3 shapes × 6 scales × 40 orientations × 32 × 32
positions), so disentanglement results are comparable, but the images are drawn
here from implicit shape functions: no download, any resolution, and a shape's
pixels follow from its factors alone. Rendering is vectorised over chunks of
images, which keeps 100,000 32×32 images to a second or two and memory bounded.
"""

from __future__ import annotations

import numpy as np

from latentexplorer.data.base import Factors, ImageSet
from latentexplorer.errors import DataError

FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
SHAPES = ("square", "ellipse", "heart")
SCALES = np.linspace(0.5, 1.0, 6)
# dSprites' 40 orientations include both 0 and 2π; kept so the grid matches exactly.
ORIENTATIONS = np.linspace(0.0, 2.0 * np.pi, 40)
POSITIONS = np.linspace(0.0, 1.0, 32)
FACTOR_VALUES = (
    np.arange(len(SHAPES), dtype=np.float64),
    SCALES,
    ORIENTATIONS,
    POSITIONS,
    POSITIONS,
)
GRID_SHAPE = tuple(len(v) for v in FACTOR_VALUES)
GRID_SIZE = int(np.prod(GRID_SHAPE))  # 737,280

MIN_SIZE = 16
_UNIT = 0.2  # half the side of a scale-1 square, as a fraction of the image side
_ELLIPSE_AXES = (1.25, 0.62)  # unequal axes, so orientation is visible
_HEART_SIDE = 1.25  # side of the heart's diamond; its two lobes have diameter _HEART_SIDE
_CHUNK_PIXELS = 1 << 18  # pixels per rendering chunk: ~1 MB float32 temporaries stay in cache


def grid_indices(start: int = 0, stop: int | None = None) -> np.ndarray:
    """Factor indices of grid items `start..stop` in dSprites order (pos_y varies fastest)."""
    stop = GRID_SIZE if stop is None else stop
    if not 0 <= start <= stop <= GRID_SIZE:
        raise DataError(f"grid range {start}..{stop} is outside 0..{GRID_SIZE}")
    flat = np.arange(start, stop, dtype=np.int64)
    return np.stack(np.unravel_index(flat, GRID_SHAPE), axis=1).astype(np.int64)


def make_sprites(
    n: int | None = 50_000, size: int = 32, seed: int = 0, full: bool = False
) -> ImageSet:
    """dSprites-like images: the whole factor grid in grid order, or `n` seeded random items.

    A random item draws each factor index uniformly and independently, so the same
    `seed` always gives the same images. `n=None` means 50,000; `full` ignores `n`.
    pos_x grows rightwards, pos_y downwards (like image rows), and orientation turns
    the shape anticlockwise on screen.
    """
    if full:
        indices = grid_indices()
    else:
        n = 50_000 if n is None else int(n)
        if n < 1:
            raise DataError(f"number of sprites must be positive, got {n}")
        rng = np.random.default_rng(seed)
        indices = np.stack([rng.integers(0, k, size=n) for k in GRID_SHAPE], axis=1)
    images = render_sprites(indices, size)
    return ImageSet(
        images=images,
        name="sprites",
        labels=indices[:, 0].copy(),
        class_names=SHAPES,
        factors=Factors(indices=indices, names=FACTOR_NAMES, values=FACTOR_VALUES),
        meta={"size": size, "seed": None if full else seed, "full": full, "grid": GRID_SHAPE},
    )


def render_sprites(indices: np.ndarray, size: int = 32) -> np.ndarray:
    """Draw the sprites for factor `indices` (N×5) as uint8 N×1×size×size (0 background, 255 shape).

    Public so that a viewer can draw any factor combination, not only the sampled ones.
    """
    size = int(size)
    if size < MIN_SIZE:
        raise DataError(f"sprite images must be at least {MIN_SIZE} px, got {size}")
    indices = np.asarray(indices)
    if indices.ndim != 2 or indices.shape[1] != len(GRID_SHAPE):
        raise DataError(f"sprite factor indices must be N×{len(GRID_SHAPE)}, got {indices.shape}")
    if len(indices) and ((indices < 0).any() or (indices.max(axis=0) >= GRID_SHAPE).any()):
        raise DataError(f"sprite factor indices must lie within the grid {GRID_SHAPE}")

    out = np.empty((len(indices), 1, size, size), dtype=np.uint8)
    chunk = max(1, _CHUNK_PIXELS // (size * size))
    for start in range(0, len(indices), chunk):
        block = indices[start : start + chunk]
        view = out[start : start + chunk, 0]
        for shape in range(len(SHAPES)):
            rows = np.flatnonzero(block[:, 0] == shape)
            if len(rows):
                view[rows] = _render_shape(shape, block[rows], size)
    return out


def _render_shape(shape: int, idx: np.ndarray, size: int) -> np.ndarray:
    """Coverage of one shape for a batch of items, as uint8 n×size×size.

    Each shape is a signed distance `d` (negative inside) in shape units; coverage is
    `0.5 - d` measured in pixels, clipped, which gives a one-pixel anti-aliased edge.
    """
    scale = SCALES[idx[:, 1]]
    theta = ORIENTATIONS[idx[:, 2]]
    # Centres keep the widest shape (a scale-1 square at 45°) and its soft edge inside.
    margin = np.sqrt(2.0) * _UNIT + 1.0 / size
    cx = margin + POSITIONS[idx[:, 3]] * (1.0 - 2.0 * margin)
    cy = margin + POSITIONS[idx[:, 4]] * (1.0 - 2.0 * margin)  # pos_y grows downwards, like rows

    # Rotating by -theta in a y-up frame, then dividing by the scale, gives shape coordinates.
    unit = _UNIT * scale  # image fraction per shape unit
    cos = (np.cos(theta) / unit).astype(np.float32)[:, None, None]
    sin = (np.sin(theta) / unit).astype(np.float32)[:, None, None]
    grid = ((np.arange(size) + 0.5) / size).astype(np.float32)
    dx = grid[None, None, :] - cx.astype(np.float32)[:, None, None]  # n×1×W
    dy = cy.astype(np.float32)[:, None, None] - grid[None, :, None]  # n×H×1, y up
    u = cos * dx + sin * dy
    v = cos * dy - sin * dx

    if shape == 0:
        d = _square(u, v)
    elif shape == 1:
        d = _ellipse(u, v)
    else:
        d = _heart(u, v)

    pixels_per_unit = (unit * size).astype(np.float32)[:, None, None]
    d *= -pixels_per_unit
    d += 0.5
    np.clip(d, 0.0, 1.0, out=d)
    d *= 255.0
    d += 0.5  # round to nearest on the cast
    return d.astype(np.uint8)


def _square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Square of half-side 1."""
    return _box(np.abs(u), np.abs(v), 1.0)


def _box(p: np.ndarray, q: np.ndarray, half: float) -> np.ndarray:
    """Exact distance to a square of half-side `half`, given |u| and |v| (which it overwrites).

    Exact rather than the cheaper max(|u|, |v|) - half, which underestimates beyond
    corners: a 45° square's corner would then bleed onto the image border.
    """
    p -= half
    q -= half
    inside = np.maximum(p, q)
    np.minimum(inside, 0.0, out=inside)
    np.maximum(p, 0.0, out=p)
    np.maximum(q, 0.0, out=q)
    d = np.hypot(p, q, out=p)
    d += inside
    return d


def _ellipse(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Ellipse with unequal axes; distance along the ray from the centre (cheap, close at edges)."""
    a, b = _ELLIPSE_AXES
    r = np.hypot(u, v)
    q = np.hypot(u * (1.0 / a), v * (1.0 / b))
    # On the ray through a point, the boundary sits at r / q, so the distance is r * (1 - 1 / q).
    q += 1e-6
    d = r / q
    np.subtract(r, d, out=d)
    return d


def _heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Heart = a diamond plus two discs on its upper edges: a deep notch and a sharp tip.

    Built from exact distances (unlike the sextic heart curve) so its edge is
    anti-aliased evenly, and the notch and tip survive at 16 px.
    """
    side = _HEART_SIDE
    half = side / 2.0
    lobe = side / (2.0 * np.sqrt(2.0))  # lobe centres: midpoints of the diamond's upper edges
    # Centre the heart: it spans -side/√2 (tip) to lobe + half (top of the lobes).
    v = v + np.float32((lobe + half - side / np.sqrt(2.0)) / 2.0)
    s = np.float32(1.0 / np.sqrt(2.0))
    d = _box(np.abs((u + v) * s), np.abs((u - v) * s), half)
    vl = v - np.float32(lobe)
    np.minimum(d, np.hypot(u - np.float32(lobe), vl) - half, out=d)
    np.minimum(d, np.hypot(u + np.float32(lobe), vl) - half, out=d)
    return d
