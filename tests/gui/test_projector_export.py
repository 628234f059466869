"""File ▸ Export projector…: the open run's codes, labels and the GMM assignment the scatter
shows, written for the Embedding Projector through the menu's action."""

from __future__ import annotations

import json

import numpy as np
from PySide6.QtWidgets import QFileDialog

from latentexplorer.analysis import projector as pj


def test_file_export_projector_writes_the_codes_and_the_shown_mixture(window, qtbot, tmp_path, monkeypatch):
    out = tmp_path / "projector"
    out.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(out)))
    file_menu = window.menuBar().actions()[0].menu()
    assert window.export_projector_action in file_menu.actions()
    assert window.export_projector_action.isEnabled()
    window.export_projector_action.trigger()
    qtbot.waitUntil(lambda: "wrote the projector files" in window.statusBar().currentMessage(), timeout=20_000)

    s = window.session
    tensors = np.loadtxt(out / pj.TENSORS, delimiter="\t", dtype=np.float32)
    np.testing.assert_array_equal(tensors, s.opened.mu)
    lines = (out / pj.METADATA).read_text().rstrip("\n").split("\n")
    assert lines[0] == "item\tlabel\tgmm" and len(lines) == 1 + len(s.opened.mu)
    gmm = [int(line.split("\t")[2]) for line in lines[1:]]
    assert gmm == s.colouring.mixture.labels.tolist()
    config = json.loads((out / pj.CONFIG_JSON).read_text())
    assert config["embeddings"][0]["tensorName"] == "digits-vae-2d"
    assert (out / pj.SPRITE).is_file() and (out / pj.CONFIG_PBTXT).is_file()


def test_a_cancelled_dialog_writes_nothing(window, tmp_path, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: ""))
    assert window.exports.export_projector() is None
