"""The layers of the latent map: what the scatter shows besides the points.

Vocabulary: layer (decoded atlas, thumbnails, aggregate posterior vs prior, true posterior),
on/off, opacity, and the figures a layer computed for the panel (the KL of q(z) to p(z), the
log-evidence of the selected item). Each layer's drawing lives in the Explorer room; this object
only holds the choices every view shares, so the Layers menu, the panel and the scatter's
layers agree, and a test can switch a layer without a menu."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

ATLAS = "atlas"
THUMBNAILS = "thumbnails"
AGGREGATE = "aggregate"
TRUE_POSTERIOR = "true_posterior"
LAYERS = {
    ATLAS: "Decoded atlas",
    THUMBNAILS: "Thumbnails when zoomed in",
    AGGREGATE: "Aggregate posterior q(z) vs prior p(z)",
    TRUE_POSTERIOR: "True posterior p(z|x) (2-D latents)",
}
"""Every layer, in the Layers menu's order, with its name there."""
DEFAULT_OPACITY = {ATLAS: 0.8, THUMBNAILS: 1.0, AGGREGATE: 0.6, TRUE_POSTERIOR: 0.7}


class MapLayers(QObject):
    layerToggled = Signal(str, bool)  # a layer was switched on or off
    opacityChanged = Signal(str, float)
    figuresChanged = Signal(str, object)  # a layer's figures for the panel (or None: none yet)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.enabled = {name: False for name in LAYERS}
        self.opacity = dict(DEFAULT_OPACITY)
        self.figures: dict[str, object] = {}

    def is_on(self, layer: str) -> bool:
        return self.enabled[layer]

    def set_enabled(self, layer: str, on: bool) -> None:
        if layer not in LAYERS:
            raise ValueError(f"no layer {layer!r}; layers: {', '.join(LAYERS)}")
        if self.enabled[layer] != bool(on):
            self.enabled[layer] = bool(on)
            if not on:
                self.set_figures(layer, None)
            self.layerToggled.emit(layer, bool(on))

    def set_opacity(self, layer: str, opacity: float) -> None:
        opacity = min(1.0, max(0.0, float(opacity)))
        if self.opacity[layer] != opacity:
            self.opacity[layer] = opacity
            self.opacityChanged.emit(layer, opacity)

    def set_figures(self, layer: str, figures: object) -> None:
        """What a layer computed for the panel (a record of `analysis`), or None."""
        if figures is None:
            self.figures.pop(layer, None)
        else:
            self.figures[layer] = figures
        self.figuresChanged.emit(layer, figures)
