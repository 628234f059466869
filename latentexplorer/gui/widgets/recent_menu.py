"""File ▸ Open recent: the run folders and the user's own models opened before, kept in
QSettings so they survive a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu

from latentexplorer.gui.widgets.open_model_dialog import recent_models, remember_model
from latentexplorer.opening import ModelSpec

MAX_RECENT = 8
RUNS_KEY = "recentRuns"


class RecentMenu:
    """Fills `menu` from the settings; a run reopens with `open_run(folder)`, a model with
    `open_model(spec)` (its dialog, filled in, so errors are said there)."""

    def __init__(self, menu: QMenu, settings: QSettings, open_run: Callable[[str], object],
                 open_model: Callable[[ModelSpec], object]) -> None:
        self.menu, self.settings = menu, settings
        self._open_run, self._open_model = open_run, open_model
        self.fill()

    def runs(self) -> list[str]:
        value = self.settings.value(RUNS_KEY, [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def last_folder(self) -> str:
        """Where a file dialog starts: beside the last run opened, else the home folder."""
        recent = self.runs()
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    def remember_run(self, folder: str) -> None:
        """Put a run folder first."""
        recent = [folder] + [r for r in self.runs() if r != folder]
        self.settings.setValue(RUNS_KEY, recent[:MAX_RECENT])
        self.fill()

    def remember_model(self, spec: ModelSpec) -> None:
        remember_model(self.settings, spec)
        self.fill()

    def fill(self) -> None:
        self.menu.clear()
        runs, models = self.runs(), recent_models(self.settings)
        for folder in runs:
            action = self.menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self._open_run(f))
        if models and runs:
            self.menu.addSeparator()
        for spec in models:
            action = self.menu.addAction(f"Model: {spec.label}")
            action.triggered.connect(lambda _=False, s=spec: self._open_model(s))
        self.menu.setEnabled(bool(runs or models))
