"""File ▸ Fit PCA / factor analysis of this data…, driven through the real menu and dialog."""

from __future__ import annotations

from PySide6.QtCore import Qt

from latentexplorer.checkpoint import is_run_folder

LEFT = Qt.MouseButton.LeftButton


def _fill_dialog(qtbot, window, kind: str, latent_dim: int, out) -> None:
    window.linear_fit.action.trigger()
    dialog = window.linear_fit.dialog
    qtbot.waitUntil(dialog.isVisible)
    dialog.kind.setCurrentIndex(dialog.kind.findData(kind))
    dialog.latent_dim.setValue(latent_dim)
    dialog.out.setText(str(out))
    qtbot.mouseClick(dialog.ok_button, LEFT)


def test_fitting_factor_analysis_opens_it_with_its_noise_variances(qtbot, window, tmp_path):
    assert window.linear_fit.action in window.menuBar().actions()[0].menu().actions()
    out = tmp_path / "digits-fa"
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=30_000):
        _fill_dialog(qtbot, window, "fa", 3, out)
        assert window.linear_fit.task is not None, "the fit runs in a worker thread"
        assert not window.linear_fit.action.isEnabled()
    assert is_run_folder(out)
    s = window.session
    assert s.opened.run.config.model.kind == "fa" and s.opened.mu.shape == (1797, 3)
    status = window.status.text()
    assert "factor analysis" in status and "noise variance Ψ per pixel: mean" in status
    assert window.linear_fit.action.isEnabled()


def test_pca_status_shows_the_explained_variance_per_component(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=30_000):
        _fill_dialog(qtbot, window, "pca", 2, tmp_path / "pca")
    model = window.session.opened.model
    ratios = model.explained_variance_ratio.numpy()
    status = window.status.text()
    assert f"{100 * ratios[0]:.1f}, {100 * ratios[1]:.1f} %" in status
    assert f"total {100 * ratios.sum():.1f} %" in status


def test_a_folder_holding_a_run_is_refused_and_the_open_run_stays(qtbot, window, tmp_path):
    out = tmp_path / "taken"
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=30_000):
        _fill_dialog(qtbot, window, "pca", 2, out)
    with qtbot.waitSignal(window.session.errorOccurred, timeout=30_000) as blocker:
        _fill_dialog(qtbot, window, "fa", 2, out)
    assert "already holds a run" in blocker.args[0]
    assert window.session.opened.run.config.model.kind == "pca"
