"""Model images (C×H×W floats in [0, 1]) → crisp Qt pixmaps, strips and grids, PNG/GIF files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap

if TYPE_CHECKING:
    from latentexplorer.data import ImageSet


def display_images(images: ImageSet, index: np.ndarray) -> np.ndarray:
    """What the GUI shows of the items at `index` (N×C×H×W in [0, 1]): the images, or, for data
    that are not images (pen trajectories), the drawing their `display_batch` makes."""
    draw = getattr(images, "display_batch", None)
    return draw(index) if draw is not None else images.float_batch(index).numpy()


def to_uint8(image: np.ndarray) -> np.ndarray:
    """C×H×W float in [0, 1] → H×W×3 uint8 (grayscale repeated), rounded, never wrapped."""
    image = np.asarray(image, np.float32)
    rgb = np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image
    return np.clip(np.rint(rgb.transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)


def upscale(pixels: np.ndarray, target: int) -> np.ndarray:
    """Nearest-neighbour upscaling by an integer factor to about `target` pixels: small images
    stay crisp instead of blurring."""
    factor = max(1, target // max(pixels.shape[:2]))
    return pixels.repeat(factor, 0).repeat(factor, 1) if factor > 1 else pixels


def rgb_to_pixmap(pixels: np.ndarray) -> QPixmap:
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    image = QImage(pixels.data, w, h, pixels.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


def image_pixmap(image: np.ndarray, size: int = 112) -> QPixmap:
    return pixels_pixmap(to_uint8(image), size)


def pixels_pixmap(pixels: np.ndarray, size: int) -> QPixmap:
    """H×W×3 uint8 → a pixmap about `size` px on its longer side: an integer nearest-neighbour
    factor (crisp pixels) unless that would leave over a third of the size empty (an image
    larger than `size`, or a little smaller); then smooth scaling, as a photo would be."""
    side = max(pixels.shape[:2])
    if side * max(1, size // side) * 3 >= size * 2 and side <= size:
        return rgb_to_pixmap(upscale(pixels, size))
    return rgb_to_pixmap(pixels).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.SmoothTransformation)


def tile(images: np.ndarray, columns: int, size: int = 64, gap: int = 2) -> np.ndarray:
    """N×C×H×W images as one H×W×3 uint8 grid with grey gaps (each image upscaled to ~size)."""
    return grid([upscale(to_uint8(im), size) for im in images], columns, gap)


def grid(cells: list[np.ndarray], columns: int, gap: int = 2) -> np.ndarray:
    """Equal-sized H×W×3 uint8 cells as one grid with grey gaps, row by row."""
    h, w = cells[0].shape[:2]
    rows = -(-len(cells) // columns)
    grid = np.full((rows * (h + gap) + gap, columns * (w + gap) + gap, 3), 110, np.uint8)
    for i, cell in enumerate(cells):
        r, c = divmod(i, columns)
        grid[gap + r * (h + gap) : gap + r * (h + gap) + h, gap + c * (w + gap) : gap + c * (w + gap) + w] = cell
    return grid


def save_png(pixels: np.ndarray, path: str | Path, provenance: dict | None = None) -> None:
    """A figure as PNG; `provenance` (the open run's, `OpenedRun.provenance()`) goes in as a
    text chunk, so the file says which weights, data and versions drew it."""
    from latentexplorer.provenance import save_png as save_with_provenance

    save_with_provenance(pixels, path, provenance)


def save_gif(frames: np.ndarray, path: str | Path, size: int = 128, ms_per_frame: int = 120) -> None:
    """An animated GIF that plays the frames forth and back (a ping-pong loop)."""
    from PIL import Image

    pictures = [Image.fromarray(upscale(to_uint8(f), size)) for f in frames]
    loop = pictures + pictures[-2:0:-1]
    loop[0].save(path, save_all=True, append_images=loop[1:], duration=ms_per_frame, loop=0)


def grid_rect(xs: np.ndarray, ys: np.ndarray):
    """The QRectF that an image of cells centred on the grid xs × ys covers in data units."""
    from PySide6.QtCore import QRectF

    dx = (xs[-1] - xs[0]) / max(len(xs) - 1, 1)
    dy = (ys[-1] - ys[0]) / max(len(ys) - 1, 1)
    return QRectF(xs[0] - dx / 2, ys[0] - dy / 2, dx * len(xs), dy * len(ys))
