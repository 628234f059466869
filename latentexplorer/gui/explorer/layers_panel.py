"""Under the scatter while a layer of the map is on: its opacity, and the figures it computed
(the KL of the aggregate posterior to the prior; the selected item's log p(x), ELBO, IWAE bound
and their gap), so the numbers the chapter is about sit beside the picture that shows them."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QSlider, QWidget

from latentexplorer.gui.state.layers import AGGREGATE, ATLAS, LAYERS, THUMBNAILS, TRUE_POSTERIOR
from latentexplorer.gui.state.session import Session

SHORT_NAMES = {ATLAS: "Atlas", AGGREGATE: "q(z) vs p(z)", TRUE_POSTERIOR: "p(z|x)"}


def aggregate_text(figures) -> str:
    parts = []
    kl = getattr(figures, "kl", None)
    if kl is None:
        parts.append("KL(q(z) ‖ p(z)): estimating…")
    elif kl.note and not kl.kl < float("inf"):
        parts.append(f"KL(q(z) ‖ p(z)): {kl.note}")
    else:
        parts.append(f"KL(q(z) ‖ p(z)) ≈ {kl.kl:.3f} ± {kl.se:.3f} nats "
                     f"(Monte Carlo, {kl.samples:,} samples, {kl.items:,} items)")
    fraction = getattr(figures, "hole_fraction", None)
    if fraction is not None:
        parts.append(f"holes (red): {fraction:.0%} of the prior's 2σ region in view")
    return " · ".join(parts)


def posterior_text(figures) -> str:
    if figures.note:
        return figures.note
    found = figures.evidence
    if found is None:
        return f"{figures.what}: integrating log p(x) over a grid…"
    if math.isnan(found.elbo):  # a point posterior
        text = (f"{figures.what}: log p(x) = {found.log_px:.3f} (grid, with the prior N(0, I)) · an "
                "autoencoder's q(z|x) is a point: it has no ELBO or IWAE bound to compare")
        return text + (f"<br><span style='color:#b05000'>{found.warning}</span>" if found.warning else "")
    text = (f"{figures.what}: log p(x) = {found.log_px:.3f} (grid) · ELBO {found.elbo:.3f} · "
            f"IWAE-{found.k} {found.iwae:.3f} · gap log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)) = {found.gap:.3f} nats")
    if found.warning:
        text += f"<br><span style='color:#b05000'>{found.warning}</span>"
    return text


class LayersPanel(QGroupBox):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__("Layers", parent)
        self.setObjectName("layersPanel")
        self.session = session
        layout = QGridLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        self.sliders: dict[str, QSlider] = {}
        self.figures: dict[str, QLabel] = {}
        self.rows: dict[str, list[QWidget]] = {}
        for row, layer in enumerate(name for name in LAYERS if name != THUMBNAILS):
            name = QLabel(SHORT_NAMES[layer])
            slider = QSlider(Qt.Orientation.Horizontal, objectName=f"opacity_{layer}", minimum=0, maximum=100)
            slider.setValue(round(100 * session.layers.opacity[layer]))
            slider.setToolTip(f"Opacity of {LAYERS[layer]}")
            slider.setMaximumWidth(120)
            slider.valueChanged.connect(lambda value, layer=layer: session.layers.set_opacity(layer, value / 100))
            figures = QLabel(objectName=f"figures_{layer}", wordWrap=True)
            figures.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(name, row, 0)
            layout.addWidget(slider, row, 1)
            layout.addWidget(figures, row, 2)
            self.sliders[layer], self.figures[layer] = slider, figures
            self.rows[layer] = [name, slider, figures]
        layout.setColumnStretch(2, 1)
        session.layers.layerToggled.connect(self._toggled)
        session.layers.figuresChanged.connect(self._figures_changed)
        session.opened.runChanged.connect(self._say_what_the_atlas_cannot)
        for layer in self.rows:
            self._toggled(layer, session.layers.is_on(layer))

    def _toggled(self, layer: str, on: bool) -> None:
        for widget in self.rows.get(layer, []):
            widget.setVisible(on)
        self.setVisible(any(self.session.layers.is_on(name) for name in self.rows))
        if layer == ATLAS:
            self._say_what_the_atlas_cannot()

    def _say_what_the_atlas_cannot(self) -> None:
        o = self.session.opened
        self.figures[ATLAS].setText("" if not o.has_run or o.has_decoder else
                                    "this model has no decoder (an embedding): there is nothing to decode")

    def _figures_changed(self, layer: str, figures) -> None:
        label = self.figures.get(layer)
        if label is None:
            return
        if figures is None:
            label.setText("")
        elif layer == AGGREGATE:
            label.setText(aggregate_text(figures))
        elif layer == TRUE_POSTERIOR:
            label.setText(posterior_text(figures))
