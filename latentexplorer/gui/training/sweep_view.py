"""The β sweep view (File ▸ Open β sweep…): reconstruction error, KL and MIG against β,
the table of every run's figures, and a button that opens the selected run in the explorer.

The curves differ by orders of magnitude (hundreds of nats of reconstruction, a few of KL,
a MIG below 1), so each is scaled to its own range, [0, 1], and the legend gives that range;
the table beside it has the values themselves. With several seeds per β a point is the mean
over them and its error bar the 95 % Student-t interval (scaled with its curve); with one
seed there is no bar, and the caption says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.errors import UserError
from latentexplorer.gui.state.session import Session
from latentexplorer.training.sweep_plot import beta_positions
from latentexplorer.training.sweep_results import SweepRow, read_results
from latentexplorer.training.sweep_stats import summarise

CURVES = (  # name, colour, the summary's metric, unit
    ("reconstruction error", "#1f77b4", "recon_error", "nats"),
    ("KL", "#d62728", "kl", "nats"),
    ("MIG", "#2ca02c", "mig", ""),
)
COLUMNS = ("β", "seed", "reconstruction", "KL", "ELBO", "MIG", "active units", "run")
BEAM = 0.12  # width of an error bar's caps, in log2 β


def scaled(values: np.ndarray, extent: np.ndarray | None = None) -> np.ndarray:
    """Min–max scaling to [0, 1] over `extent` (the values, or the values with their error
    bars' ends); a constant curve sits at 0.5."""
    finite = values if extent is None else extent
    finite = finite[np.isfinite(finite)]
    if len(finite) == 0:
        return values
    low, high = finite.min(), finite.max()
    return np.full_like(values, 0.5) if high - low < 1e-12 else (values - low) / (high - low)


def span(extent: np.ndarray) -> float:
    """The factor `scaled` multiplies differences by: an error bar's scaled height."""
    finite = extent[np.isfinite(extent)]
    width = finite.max() - finite.min() if len(finite) else 0.0
    return 0.0 if width < 1e-12 else 1.0 / width


class SweepView(QDialog):
    """objectName `sweepView`. `open_sweep(folder)` shows a sweep; the selected row's run
    opens in the session with *Open in explorer*."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweepView")
        self.setWindowTitle("β sweep")
        self.session = session
        self.folder: Path | None = None
        self.rows: list[SweepRow] = []
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "β (log2 scale)")
        self.plot.setLabel("left", "each curve scaled to its range")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.legend = self.plot.addLegend(offset=(10, 10), labelTextColor="k", brush=(255, 255, 255, 200))
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.error_bars: dict[str, pg.ErrorBarItem] = {}
        for name, colour, _, _ in CURVES:
            self.curves[name] = self.plot.plot(
                [], [], pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=7,
                symbolBrush=colour, symbolPen=None, name=name,
            )
            self.error_bars[name] = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0),
                                                    beam=BEAM, pen=pg.mkPen(colour, width=1.5))
            self.plot.addItem(self.error_bars[name])
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("sweepTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda _item: self.open_selected())
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.open_button = QPushButton("Open in explorer")
        self.open_button.setToolTip("Open the selected β's run in the explorer")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_selected)
        below = QWidget()
        below_layout = QVBoxLayout(below)
        below_layout.setContentsMargins(0, 0, 0, 0)
        below_layout.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.caption, 1)
        buttons.addWidget(self.open_button)
        below_layout.addLayout(buttons)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.plot)
        splitter.addWidget(below)
        splitter.setSizes([360, 240])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.resize(760, 640)

    def open_sweep(self, folder: str | Path) -> bool:
        """Show the sweep in `folder`; a folder that is not one gets a message and the view
        keeps what it showed."""
        folder = Path(folder)
        try:
            rows = read_results(folder)
        except UserError as exc:
            self.session.report_error(str(exc))
            return False
        self.folder, self.rows = folder, rows
        self.setWindowTitle(f"β sweep — {folder.name}")
        points = summarise(rows)
        xs = beta_positions([p.beta for p in points])
        for name, _, metric, unit in CURVES:
            estimates = [p.estimate(metric) for p in points]
            values = np.array([np.nan if e.mean is None else e.mean for e in estimates])
            half = np.array([np.nan if e.ci95 is None else e.ci95 for e in estimates])
            extent = np.concatenate([values, values - half, values + half])
            shown, barred = np.isfinite(values), np.isfinite(values) & np.isfinite(half)
            curve = self.curves[name]
            curve.setData(xs[shown], scaled(values, extent)[shown])
            curve.setVisible(bool(shown.any()))
            self.error_bars[name].setData(x=xs[barred], y=scaled(values, extent)[barred],
                                          height=2 * half[barred] * span(extent))
            self.error_bars[name].setVisible(bool(barred.any()))
            label = name if not shown.any() else (
                f"{name} {np.nanmin(values):.3g}–{np.nanmax(values):.3g} {unit}".rstrip()
            )
            self.legend.getLabel(curve).setText(label)
        self.plot.getAxis("bottom").setTicks([[(float(x), f"{p.beta:g}") for x, p in zip(xs, points)]])
        self.plot.getPlotItem().enableAutoRange()
        self._fill_table()
        seeds = max(p.seeds for p in points)
        spread = (f"each point the mean of {seeds} seeds, its bar the 95% Student-t interval"
                  if seeds > 1 else "one run per β, so no intervals (a sweep with --seeds has them)")
        self.caption.setText(
            f"{len(rows)} runs in {folder}, scored on the same validation items; {spread}. "
            "Select a row, then open its run in the explorer."
        )
        return True

    def _fill_table(self) -> None:
        self.table.clearSelection()
        self.table.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            cells = (f"{r.beta:g}", "–" if r.seed is None else str(r.seed), f"{r.recon:.2f}",
                     f"{r.kl:.2f}", f"{r.elbo:.2f}",
                     "–" if r.mig is None else f"{r.mig:.3f}", f"{r.active_units} of {r.latent_dim}", r.run)
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j < len(cells) - 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self.open_button.setEnabled(False)

    def selected_row(self) -> SweepRow | None:
        chosen = self.table.selectionModel().selectedRows()
        return self.rows[chosen[0].row()] if chosen else None

    def _selection_changed(self) -> None:
        self.open_button.setEnabled(self.selected_row() is not None)

    def open_selected(self) -> bool:
        """Open the selected row's run in the session (the explorer follows)."""
        row = self.selected_row()
        if row is None or self.folder is None:
            return False
        return self.session.open_run(self.folder / row.run)


def open_sweep_dialog(window) -> SweepView | None:
    """File ▸ Open β sweep…: ask for a sweep folder and show it in the window's sweep view."""
    folder = QFileDialog.getExistingDirectory(window, "Open β sweep folder", str(Path.home()))
    if not folder:
        return None
    view = getattr(window, "sweep_view", None)
    if view is None:
        view = window.sweep_view = SweepView(window.session, window)
    if view.open_sweep(folder):
        view.show()
        view.raise_()
    return view
