"""Per-dimension perturbation sliders, ordered by KL (VAEs) or variance, inactive units
collapsed; moving one decodes live (coalesced, one decode per event-loop pass)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.analysis.factors import dimension_factors
from latentexplorer.gui.state.session import Session
from latentexplorer.gui.widgets import images as im
from latentexplorer.gui.widgets.after_paint import AfterPaint

TICKS = 600


class DimensionSlider(QWidget):
    """One latent dimension: name, KL, a slider over [low, high], the current value."""

    def __init__(self, dim: int, low: float, high: float, note: str, active: bool) -> None:
        super().__init__()
        self.dim, self.low, self.high = dim, float(low), float(high)
        self.name = QLabel(f"z{dim}")
        self.name.setMinimumWidth(34)
        self.note = QLabel(note)
        self.note.setMinimumWidth(84)
        self.note.setStyleSheet("" if active else "color: grey")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, TICKS)
        self.slider.setObjectName(f"slider_z{dim}")
        self.slider.setToolTip(f"Move z{dim} from {low:+.2f} to {high:+.2f}; the preview decodes live")
        self.value = QLabel()
        self.value.setMinimumWidth(48)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.name, self.note):
            layout.addWidget(w)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.value)

    def to_value(self, tick: int) -> float:
        return self.low + (self.high - self.low) * tick / TICKS

    def set_value(self, value: float) -> None:
        tick = int(round((value - self.low) / max(self.high - self.low, 1e-12) * TICKS))
        self.slider.blockSignals(True)
        self.slider.setValue(int(np.clip(tick, 0, TICKS)))
        self.slider.blockSignals(False)
        self.value.setText(f"{value:+.2f}")


class PerturbationSliders(QWidget):
    """objectName `perturbationSliders`."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fit_pending = False  # the splitter is to be fitted to the rows (see fit_splitter)
        self.setObjectName("perturbationSliders")
        self.session = session
        self.rows: dict[int, DimensionSlider] = {}
        self.order: list[int] = []
        self.z: np.ndarray | None = None
        self.origin: np.ndarray | None = None
        self._rows_later = AfterPaint(self._show_z, self)
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.reset = QPushButton("Reset")
        self.reset.setToolTip("Back to the selected point's μ")
        self.reset.clicked.connect(self._reset)
        self.traverse = QPushButton("Traversal grid…")
        self.traverse.setToolTip("Sweep every active dimension over its range (the β-VAE figure)")
        self.traverse.clicked.connect(self.show_traversal)
        buttons = QHBoxLayout()
        buttons.addWidget(self.header, 1)
        buttons.addWidget(self.reset)
        buttons.addWidget(self.traverse)
        self.active_box = QVBoxLayout()
        self.inactive_toggle = QToolButton()
        self.inactive_toggle.setCheckable(True)
        self.inactive_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.inactive_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.inactive_toggle.setToolTip("Dimensions whose μ barely varies over the data (Var < 0.01)")
        self.inactive_toggle.toggled.connect(self._toggle_inactive)
        self.inactive_container = QWidget()
        self.inactive_box = QVBoxLayout(self.inactive_container)
        self.inactive_box.setContentsMargins(0, 0, 0, 0)
        self.inactive_container.hide()
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.addLayout(self.active_box)
        inner_layout.addWidget(self.inactive_toggle)
        inner_layout.addWidget(self.inactive_container)
        inner_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(scroll, 1)
        self._fitted_rows = -1  # the active row count the splitter was last fitted to
        self._active: set[int] = set()  # the dimensions shown as active rows
        self._pending = False
        self._coalesce = QTimer(self, singleShot=True, interval=0)
        self._coalesce.timeout.connect(self._flush)
        session.opened.runChanged.connect(self.rebuild)
        session.opened.codesUpdated.connect(self.refresh)
        session.selection.latentChanged.connect(self._follow)
        session.selection.selectionChanged.connect(self._selection)

    def rebuild(self) -> None:
        for box in (self.active_box, self.inactive_box):
            while box.count():
                widget = box.takeAt(0).widget()
                if widget is not None:
                    widget.deleteLater()
        self.rows = {}
        s = self.session
        if not s.opened.has_run:
            return
        stats = s.opened.dimension_stats()
        self._active = set(np.flatnonzero(stats.active))
        self.order = [int(d) for d in stats.order]
        inactive = 0
        for d in self.order:
            note = f"KL {stats.kl[d]:.2f}" if stats.kl is not None else f"var {stats.variance[d]:.2f}"
            active = bool(stats.active[d])
            if not active:
                note += " (inactive)"
                inactive += 1
            row = DimensionSlider(d, stats.low[d], stats.high[d], note, active)
            row.slider.valueChanged.connect(self._moved)
            (self.active_box if active else self.inactive_box).addWidget(row)
            self.rows[d] = row
        self.inactive_toggle.setText(f"{inactive} inactive dimension(s)")
        self.inactive_toggle.setVisible(inactive > 0)
        self.inactive_toggle.setChecked(False)
        rank = "by average KL to the prior" if stats.kl is not None else "by the variance of the codes"
        first = "highest KL to the prior" if stats.kl is not None else "highest variance"
        self.header.setText(f"One slider per dimension, {first} first. Select a point, then move them.")
        self.header.setToolTip(f"One slider per latent dimension, ordered {rank}.")
        self._set_all(s.opened.mu.mean(axis=0).astype(np.float64))
        self._rows_later.now()
        self.origin = None
        self._enable(False)
        if len(self._active) != self._fitted_rows:  # not on every epoch of a followed run
            self._fitted_rows = len(self._active)
            self._fit_pending = True
            QTimer.singleShot(0, self.fit_splitter)

    def event(self, e: QEvent) -> bool:
        if self._fit_pending and e.type() in (QEvent.Type.Show, QEvent.Type.Resize):
            QTimer.singleShot(0, self.fit_splitter)  # the column's height is known once laid out
        return super().event(e)

    def fit_splitter(self) -> None:
        """Take from the column this panel shares with the preview only the height its rows
        need (at most 40 %, at least 120 px): a 2-D model's two sliders leave the preview
        the rest, a 32-D model's scroll."""
        splitter = self.parentWidget()
        if not self._fit_pending or not isinstance(splitter, QSplitter) or splitter.orientation() != Qt.Orientation.Vertical:
            return
        total = sum(splitter.sizes())
        if total <= 0 or not self.isVisible():
            return
        self._fit_pending = False
        active = [row for row in self.rows.values() if row.parentWidget() is not self.inactive_container]
        row_height = max((row.sizeHint().height() for row in active), default=24)
        wanted = (self.layout().itemAt(0).sizeHint().height() + len(active) * (row_height + 6)
                  + self.inactive_toggle.sizeHint().height() + 2 * self.fontMetrics().lineSpacing() + 40)
        mine = max(min(120, total // 4), min(wanted, int(total * 0.4)))
        index = splitter.indexOf(self)
        sizes = [total - mine, mine] if index == 1 else [mine, total - mine]
        splitter.setSizes(sizes)
        splitter.setStretchFactor(index, 0)  # a taller window grows the preview, not the sliders
        splitter.setStretchFactor(1 - index, 1)

    def refresh(self) -> None:
        """New codes of the same model family: update the figures beside the sliders in place
        (rebuilding the rows every epoch of a training run would cost the GUI thread)."""
        if not self.session.opened.has_run or set(self.rows) != set(range(self.session.opened.latent_dim)):
            self.rebuild()
            return
        stats = self.session.opened.dimension_stats()
        if set(np.flatnonzero(stats.active)) != self._active:  # a dimension woke up or collapsed:
            self.rebuild()  # its row moves between the shown and the folded rows
            return
        for d, row in self.rows.items():
            note = f"KL {stats.kl[d]:.2f}" if stats.kl is not None else f"var {stats.variance[d]:.2f}"
            row.note.setText(note if stats.active[d] else note + " (inactive)")

    def _toggle_inactive(self, shown: bool) -> None:
        self.inactive_container.setVisible(shown)
        self.inactive_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _enable(self, enabled: bool) -> None:
        for row in self.rows.values():
            row.slider.setEnabled(enabled)
        self.reset.setEnabled(enabled)

    def _set_all(self, z: np.ndarray) -> None:
        """Take z now; the rows show it after the preview of the gesture has been painted."""
        self.z = np.asarray(z, np.float64).copy()
        self._rows_later.request()

    def _show_z(self) -> None:
        if self.z is not None:
            for d, row in self.rows.items():
                row.set_value(self.z[d])

    def _selection(self, index: int) -> None:
        if index >= 0:
            self.origin = self.session.opened.mu[index].astype(np.float64)
            self._set_all(self.origin)
            self._enable(True)

    def _follow(self, z) -> None:
        """Another gesture moved z (a click or a selection): follow it without decoding."""
        if z is None:
            return
        if self.z is None or not np.array_equal(self.z, z):  # a click sets the same z twice
            self._set_all(z)
        self._enable(True)

    def _moved(self, tick: int) -> None:
        row = self.sender().parent()
        if self.z is None or not isinstance(row, DimensionSlider):
            return
        self.z[row.dim] = row.to_value(tick)
        row.value.setText(f"{self.z[row.dim]:+.2f}")
        if not self._coalesce.isActive():
            self._coalesce.start()

    def _flush(self) -> None:
        if self.z is not None and self.session.opened.has_run:
            self.session.selection.show_latent(self.z.copy(), source="slider")

    def _reset(self) -> None:
        if self.origin is not None:
            self._set_all(self.origin)
            self.session.selection.show_latent(self.origin.copy(), source="slider")

    def show_traversal(self) -> None:
        """A dialog with the traversal grid of the active dimensions, exportable as PNG."""
        s = self.session
        if not s.opened.has_run:
            return
        stats = s.opened.dimension_stats()
        dims = [d for d in self.order if stats.active[d]] or self.order[:1]
        values, images = s.opened.traversal(dims, s.selection.z, steps=9)
        grid = im.tile(images.reshape(-1, *images.shape[2:]), columns=images.shape[1], size=48)
        dialog = QDialog(self)
        dialog.setWindowTitle("Latent traversal")
        layout = QGridLayout(dialog)
        picture = QLabel()
        picture.setPixmap(im.rgb_to_pixmap(grid))
        labels = QVBoxLayout()
        factors = s.opened.images.factors
        named = dimension_factors(s.opened.mu, factors) if factors is not None else None
        dialog.row_labels = []
        for d in dims:
            note = f"KL {stats.kl[d]:.2f}" if stats.kl is not None else f"var {stats.variance[d]:.2f}"
            label = QLabel(f"z{d} · {note}" + (f" · {named[d].describe()}" if named else ""))
            label.setFixedHeight(grid.shape[0] // len(dims))
            labels.addWidget(label)
            dialog.row_labels.append(label)
        layout.addLayout(labels, 0, 0)
        layout.addWidget(picture, 0, 1)
        caption = QLabel(
            f"Each row sweeps one dimension from {values[0, 0]:+.1f} to {values[0, -1]:+.1f}; the "
            "others stay at the current z. A disentangled model changes one factor per row"
            + ("; beside each row, the factor it is most informative about, I(z; v)/H(v)."
               if named else ".")
        )
        caption.setWordWrap(True)
        layout.addWidget(caption, 1, 0, 1, 2)
        save = QPushButton("Save as PNG…")
        save.clicked.connect(lambda: self._save(grid, dialog))
        layout.addWidget(save, 2, 1, Qt.AlignmentFlag.AlignRight)
        dialog.grid = grid
        dialog.setObjectName("traversalDialog")
        dialog.show()
        self.traversal_dialog = dialog

    def _save(self, grid: np.ndarray, parent: QWidget) -> None:
        path, _ = QFileDialog.getSaveFileName(parent, "Save traversal", "traversal.png", "PNG (*.png)")
        if path:
            im.save_png(grid, path, self.session.opened.provenance())
