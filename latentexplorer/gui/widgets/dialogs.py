"""Small dialogs: open a dataset, the BIC curve, a picture with a caption."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.config import DataConfig
from latentexplorer.data import DATASETS
from latentexplorer.gui.widgets import images as im

NEEDS_FILE = {"npz", "strokes-npz"}
NEEDS_FOLDER = {"mnist", "fashion-mnist", "kmnist", "cifar10", "folder"}
NEEDS_ROOT = NEEDS_FILE | NEEDS_FOLDER
"""Data sources that read a location on disk (the others are generated or bundled)."""


def browse_data_location(parent: QWidget, source: str) -> str:
    """Ask for a data source's location: a file for .npz sources, a folder for the others
    ('' when cancelled)."""
    if source in NEEDS_FILE:
        path, _ = QFileDialog.getOpenFileName(parent, "Images file", "", "Arrays (*.npz *.npy)")
        return path
    return QFileDialog.getExistingDirectory(parent, "Data folder")


class OpenDatasetDialog(QDialog):
    """Pick a data source to encode with the current model."""

    def __init__(self, session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open dataset")
        self.session = session
        self.name = QComboBox()
        self.name.addItems(DATASETS)
        self.root = QLineEdit()
        self.root.setPlaceholderText("folder or file, for the sources that need one")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        shape = session.opened.run.config.model.image_shape if session.opened.run else (1, 28, 28)
        self.size = QSpinBox(minimum=4, maximum=512, value=shape[1])
        self.size.setToolTip("Image size for sprites and image folders (must match the model)")
        self.n = QSpinBox(minimum=0, maximum=10_000_000, value=0, specialValueText="all")
        self.n.setToolTip("A seeded subset of this many items (0: all; sprites: how many to draw)")
        row = QHBoxLayout()
        row.addWidget(self.root, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Source", self.name)
        form.addRow("Location", row)
        form.addRow("Image size", self.size)
        form.addRow("Items", self.n)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        path = browse_data_location(self, self.name.currentText())
        if path:
            self.root.setText(path)

    def data_config(self) -> DataConfig:
        shape = self.session.opened.run.config.model.image_shape if self.session.opened.run else (1, 28, 28)
        return DataConfig(
            name=self.name.currentText(), root=self.root.text() or None, size=self.size.value(),
            n=self.n.value() or None, grayscale=shape[0] == 1,
        )


def show_bic_curve(curve: dict[int, float], current_k: int, parent: QWidget) -> QDialog:
    dialog = QDialog(parent)
    dialog.setWindowTitle("BIC of the Gaussian mixture")
    plot = pg.PlotWidget(background="w")
    ks = np.array(sorted(curve))
    values = np.array([curve[k] for k in ks])
    plot.plot(ks, values, pen=pg.mkPen((0, 114, 178), width=2), symbol="o", symbolBrush=(0, 114, 178))
    best = int(ks[np.argmin(values)])
    plot.addItem(pg.InfiniteLine(best, pen=pg.mkPen((213, 94, 0), style=Qt.PenStyle.DashLine)))
    plot.setLabel("bottom", "K (components)")
    plot.setLabel("left", "BIC (lower is better)")
    layout = QVBoxLayout(dialog)
    layout.addWidget(plot)
    layout.addWidget(QLabel(f"Lowest BIC at K = {best}; current K = {current_k}. BIC = −2 log L + "
                            "(number of parameters) · log N trades fit against complexity."))
    dialog.resize(560, 420)
    dialog.show()
    return dialog


def show_image_dialog(pixels: np.ndarray, title: str, caption: str, parent: QWidget,
                      provenance: dict | None = None) -> QDialog:
    """The picture with its caption and a Save button (the PNG carries `provenance`)."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    picture = QLabel()
    picture.setPixmap(im.rgb_to_pixmap(pixels))
    text = QLabel(caption)
    text.setWordWrap(True)
    save = QPushButton("Save as PNG…")

    def _save() -> None:
        path, _ = QFileDialog.getSaveFileName(dialog, f"Save {title.lower()}", "image.png", "PNG (*.png)")
        if path:
            im.save_png(pixels, path, provenance)

    save.clicked.connect(_save)
    layout = QVBoxLayout(dialog)
    layout.addWidget(picture)
    layout.addWidget(text)
    layout.addWidget(save)
    dialog.pixels = pixels
    dialog.show()
    return dialog
