"""Pen trajectories: the outlines of the sprites' shapes drawn as sequences of 2-D points.

Each item is a closed outline (square, ellipse, heart) traced at a constant pen speed, so
its number of points follows from its shape and scale (16–44 points): the lengths vary,
and the generative factors (shape, scale, rotation, start point, direction) are known.
Items are stored padded as float32 N×1×T×F with F = (coordinates…, present): `present` is 1
on the item's own steps and 0 on the padding, so lengths need no separate array and the
record is an `ImageSet` the training loop batches unchanged. `display_batch` draws them.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentexplorer.config import ModelConfig
from latentexplorer.data.base import Factors, ImageSet
from latentexplorer.errors import DataError

FACTOR_NAMES = ("shape", "scale", "rotation", "start", "direction")
SHAPES = ("square", "ellipse", "heart")
SCALES = np.linspace(0.35, 0.85, 6)
ROTATIONS = np.arange(8) * (2.0 * np.pi / 8)
STARTS = np.arange(4) / 4.0
"""Where on the outline the pen starts, as a fraction of its perimeter."""
DIRECTIONS = np.array([1.0, -1.0])
"""+1 anticlockwise, −1 clockwise."""
FACTOR_VALUES = (np.arange(len(SHAPES), dtype=np.float64), SCALES, ROTATIONS, STARTS, DIRECTIONS)
GRID_SHAPE = tuple(len(v) for v in FACTOR_VALUES)

MAX_LENGTH = 48
MIN_LENGTH = 12
PEN_STEP = 0.11
"""Arc length between two points: larger shapes take more points."""
JITTER = 0.01
"""Standard deviation of the pen's noise, in frame units (the frame is [−1, 1]²)."""
DISPLAY_SIZE = 64
NPZ_EXTENT = 0.9
"""A user's sequences are scaled so that their largest |coordinate| is this."""

_DENSE = 720
_RAMP = np.array([[0.2, 0.55, 1.0], [0.85, 0.3, 0.95], [1.0, 0.6, 0.1]], np.float32)
"""Stroke colour from start (blue) through magenta to end (orange): the direction is visible."""


