"""The preview's tiles and how they share the pane: an image with its caption, sized to the
space the pane has (see DecoderPreview.fit_to_space)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from latentexplorer.gui.widgets import images as im

TILE = 80  # the size of exported previews
SMALLEST = 48  # tiles never get smaller: a pane narrower scrolls
CAPTION = 44  # room for a tile's two-line caption
ICON = 72  # the largest neighbour icon
STRIP = 64  # room kept for the interpolation strip


def tile_layout(n: int, width: int, height: int, caption_width: int = 0) -> tuple[int, int]:
    """(columns, tile size) that show n square tiles largest in width × height px, each with
    its caption under it (a column is never narrower than `caption_width`, the caption's
    longest word); never below SMALLEST (then as many columns as the width holds)."""
    cell = max(SMALLEST, caption_width) + 12
    best = (max(1, min(n, width // cell)), SMALLEST)
    for columns in range(1, min(n, width // cell) + 1):
        rows = -(-n // columns)
        size = min((width - 12 * columns) // columns, (height - rows * CAPTION) // rows)
        if size > best[1]:
            best = (columns, size)
    return best


def reading_layout(width: int, height: int) -> tuple[int, int]:
    """(primary, secondary) tile sizes for an input read by the model: the input and its
    reconstruction side by side, the four posterior samples in a row under them at half the
    size. The pair is what a click compares; the samples show the spread around it."""
    primary = min((width - 48) // 2, int((height - 2 * CAPTION) / 1.5))
    return primary, primary // 2


class ImageTile(QWidget):
    """An image with a caption under it. It keeps the pixels it shows, to draw them again at
    another size when the pane is resized."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.size_px = TILE
        self.pixels: np.ndarray | None = None
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setFixedSize(TILE, TILE)  # until the pane fits its tiles to its space
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption)

    def show_pixels(self, pixels: np.ndarray, caption: str) -> None:
        """H×W×3 uint8 pixels, drawn at the tile's size (fixed, so a click lays nothing out)."""
        self.pixels = pixels
        self.picture.setPixmap(im.pixels_pixmap(pixels, self.size_px))
        if self.caption.text() != caption:
            self.caption.setText(caption)
        if self.isHidden():
            self.show()

    def set_size(self, size: int) -> None:
        if size != self.size_px:
            self.size_px = size
            self.picture.setFixedSize(size, size)
            if self.pixels is not None:
                self.picture.setPixmap(im.pixels_pixmap(self.pixels, size))
