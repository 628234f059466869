"""The decoded atlas under the scatter's points (being built: see map_layers.py)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject


class AtlasLayer(QObject):
    """Decoded images of the visible region, under the points."""

    def __init__(self, session, scatter, parent: QObject | None = None) -> None:
        super().__init__(parent or scatter)
        self.session, self.scatter = session, scatter

    def mosaic(self) -> np.ndarray | None:
        """The tiles of the visible region as one H×W×3 uint8 image (None: nothing decoded)."""
        return None
