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
    """A grid of N×C×H×W images in [0, 1] as a pixmap, upscaled without smoothing and
    separated by a grey line so neighbouring images do not run together."""
    n, c, h, w = images.shape
    rows = -(-n // columns)
    cell_h, cell_w = h * scale + 2, w * scale + 2
    grid = np.full((rows * cell_h, columns * cell_w, 3), 96, np.uint8)
    rgb = np.repeat(images, 3, axis=1) if c == 1 else images
    for i in range(n):
        r, col = divmod(i, columns)
        tile = (rgb[i].transpose(1, 2, 0) * 255).astype(np.uint8).repeat(scale, 0).repeat(scale, 1)
        grid[r * cell_h + 1 : r * cell_h + 1 + h * scale, col * cell_w + 1 : col * cell_w + 1 + w * scale] = tile
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
