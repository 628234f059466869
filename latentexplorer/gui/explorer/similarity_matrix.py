"""The image–caption cosine similarity matrix of 16 items: what the contrastive loss shapes.

Rows are images, columns their captions in the same order, so a trained model shows a
bright diagonal: each image is most similar to its own caption."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QListWidget, QVBoxLayout, QWidget

from latentexplorer.analysis.caption_ranking import similarity_batch
from latentexplorer.gui.state.session import Session
from latentexplorer.gui.widgets import images as im

ITEMS = 16


class SimilarityMatrixDialog(QDialog):
    """objectName `similarityMatrix`; `matrix` holds the values shown."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("similarityMatrix")
        self.setWindowTitle("Image–caption similarity")
        self.index, self.captions, self.matrix = similarity_batch(session.opened.model, session.opened.mu, session.opened.images, ITEMS)
        n = len(self.index)
        thumbs = QLabel()
        thumbs.setPixmap(QPixmap(im.rgb_to_pixmap(im.tile(session.opened.images.float_batch(self.index), n, 36))))
        thumbs.setToolTip("The images of the rows, left to right = top to bottom")
        self.plot = pg.PlotWidget(background="w")
        self.image = pg.ImageItem(self.matrix.astype(np.float32), axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.plot.addItem(self.image)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.plot.getAxis("left").setTicks([[(i + 0.5, f"image {i + 1}") for i in range(n)]])
        self.plot.getAxis("bottom").setTicks([[(i + 0.5, str(i + 1)) for i in range(n)]])
        self.plot.setLabel("bottom", "caption")
        diagonal = int((self.matrix.argmax(1) == np.arange(n)).sum())
        summary = QLabel(f"Diagonal = own caption. It is the row's best match for {diagonal} of {n} images; "
                         f"similarities {self.matrix.min():.2f} (dark) to {self.matrix.max():.2f} (bright).")
        summary.setWordWrap(True)
        legend = QListWidget()
        legend.addItems([f"{i + 1}. {c}" for i, c in enumerate(self.captions)])
        legend.setMaximumHeight(150)
        layout = QVBoxLayout(self)
        layout.addWidget(thumbs)
        layout.addWidget(self.plot, 1)
        layout.addWidget(summary)
        layout.addWidget(legend)
        self.resize(760, 820)
