"""The main window. For now it names the open run and shows samples from its prior;
the explorer views (scatter, preview, sliders) and the training tab build on it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QVBoxLayout, QWidget

from latentexplorer import __version__
from latentexplorer.checkpoint import Run


def images_to_pixmap(images: np.ndarray, columns: int = 8, scale: int = 4) -> QPixmap:
    """A grid of N×C×H×W images in [0, 1] as a pixmap (nearest-neighbour upscaled)."""
    n, c, h, w = images.shape
    rows = -(-n // columns)
    grid = np.zeros((rows * h, columns * w, 3), np.uint8)
    rgb = np.repeat(images, 3, axis=1) if c == 1 else images
    for i in range(n):
        r, col = divmod(i, columns)
        grid[r * h : (r + 1) * h, col * w : (col + 1) * w] = (rgb[i].transpose(1, 2, 0) * 255).astype(np.uint8)
    grid = np.ascontiguousarray(np.kron(grid, np.ones((scale, scale, 1), np.uint8)))
    image = QImage(grid.data, grid.shape[1], grid.shape[0], grid.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class MainWindow(QMainWindow):
    def __init__(self, run: Run | None = None) -> None:
        super().__init__()
        self.run = run
        self.setObjectName("mainWindow")
        title = f"{run.name} — LatentExplorer" if run else "LatentExplorer"
        self.setWindowTitle(title)
        central = QWidget()
        layout = QVBoxLayout(central)
        self.summary = QLabel(self._summary_text())
        self.summary.setObjectName("runSummary")
        self.samples = QLabel()
        self.samples.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.summary)
        layout.addWidget(self.samples, 1)
        self.setCentralWidget(central)
        self.resize(900, 700)
        if run is not None:
            import torch

            generator = torch.Generator().manual_seed(0)
            images = run.model.sample(32, generator=generator).cpu().numpy()
            scale = max(1, 256 // (8 * images.shape[-1]) * 2)
            self.samples.setPixmap(images_to_pixmap(images, scale=scale))

    def _summary_text(self) -> str:
        if self.run is None:
            return f"LatentExplorer {__version__}: no run open."
        cfg = self.run.config
        return (
            f"LatentExplorer {__version__} — run {self.run.name}: {cfg.model.kind}, "
            f"{cfg.model.latent_dim}-d latent, trained on {cfg.data.name} for "
            f"{self.run.epoch} epochs. Samples from the prior N(0, I):"
        )

    def show_error(self, message: str) -> None:
        QMessageBox.warning(self, "LatentExplorer", message)
