"""Attribute vectors in the GUI: pick two groups (labels, factor values, boxes drawn on the
scatter with Shift+drag, or its lasso), get the direction between their mean codes, and slide the selected
item along it; the decoded sweep is shown, drawn on the scatter, and can be saved."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from latentexplorer.analysis.directions import AttributeVector, attribute_vector
from latentexplorer.gui.state.session import Session
from latentexplorer.gui.widgets import images as im

ALPHA_RANGE = 2.0
"""The slider and the sweep go from −2 to +2 times the vector: 0 is the item, +1 adds the
whole difference between the group means."""
SLIDER_TICKS = 100  # per unit of α
SWEEP_FRAMES = 9


class AttributeVectors(QDialog):
    """objectName `attributeVectors`."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attributeVectors")
        self.setWindowTitle("Attribute vectors")
        self.session = session
        self.vector: AttributeVector | None = None
        self.sweep_images: np.ndarray | None = None
        self.from_group = QComboBox()
        self.to_group = QComboBox()
        for combo in (self.from_group, self.to_group):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.currentIndexChanged.connect(self._recompute)
        self.summary = QLabel()
        self.summary.setObjectName("attributeSummary")
        self.summary.setWordWrap(True)
        self.alpha = QSlider(Qt.Orientation.Horizontal)
        self.alpha.setRange(int(-ALPHA_RANGE * SLIDER_TICKS), int(ALPHA_RANGE * SLIDER_TICKS))
        self.alpha.setValue(0)
        self.alpha.setToolTip("z = μ(selected) + α · v")
        self.alpha.valueChanged.connect(self._alpha_moved)
        self.alpha_label = QLabel("α = +0.00")
        self.strip = QLabel()
        self.strip.setObjectName("attributeStrip")
        self.strip.setToolTip(f"Decodes of μ + α·v for α from −{ALPHA_RANGE:g} to +{ALPHA_RANGE:g}")
        self.export = QPushButton("Export sweep…")
        self.export.setToolTip("Save the decoded sweep as a PNG strip")
        self.export.clicked.connect(self._export)
        note = QLabel("The direction v = mean code of the second group − mean code of the first "
                      "(Latent Space Cartography's attribute vector). Select an item on the scatter, "
                      "then move α. Shift+drag on the scatter draws a box: its items become a group; "
                      "so do the items of a lasso (Alt+drag).")
        note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("From group", self.from_group)
        form.addRow("To group", self.to_group)
        alpha_row = QHBoxLayout()
        alpha_row.addWidget(self.alpha, 1)
        alpha_row.addWidget(self.alpha_label)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addLayout(alpha_row)
        layout.addWidget(self.strip)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.export)
        layout.addLayout(buttons)
        session.opened.runChanged.connect(self.fill_groups)
        session.selection.groupsChanged.connect(self.fill_groups)
        session.selection.selectionChanged.connect(self._selection_changed)
        self.fill_groups()

    # --- groups ----------------------------------------------------------------------------

    def fill_groups(self) -> None:
        """List the session's groups, keeping the chosen ones where they still exist."""
        groups = self.session.selection.groups()
        self._groups = {g.name: g for g in groups}
        for combo, fallback in ((self.from_group, 0), (self.to_group, 1)):
            chosen = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(list(self._groups))
            index = combo.findText(chosen)
            combo.setCurrentIndex(index if index >= 0 else min(fallback, combo.count() - 1))
            combo.blockSignals(False)
        self._recompute()

    def choose(self, from_name: str, to_name: str) -> None:
        """Pick the two groups by name (the menu's and the tests' way in)."""
        for combo, name in ((self.from_group, from_name), (self.to_group, to_name)):
            index = combo.findText(name)
            if index < 0:
                raise ValueError(f"no group named {name!r}")
            combo.setCurrentIndex(index)
        self._recompute()

    def _recompute(self) -> None:
        a = self._groups.get(self.from_group.currentText())
        b = self._groups.get(self.to_group.currentText())
        self.vector = None
        if a is None or b is None or not self.session.opened.has_run:
            self.summary.setText("Open a run whose data have labels or factors, or draw two boxes "
                                 "on the scatter with Shift+drag (or a box and a lasso).")
        elif a.name == b.name:
            self.summary.setText("Choose two different groups.")
        else:
            self.vector = attribute_vector(self.session.opened.mu, a, b)
            self.summary.setText(
                f"v = mean μ of “{b.name}” ({len(b):,} items) − mean μ of “{a.name}” ({len(a):,} items); "
                f"|v| = {self.vector.norm:.3f}"
            )
        self._update_sweep()

    # --- applying --------------------------------------------------------------------------

    @property
    def alpha_value(self) -> float:
        return self.alpha.value() / SLIDER_TICKS

    def base_code(self) -> np.ndarray | None:
        s = self.session
        if s.selection.selected >= 0:
            return s.opened.mu[s.selection.selected].astype(np.float64)
        if s.selection.drawing is not None:
            return s.selection.drawing.mu
        return None

    def _selection_changed(self, _index: int) -> None:
        if self.alpha.value() != 0:
            self.alpha.blockSignals(True)
            self.alpha.setValue(0)
            self.alpha.blockSignals(False)
            self.alpha_label.setText("α = +0.00")
        self._update_sweep()

    def _alpha_moved(self, _tick: int) -> None:
        self.alpha_label.setText(f"α = {self.alpha_value:+.2f}")
        base = self.base_code()
        if self.vector is None or base is None:
            return
        self.session.selection.show_latent(self.vector.apply(base, self.alpha_value), source="slider")

    def _update_sweep(self) -> None:
        """Decode the sweep of the selected item along v, show it, draw its path."""
        base = self.base_code()
        self.export.setEnabled(False)
        if self.vector is None or base is None or not self.session.opened.has_run:
            self.sweep_images = None
            self.strip.clear()
            if self.vector is not None:
                self.strip.setText("Select an item on the scatter to apply the vector to it.")
            return
        zs = self.vector.sweep(base, np.linspace(-ALPHA_RANGE, ALPHA_RANGE, SWEEP_FRAMES))
        self.sweep_images = self.session.opened.decode(zs)
        self.strip.setPixmap(im.rgb_to_pixmap(im.tile(self.sweep_images, columns=SWEEP_FRAMES, size=56)))
        self.session.selection.show_path(zs)
        self.export.setEnabled(True)

    def export_sweep(self, path: str) -> None:
        if self.sweep_images is not None:
            im.save_png(im.tile(self.sweep_images, columns=SWEEP_FRAMES, size=64), path,
                        self.session.opened.provenance())

    def _export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export attribute sweep", "attribute-sweep.png", "PNG (*.png)")
        if path:
            self.export_sweep(path)
