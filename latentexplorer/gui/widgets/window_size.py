"""The size the main window opens at: the layout's preferred 1480×900, or less on a smaller
screen, so the window opens whole on the screen it opens on (a laptop's 1366×768)."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QGuiApplication

PREFERRED = QSize(1480, 900)
SCREEN_SHARE = 0.92  # of the screen's free area, leaving the frame and a margin visible


def default_window_size(screen=None, platform: str | None = None) -> QSize:
    """The offscreen platform (tests, benchmarks) reports an 800×800 screen nobody sees: there
    the preferred size stays, so layouts and timings do not depend on it."""
    platform = platform if platform is not None else QGuiApplication.platformName()
    if screen is None or platform == "offscreen":
        return QSize(PREFERRED)
    free = screen.availableGeometry()
    return QSize(min(PREFERRED.width(), int(free.width() * SCREEN_SHARE)),
                 min(PREFERRED.height(), int(free.height() * SCREEN_SHARE)))
