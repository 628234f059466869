"""The Layers menu and the layers it switches on the Explorer's scatter: the decoded atlas,
thumbnails, the aggregate posterior against the prior, and the true posterior of the selected
item. Each layer is its own module; this one builds them and the menu that drives
`session.layers`, so the main window adds one menu and nothing else."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from latentexplorer.gui.explorer.aggregate_layer import AggregateLayer
from latentexplorer.gui.explorer.atlas_layer import AtlasLayer
from latentexplorer.gui.explorer.layers_panel import LayersPanel
from latentexplorer.gui.explorer.thumbnails_layer import ThumbnailLayer
from latentexplorer.gui.explorer.true_posterior_layer import TruePosteriorLayer
from latentexplorer.gui.state.layers import LAYERS
from latentexplorer.gui.state.session import Session

MOSAIC_PX = 1024  # an exported atlas is enlarged to about this size on its longer side


class MapLayersView:
    """Every layer of the map on `scatter`, `menu` (the Layers menu) and `panel` (opacity and
    figures, shown under the scatter while a layer is on)."""

    def __init__(self, session: Session, scatter, window: QWidget) -> None:
        self.session, self.window = session, window
        self.atlas = AtlasLayer(session, scatter)
        self.thumbnails = ThumbnailLayer(session, scatter)
        self.aggregate = AggregateLayer(session, scatter)
        self.true_posterior = TruePosteriorLayer(session, scatter)
        self.panel = LayersPanel(session)
        self.menu = QMenu("&Layers", window)
        self.actions: dict[str, QAction] = {}
        for layer, name in LAYERS.items():
            action = self.menu.addAction(name)
            action.setCheckable(True)
            action.setObjectName(f"layer_{layer}")
            action.toggled.connect(lambda on, layer=layer: session.layers.set_enabled(layer, on))
            self.actions[layer] = action
        self.menu.addSeparator()
        self.export_atlas_action = self.menu.addAction("Export atlas mosaic…")
        self.export_atlas_action.triggered.connect(lambda: self.export_atlas())
        session.layers.layerToggled.connect(self._layer_toggled)

    def _layer_toggled(self, layer: str, on: bool) -> None:
        action = self.actions[layer]
        if action.isChecked() != on:
            action.blockSignals(True)
            action.setChecked(on)
            action.blockSignals(False)

    def export_atlas(self, path: str | None = None) -> str | None:
        """The atlas of the visible region alone, as a PNG mosaic."""
        from latentexplorer.gui.widgets import images as im

        if not self.session.opened.has_decoder:
            self.session.report_error("this model has no decoder: there is no atlas to export")
            return None
        mosaic = self.atlas.mosaic()
        if mosaic is None:
            self.session.report_error("the atlas has no decoded tiles: switch on Layers ▸ Decoded atlas")
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self.window, "Export atlas mosaic", "atlas.png", "PNG (*.png)")
        if not path:
            return None
        factor = max(1, MOSAIC_PX // max(mosaic.shape[:2]))  # pixels stay square and sharp
        mosaic = np.repeat(np.repeat(mosaic, factor, axis=0), factor, axis=1)
        try:
            im.save_png(mosaic, path, self.session.opened.provenance())
        except OSError as exc:
            self.session.report_error(f"could not write {path}: {exc}")
            return None
        return path
