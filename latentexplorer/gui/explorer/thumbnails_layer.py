"""Each visible point drawn as its own image when zoomed in (being built: see map_layers.py)."""

from __future__ import annotations

from PySide6.QtCore import QObject


class ThumbnailLayer(QObject):
    """Zoomed in far enough that points are apart, each is drawn as its image."""

    def __init__(self, session, scatter, parent: QObject | None = None) -> None:
        super().__init__(parent or scatter)
        self.session, self.scatter = session, scatter
