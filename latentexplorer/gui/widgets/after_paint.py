"""Redraws that can wait until the view the user acted for has been painted."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt

_AFTER_PAINT = QEvent.Type(QEvent.registerEventType())


class AfterPaint(QObject):
    """Calls `redraw` once after the paint pass already asked for (many requests, one call).

    Qt queues a window's repaint as a low-priority posted event; an event posted at that
    priority after it is handled after it. A click's preview therefore reaches the screen
    first, and secondary views (the ring on the scatter, the sliders' positions) are redrawn
    in the pass after, about a millisecond later, instead of being painted before the preview
    in the same pass. Two hops, so that a request made before the repaint was queued still
    lands behind it. `redraw` reads the current state: it always draws the latest.
    """

    def __init__(self, redraw: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._redraw = redraw
        self._hops = 0

    def request(self) -> None:
        if self._hops == 0:
            self._hops = 2
            self._post()

    def now(self) -> None:
        """Redraw now; a redraw that was waiting is this one."""
        self._hops = 0
        self._redraw()

    def _post(self) -> None:
        QCoreApplication.postEvent(self, QEvent(_AFTER_PAINT), Qt.EventPriority.LowEventPriority.value)

    def event(self, event: QEvent) -> bool:
        if event.type() != _AFTER_PAINT:
            return super().event(event)
        if self._hops == 1:
            self._hops = 0
            self._redraw()
        elif self._hops > 1:
            self._hops -= 1
            self._post()
        return True
