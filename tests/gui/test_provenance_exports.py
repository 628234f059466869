"""Figures the window exports carry the open run's provenance: the preview and the manifold
mosaic (through `images.save_png`, as strips and the atlas mosaic) and the scatter (pyqtgraph's
PNG, stamped after). The scatter's SVG is stamped the same way (tests/test_provenance.py), but
pyqtgraph's SVG exporter itself fails under this Qt (pyqtgraph issue #3485), so no SVG is
exported here."""

from __future__ import annotations

import hashlib

from PySide6.QtWidgets import QFileDialog, QPushButton

from latentexplorer.checkpoint import WEIGHTS_FILE
from latentexplorer.provenance import read_png_provenance


def test_exported_figures_carry_the_runs_provenance(window, qtbot, tmp_path, monkeypatch):
    session = window.session
    weights = session.opened.run.folder / WEIGHTS_FILE
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()

    def export(trigger, name: str):
        target = tmp_path / name
        monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
        trigger()
        return target

    def save_manifold():  # the mosaic's own dialog, from its Save button
        window.manifold_action.trigger()
        return export(window.manifold_dialog.findChild(QPushButton).click, "manifold.png")

    session.selection.select(0)
    qtbot.waitUntil(lambda: window.preview.current_image() is not None, timeout=10_000)
    for path in (export(window.export_preview_action.trigger, "preview.png"),
                 export(window.export_scatter_action.trigger, "scatter.png"), save_manifold()):
        block = read_png_provenance(path)
        assert block["weights_sha256"] == sha and block["estimator"] == "figure" and block["k"] is None
        assert block["items"] == len(session.opened.images) and block["device"] == "cpu"
        assert block["precision"] == "fp32" and block["wall_time_s"] >= 0


def test_the_scatter_exports_as_svg_with_its_provenance(window, qtbot, tmp_path, monkeypatch):
    import json
    import xml.etree.ElementTree as ET

    target = tmp_path / "scatter.svg"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "SVG (*.svg)")))
    window.export_scatter_action.trigger()  # pyqtgraph's own SVG exporter raised on this plot
    root = ET.parse(target).getroot()
    assert root.tag.endswith("svg")
    tags = [e.tag.split("}")[-1] for e in root.iter()]
    assert tags.count("text") >= 8 and "image" in tags  # tick labels as text, the points' picture
    metadata = [e for e in root.iter() if e.get("id") == "latentexplorer:provenance"]
    block = json.loads(metadata[0].text)
    assert block["weights_sha256"] == hashlib.sha256(
        (window.session.opened.run.folder / WEIGHTS_FILE).read_bytes()).hexdigest()
