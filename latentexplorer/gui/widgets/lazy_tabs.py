"""Tabs of a QTabWidget built the first time they are shown or asked for.

The first frame only needs the Explorer: building the other tabs (their pyqtgraph plots, their
modules' imports) with the window cost about a tenth of the start-up, so each starts as an empty
placeholder page and its real widget replaces it on first use.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QTabWidget, QWidget


class LazyTabs:
    """Placeholder pages of `tabs`, each swapped for its real widget on first show or `get`."""

    def __init__(self, tabs: QTabWidget) -> None:
        self.tabs = tabs
        self._factories: dict[str, Callable[[], QWidget]] = {}
        self._placeholders: dict[str, QWidget] = {}
        self._built: dict[str, QWidget] = {}
        tabs.currentChanged.connect(self._current_changed)

    def add(self, name: str, label: str, factory: Callable[[], QWidget]) -> None:
        """A tab `label` whose widget `factory()` makes when it is first shown or asked for."""
        placeholder = QWidget()
        placeholder.setObjectName(f"{name}Placeholder")
        self._factories[name] = factory
        self._placeholders[name] = placeholder
        self.tabs.addTab(placeholder, label)

    def is_built(self, name: str) -> bool:
        return name in self._built

    def built(self) -> dict[str, QWidget]:
        """The tabs built so far, by name (closing shuts down only these)."""
        return dict(self._built)

    def get(self, name: str) -> QWidget:
        """The tab's widget, built now if it was not yet."""
        if name not in self._built:
            self._build(name)
        return self._built[name]

    def _current_changed(self, index: int) -> None:
        page = self.tabs.widget(index)
        for name, placeholder in self._placeholders.items():
            if page is placeholder:
                self._build(name)
                return

    def _build(self, name: str) -> None:
        widget = self._factories[name]()
        self._built[name] = widget
        placeholder = self._placeholders.pop(name)
        index = self.tabs.indexOf(placeholder)
        was_current = self.tabs.currentIndex() == index
        # insert before the placeholder, then remove it: the shown page never changes to a
        # neighbour in between (whose showEvent would start its own work)
        blocked = self.tabs.blockSignals(True)
        try:
            self.tabs.insertTab(index, widget, self.tabs.tabText(index))
            if was_current:
                self.tabs.setCurrentIndex(index)
            self.tabs.removeTab(index + 1)
        finally:
            self.tabs.blockSignals(blocked)
        placeholder.deleteLater()