@dataclass(frozen=True)
class StrokeSet(ImageSet):
    """Sequences N×1×T×F (float32): coordinates, then a `present` flag per step.

    It is an ImageSet for everything that batches, splits and subsets items; what the GUI
    shows of an item comes from `display_batch`, a drawing of its trajectory.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.images.shape[1] != 1 or self.images.shape[3] < 3:
            raise DataError(f"sequences must be N×1×T×(coordinates + present), got {self.images.shape}")

    @property
    def sequences(self) -> np.ndarray:
        """N×T×F view: coordinates then the `present` flag."""
        return self.images[:, 0]

    @property
    def lengths(self) -> np.ndarray:
        return lengths_of(self.sequences)

    def display_batch(self, index: np.ndarray | slice) -> np.ndarray:
        """The trajectories at `index` drawn as RGB images N×3×64×64 in [0, 1]."""
        seqs = self.sequences[index]
        return render_strokes(seqs[..., :2], lengths_of(seqs), self.meta.get("display_size", DISPLAY_SIZE))


def lengths_of(sequences: np.ndarray) -> np.ndarray:
    """Number of present steps per sequence (N×T×F, last feature the present flag)."""
    return (np.asarray(sequences)[..., -1] > 0.5).sum(-1).astype(np.int64)


def pad_sequences(points: list[np.ndarray], max_length: int) -> np.ndarray:
    """Variable-length point arrays (L×D each) → float32 N×1×T×(D+1) with the present flag."""
    d = points[0].shape[1]
    out = np.zeros((len(points), 1, max_length, d + 1), np.float32)
    for i, p in enumerate(points):
        out[i, 0, : len(p), :d] = p
        out[i, 0, : len(p), d] = 1.0
    return out


def make_strokes(n: int = 10_000, seed: int = 0) -> StrokeSet:
    """`n` seeded outlines, each factor drawn uniformly and independently."""
    n = int(n)
    if n < 1:
        raise DataError(f"number of strokes must be positive, got {n}")
    rng = np.random.default_rng(seed)
    indices = np.stack([rng.integers(0, k, size=n) for k in GRID_SHAPE], axis=1).astype(np.int64)
    outlines = [_outline(s) for s in range(len(SHAPES))]
    points = []
    for shape, scale, rotation, start, direction in indices:
        dense, arc = outlines[shape]
        p = _trace(dense, arc, SCALES[scale], ROTATIONS[rotation], STARTS[start], DIRECTIONS[direction])
        points.append(p + rng.normal(0.0, JITTER, p.shape))
    return StrokeSet(
        images=pad_sequences(points, MAX_LENGTH),
        name="strokes",
        labels=indices[:, 0].copy(),
        class_names=SHAPES,
        factors=Factors(indices=indices, names=FACTOR_NAMES, values=FACTOR_VALUES),
        meta={"seed": seed, "display_size": DISPLAY_SIZE, "max_length": MAX_LENGTH},
    )


def _outline(shape: int) -> tuple[np.ndarray, np.ndarray]:
    """A closed outline, anticlockwise, centred, largest radius 1: dense points and arc length."""
    t = np.linspace(0.0, 2.0 * np.pi, _DENSE + 1)
    if shape == 0:
        corners = np.array([[1, 0], [1, 1], [-1, 1], [-1, -1], [1, -1], [1, 0]], np.float64)
        seg = np.array([0.5, 1, 1, 1, 0.5])  # side lengths in half-sides
        u = np.linspace(0.0, seg.sum(), _DENSE + 1)
        edges = np.concatenate([[0], np.cumsum(seg)])
        k = np.clip(np.searchsorted(edges, u, side="right") - 1, 0, len(seg) - 1)
        f = ((u - edges[k]) / seg[k])[:, None]
        pts = corners[k] * (1 - f) + corners[k + 1] * f
    elif shape == 1:
        pts = np.stack([np.cos(t), 0.6 * np.sin(t)], 1)
    else:
        x = np.sin(t) ** 3
        y = (13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)) / 16
        pts = np.stack([x, y], 1)
        pts[:, 1] -= 0.5 * (y.max() + y.min())
        area = 0.5 * np.sum(pts[:-1, 0] * pts[1:, 1] - pts[1:, 0] * pts[:-1, 1])
        if area < 0:
            pts = pts[::-1].copy()
    pts /= np.sqrt((pts**2).sum(1)).max()
    arc = np.concatenate([[0.0], np.cumsum(np.sqrt((np.diff(pts, axis=0) ** 2).sum(1)))])
    return pts, arc


def _trace(
    dense: np.ndarray, arc: np.ndarray, scale: float, rotation: float, start: float, direction: float
) -> np.ndarray:
    """The outline traced once round from `start`, at one point per PEN_STEP of arc length."""
    perimeter = arc[-1]
    n = int(np.clip(round(perimeter * scale / PEN_STEP) + 1, MIN_LENGTH, MAX_LENGTH))
    u = np.mod(start + direction * np.linspace(0.0, 1.0, n), 1.0) * perimeter
    pts = np.stack([np.interp(u, arc, dense[:, 0]), np.interp(u, arc, dense[:, 1])], 1)
    c, s = np.cos(rotation), np.sin(rotation)
    return scale * pts @ np.array([[c, s], [-s, c]])


def render_strokes(points: np.ndarray, lengths: np.ndarray, size: int = DISPLAY_SIZE) -> np.ndarray:
    """Polylines (N×T×2 in the frame [−1, 1]², y up) drawn antialiased, N×3×size×size in [0, 1].

    Only the first `lengths[i]` points of item i are drawn. The colour runs from blue at the
    start through magenta to orange at the end, and the start carries a dot.
    """
    points = np.asarray(points, np.float32)
    out = np.zeros((len(points), 3, size, size), np.float32)
    grid = np.arange(size, dtype=np.float32)
    py, px = np.meshgrid(grid, grid, indexing="ij")
    pix = np.stack([px.ravel(), py.ravel()], 1)  # P×2 (column, row)
    half_width = max(0.8, size / 64.0)
    for i, (p, length) in enumerate(zip(points, np.asarray(lengths))):
        length = int(length)
        if length < 1:
            continue
        xy = np.stack([(p[:length, 0] + 1) * 0.5 * (size - 1), (1 - p[:length, 1]) * 0.5 * (size - 1)], 1)
        a = xy[:-1] if length > 1 else xy
        b = xy[1:] if length > 1 else xy
        ab = b - a
        denom = np.maximum((ab**2).sum(1), 1e-9)
        f = np.clip(((pix[:, None, :] - a[None]) * ab[None]).sum(-1) / denom, 0.0, 1.0)  # P×S
        d = np.sqrt(((pix[:, None, :] - (a[None] + f[..., None] * ab[None])) ** 2).sum(-1))
        nearest = d.argmin(1)
        coverage = np.clip(half_width + 0.5 - d[np.arange(len(pix)), nearest], 0.0, 1.0)
        position = (nearest + f[np.arange(len(pix)), nearest]) / max(len(a), 1)
        colour = _ramp(position)
        dot = np.clip(2.0 * half_width + 0.5 - np.sqrt(((pix - xy[0]) ** 2).sum(1)), 0.0, 1.0)
        rgb = colour * coverage[:, None]
        rgb = np.maximum(rgb, dot[:, None] * _RAMP[0])
        out[i] = rgb.T.reshape(3, size, size)
    return out


def _ramp(position: np.ndarray) -> np.ndarray:
    """Colours for positions in [0, 1] along the stroke (P×3)."""
    x = np.clip(position, 0.0, 1.0) * (len(_RAMP) - 1)
    k = np.minimum(x.astype(int), len(_RAMP) - 2)
    f = (x - k)[:, None]
    return _RAMP[k] * (1 - f) + _RAMP[k + 1] * f


def load_stroke_arrays(path: str | Path) -> StrokeSet:
    """A user's sequences from `.npz`: `sequences` (or `x`) N×T×D with D ≥ 2 coordinates,
    `lengths` (N, each in 2..T), optional integer `labels` and `class_names`.

    Coordinates are scaled by one factor so the largest |value| is 0.9 (the display frame
    is [−1, 1]²; the first two coordinates are drawn). Steps past an item's length are ignored.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"sequence file {file} does not exist")
    try:
        with np.load(file, allow_pickle=False) as npz:
            if not hasattr(npz, "files"):
                raise DataError(f"{file}: expected a .npz with `sequences` and `lengths`")
            key = next((k for k in ("sequences", "x", "X") if k in npz.files), None)
            if key is None or "lengths" not in npz.files:
                raise DataError(f"{file}: needs arrays `sequences` (N×T×D) and `lengths`; it has "
                                f"{', '.join(npz.files) or 'none'}")
            seqs = np.asarray(npz[key], np.float64)
            lengths = np.asarray(npz["lengths"])
            labels = np.asarray(npz["labels"]) if "labels" in npz.files else None
            names = tuple(str(c) for c in np.ravel(npz["class_names"])) if "class_names" in npz.files else ()
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{file}: not a readable .npz file ({exc})") from None
    if seqs.ndim != 3 or seqs.shape[2] < 2 or seqs.shape[1] < 2:
        raise DataError(f"{file}: sequences must be N×T×D with T ≥ 2 and D ≥ 2, got {seqs.shape}")
    n, t, _ = seqs.shape
    if lengths.shape != (n,) or not np.issubdtype(lengths.dtype, np.integer):
        raise DataError(f"{file}: `lengths` must be {n} integers, got {lengths.dtype} {lengths.shape}")
    if lengths.min() < 2 or lengths.max() > t:
        raise DataError(f"{file}: lengths must lie in 2..{t}, got {lengths.min()}..{lengths.max()}")
    present = np.arange(t)[None] < lengths[:, None]
    if not np.isfinite(seqs[present]).all():
        raise DataError(f"{file}: sequences contain NaN or infinite values")
    extent = float(np.abs(seqs[present]).max()) or 1.0
    scale = NPZ_EXTENT / extent
    points = [seqs[i, : lengths[i]] * scale for i in range(n)]
    if labels is not None:
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
            raise DataError(f"{file}: `labels` must be {n} non-negative integers")
        names = names or tuple(str(i) for i in range(int(labels.max()) + 1))
    return StrokeSet(
        images=pad_sequences(points, t), name=file.stem, labels=labels, class_names=names,
        meta={"source": str(file), "scale": scale, "display_size": DISPLAY_SIZE, "max_length": t},
    )


def check_model_reads_data(model: ModelConfig, data: ImageSet) -> None:
    """Refuse a sequence model on images, or an image model on sequences, with a clear message."""
    sequences = isinstance(data, StrokeSet)
    if model.is_sequence and not sequences:
        raise DataError(f"a sequence VAE trains on pen trajectories (--dataset strokes or strokes-npz); "
                        f"{data.name} holds images")
    if sequences and not model.is_sequence:
        raise DataError(f"{data.name} holds pen trajectories: train them with --model seqvae")
