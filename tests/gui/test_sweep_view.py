"""The β sweep view: the trade-off plot, the table, and opening a run of the sweep."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from latentexplorer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from latentexplorer.gui.training.sweep_view import SweepView
from latentexplorer.training.sweep import SweepConfig, run_sweep


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory) -> Path:
    """A real sweep of two tiny β-VAEs on 300 sprites of 16 px, one epoch each."""
    run = RunConfig(
        model=ModelConfig(kind="betavae", latent_dim=3, architecture="mlp", hidden=(32,)),
        train=TrainConfig(epochs=1, batch_size=64, threads=1),
        data=DataConfig(name="sprites", n=300, size=16),
    )
    out = tmp_path_factory.mktemp("sweep") / "sweep"
    config = SweepConfig(run=run, betas=(1.0, 4.0), eval_items=100, eval_k=4)
    assert run_sweep(config, out).status == "completed"
    return out


def click_row(qtbot, table, row: int) -> None:
    rect = table.visualItemRect(table.item(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_the_view_plots_each_curve_at_every_beta_and_opens_the_selected_run(session, qtbot, sweep_folder):
    view = SweepView(session)
    qtbot.addWidget(view)
    assert view.open_sweep(sweep_folder)
    view.show()
    qtbot.waitExposed(view)
    assert view.objectName() == "sweepView"
    for name in ("reconstruction error", "KL", "MIG"):
        x, y = view.curves[name].getData()
        assert np.allclose(x, [0.0, 2.0]), name  # log2 β
        assert len(y) == 2 and np.all((y >= 0) & (y <= 1))
    ticks = view.plot.getAxis("bottom")._tickLevels[0]
    assert [label for _, label in ticks] == ["1", "4"]
    table = view.table
    assert table.rowCount() == 2
    assert [table.item(i, 0).text() for i in range(2)] == ["1", "4"]
    assert [table.item(i, 7).text() for i in range(2)] == ["beta-1", "beta-4"]
    assert [table.item(i, 1).text() for i in range(2)] == ["–", "–"]  # no seeds
    assert not any(bars.isVisible() for bars in view.error_bars.values())  # one run per β: no interval
    assert "no intervals" in view.caption.text()
    assert not view.open_button.isEnabled()

    click_row(qtbot, table, 1)
    assert view.open_button.isEnabled()
    with qtbot.waitSignal(session.opened.runChanged, timeout=20_000):
        qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
    assert session.opened.run.folder == sweep_folder / "beta-4"
    assert session.opened.run.config.model.beta == 4.0 and session.opened.images.name == "sprites"
    assert session.opened.latent_dim == 3


def test_a_folder_that_is_not_a_sweep_gets_a_message_and_the_view_keeps_its_sweep(
    session, qtbot, sweep_folder, tmp_path
):
    view = SweepView(session)
    qtbot.addWidget(view)
    assert view.open_sweep(sweep_folder)
    with qtbot.waitSignal(session.errorOccurred) as error:
        assert not view.open_sweep(tmp_path)
    assert "is not a β sweep folder" in error.args[0]
    assert view.folder == sweep_folder and view.table.rowCount() == 2
    assert len(view.curves["KL"].getData()[0]) == 2


def test_file_menu_opens_a_sweep_in_the_sweep_view(window, qtbot, sweep_folder, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(sweep_folder))
    file_menu = window.menuBar().actions()[0].menu()
    assert window.open_sweep_action in file_menu.actions()
    window.open_sweep_action.trigger()
    view = window.findChild(SweepView, "sweepView")
    assert view is not None and view.isVisible()
    assert view.table.rowCount() == 2


def test_seeds_give_each_curve_error_bars_of_the_t_interval_scaled_with_it(session, qtbot, tmp_path):
    from scipy import stats

    from latentexplorer.training.sweep_results import SweepRow, write_results

    kl = {1.0: [3.0, 3.5, 4.5], 4.0: [1.0, 1.2, 0.8]}
    rows = [SweepRow(beta=b, recon=-100.0 * b - s, kl=k, elbo=-100.0 * b - s - k, mig=None, active_units=2,
                     latent_dim=3, epochs=1, run=f"beta-{b:g}-seed-{s}", seed=s)
            for b, values in kl.items() for s, k in enumerate(values)]
    write_results(tmp_path, rows)
    view = SweepView(session)
    qtbot.addWidget(view)
    assert view.open_sweep(tmp_path)
    assert view.table.rowCount() == 6
    assert [view.table.item(i, 1).text() for i in range(3)] == ["0", "1", "2"]

    means = np.array([np.mean(v) for v in kl.values()])
    half = stats.t.ppf(0.975, 2) * np.array([np.std(v, ddof=1) for v in kl.values()]) / np.sqrt(3)
    low, high = (means - half).min(), (means + half).max()  # the curve is scaled over its bars
    bars = view.error_bars["KL"]
    assert isinstance(bars, pg.ErrorBarItem) and bars.isVisible() and bars in view.plot.getPlotItem().items
    np.testing.assert_allclose(bars.opts["x"], [0.0, 2.0])
    np.testing.assert_allclose(bars.opts["y"], (means - low) / (high - low))
    np.testing.assert_allclose(bars.opts["height"], 2 * half / (high - low))
    np.testing.assert_allclose(view.curves["KL"].getData()[1], (means - low) / (high - low))
    assert not view.error_bars["MIG"].isVisible() and not view.curves["MIG"].isVisible()
    assert "mean of 3 seeds" in view.caption.text()
