"""The Training tab's live plots: the loss curves (per step, validation per epoch, redrawn on a
timer) and the KL per latent dimension."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QCheckBox, QLabel, QVBoxLayout, QWidget

REDRAW_MS = 250

SERIES = {  # key: (label, colour, dashed)
    "total": ("total loss", (0, 114, 178), False),
    "recon": ("reconstruction −log p(x|z)", (0, 158, 115), False),
    "kl": ("KL (raw)", (213, 94, 0), False),
    "reg": ("β·KL (as in the loss)", (204, 121, 167), True),
}


class LossPlot(QWidget):
    """Training curves per step and validation per epoch; redrawn on a timer, not per step."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lossPlot")
        self.plot = pg.PlotWidget(background="w")
        self.plot.addLegend(offset=(-10, 10))
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "nats per item")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        item = self.plot.getPlotItem()
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        self.curves = {}
        for key, (label, colour, dashed) in SERIES.items():
            style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
            self.curves[key] = self.plot.plot([], [], name=label, pen=pg.mkPen(colour, width=2, style=style))
        self.val_curve = self.plot.plot([], [], name="validation total (per epoch)", pen=None,
                                        symbol="o", symbolBrush=(0, 0, 0), symbolSize=7)
        self.log = QCheckBox("log scale")
        self.log.setToolTip("Logarithmic loss axis: small late improvements stay visible")
        self.log.toggled.connect(lambda on: self.plot.setLogMode(y=on))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.log)
        self.clear()
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self._redraw_if_shown)
        self.timer.start()

    def _redraw_if_shown(self) -> None:
        """The timer's redraw, skipped while the plot is hidden (another tab in front): its
        curves' setData cost the GUI thread milliseconds each time, and on two cores every
        millisecond the GUI thread computes is taken from the training loop. `showEvent`
        catches up."""
        if self.isVisible():
            self.redraw()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.redraw()

    def clear(self) -> None:
        self.x: list[float] = []
        self.series: dict[str, list[float]] = {k: [] for k in SERIES}
        self.val_x: list[float] = []
        self.val_y: list[float] = []
        self._dirty = True
        self.redraw()

    def add_step(self, progress: float, values: dict[str, float]) -> None:
        self.x.append(progress)
        for key in SERIES:
            self.series[key].append(values[key])
        self._dirty = True

    def add_epoch(self, epoch: float, val_total: float) -> None:
        self.val_x.append(epoch)
        self.val_y.append(val_total)
        self._dirty = True

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        x = np.asarray(self.x, float)
        for key, curve in self.curves.items():
            curve.setData(x, np.asarray(self.series[key], float))
        self.val_curve.setData(np.asarray(self.val_x, float), np.asarray(self.val_y, float))

    def show_history(self, steps: list[dict], history: list[dict]) -> None:
        """A finished run's curves from its steps.csv and history.csv."""
        self.clear()
        for row in steps:
            self.add_step(row.get("progress", row.get("step", 0.0)), {k: row.get(k, np.nan) for k in SERIES})
        for row in history:
            self.add_epoch(row["epoch"], row.get("val_total", np.nan))
        self.redraw()


class KLBars(QWidget):
    """KL per latent dimension (validation, per epoch): units switching on and off."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("klBars")
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "latent dimension")
        self.plot.setLabel("left", "KL (nats)")
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=(0, 114, 178))
        self.plot.addItem(self.bars)
        self.caption = QLabel("KL per dimension; a bar near 0 is an inactive unit (posterior collapse)")
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.caption)
        self.values = np.zeros(0)

    def show_values(self, values, epoch: int | None = None) -> None:
        self.values = np.asarray(values, float)
        self.bars.setOpts(x=np.arange(len(self.values)), height=self.values, width=0.7)
        if epoch is not None:
            active = int((self.values > 0.01).sum())
            self.caption.setText(f"KL per dimension after epoch {epoch}: {active} of "
                                 f"{len(self.values)} above 0.01 nats")


