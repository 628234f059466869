"""The Layers menu's aggregate posterior and true posterior, seen through the real window:
switched on from the menu, they draw what the maths says for the region on screen, follow a
zoom, fill the panel with their figures, and go when switched off; the Compare tab shows q(z)
against p(z) for an autoencoder and a VAE side by side."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from test_explorer import point_of_item

from latentexplorer.analysis.aggregate_view import density_in_view
from latentexplorer.analysis.true_posterior import log_joint_grid
from latentexplorer.gui.state.layers import AGGREGATE, TRUE_POSTERIOR

LEFT = Qt.MouseButton.LeftButton


def switch_on(window, layer: str) -> None:
    action = window.map_layers.actions[layer]
    action.trigger()
    assert action.isChecked() and window.session.layers.is_on(layer)


def test_the_aggregate_layer_draws_q_against_the_prior_and_follows_a_zoom(window, qtbot):
    layer, session = window.map_layers.aggregate, window.session
    assert not window.map_layers.panel.isVisible()
    switch_on(window, AGGREGATE)
    qtbot.waitUntil(lambda: layer.shown is not None and layer.kl is not None, timeout=20_000)
    assert window.map_layers.panel.isVisible() and layer.image.isVisible() and layer.prior_curves[1].isVisible()
    shown = layer.shown
    x0, x1, y0, y1 = layer.visible_rect()
    assert shown.xs[0] > x0 and shown.xs[-1] < x1 and shown.ys[0] > y0 and shown.ys[-1] < y1
    o = session.opened
    expected = density_in_view(o.mu, o.logvar, session.view.projection, o.latent_dim, shown.xs, shown.ys)
    np.testing.assert_allclose(shown.q, expected.q, rtol=1e-6)
    # the picture: darker blue where q(z) is larger, red only on holes
    shade = layer.image.image
    assert shade.shape == (*shown.q.shape, 4)
    peak = np.unravel_index(np.argmax(shown.q), shown.q.shape)
    assert shade[peak][3] == shade[..., 3].max() > 0
    assert (layer.hole_image.image[..., 3] > 0).sum() == shown.holes.sum()
    # the panel: the KL estimate with its standard error
    text = window.map_layers.panel.figures[AGGREGATE].text()
    assert f"{layer.kl.kl:.3f} ± {layer.kl.se:.3f} nats" in text and "holes" in text
    assert np.isfinite(layer.kl.kl) and layer.kl.kl > 0 and layer.kl.se > 0
    # a zoom: the density is computed again for the smaller region
    window.scatter.view_box.scaleBy((0.5, 0.5))
    qtbot.waitUntil(lambda: layer.shown is not None and layer.shown.xs[-1] - layer.shown.xs[0]
                    < 0.6 * (shown.xs[-1] - shown.xs[0]), timeout=10_000)
    # opacity from the panel's slider
    before = int(layer.image.image[..., 3].max())
    window.map_layers.panel.sliders[AGGREGATE].setValue(20)
    assert session.layers.opacity[AGGREGATE] == pytest.approx(0.2)
    assert int(layer.image.image[..., 3].max()) < before
    # off: nothing drawn, the panel goes
    window.map_layers.actions[AGGREGATE].trigger()
    assert not layer.image.isVisible() and not layer.prior_curves[0].isVisible()
    assert not window.map_layers.panel.isVisible()


def test_the_true_posterior_of_the_clicked_item_and_its_evidence(window, qtbot):
    layer, session = window.map_layers.true_posterior, window.session
    switch_on(window, TRUE_POSTERIOR)
    qtbot.waitUntil(lambda: "select an item" in window.map_layers.panel.figures[TRUE_POSTERIOR].text(), timeout=5000)
    with qtbot.waitSignal(session.selection.selectionChanged, timeout=5000):
        qtbot.mouseClick(window.scatter.plot.viewport(), LEFT, pos=point_of_item(window, 10))
    index = session.selection.selected
    qtbot.waitUntil(lambda: layer.shown is not None and layer.figures is not None
                    and layer.figures.evidence is not None, timeout=30_000)
    found = layer.figures.evidence
    assert layer.figures.what == f"item {index}"
    assert found.log_px >= found.elbo - 1e-3 and found.gap == pytest.approx(found.log_px - found.elbo)
    # IWAE-1000 estimates log p(x) from below in expectation; one seeded draw may land a little above
    assert abs(found.iwae - found.log_px) < 0.3 and found.covered
    text = window.map_layers.panel.figures[TRUE_POSTERIOR].text()
    assert f"log p(x) = {found.log_px:.3f}" in text and f"ELBO {found.elbo:.3f}" in text and "gap" in text
    # the picture is p(z|x) on the visible grid, under q(z|x)'s ellipses
    x = session.opened.images.float_batch(np.array([index]))
    log_joint = log_joint_grid(session.opened.model, x, layer.shown.xs, layer.shown.ys)
    expected = np.exp(log_joint - log_joint.max())
    np.testing.assert_allclose(layer.shown.density, expected / expected.sum(), rtol=1e-5, atol=1e-12)
    assert layer.image.isVisible() and layer.image.zValue() < window.scatter.posterior_1s.zValue()
    alpha = layer.image.image[..., 3]
    peak = np.unravel_index(np.argmax(layer.shown.density), alpha.shape)
    assert alpha[peak] == alpha.max() > 0 and (alpha == 0).any()
    # another item: another posterior
    with qtbot.waitSignal(session.selection.selectionChanged, timeout=5000):
        session.selection.select(500)
    qtbot.waitUntil(lambda: layer.figures.what == "item 500" and layer.figures.evidence is not None, timeout=30_000)
    assert layer.figures.evidence.log_px != pytest.approx(found.log_px)


def test_the_true_posterior_says_why_not_for_a_wider_latent(sprites_window, qtbot):
    switch_on(sprites_window, TRUE_POSTERIOR)
    qtbot.waitUntil(lambda: "2-D latent" in sprites_window.map_layers.panel.figures[TRUE_POSTERIOR].text(),
                    timeout=5000)
    assert "this one has 8" in sprites_window.map_layers.panel.figures[TRUE_POSTERIOR].text()
    assert not sprites_window.map_layers.true_posterior.image.isVisible()


def test_the_aggregate_layer_follows_a_pca_view(sprites_window, qtbot):
    session, layer = sprites_window.session, sprites_window.map_layers.aggregate
    session.set_projection("pca")
    switch_on(sprites_window, AGGREGATE)
    qtbot.waitUntil(lambda: layer.shown is not None and layer.kl is not None, timeout=30_000)
    o = session.opened
    expected = density_in_view(o.mu, o.logvar, session.view.projection, o.latent_dim, layer.shown.xs, layer.shown.ys)
    np.testing.assert_allclose(layer.shown.q, expected.q, rtol=1e-6)
    assert layer.prior_curves[0].isVisible()


def test_the_compare_tab_shows_q_against_p_for_an_ae_and_a_vae(window, qtbot):
    tab = window.compare
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.left.data is not None and tab.right.data is not None, timeout=60_000)
    tab.aggregate.setChecked(True)
    for side in (tab.left, tab.right):
        assert side.density.isVisible() and side.prior_curves[2].isVisible()
        assert "KL(q(z) ‖ p(z))" in side.figures.text()
    kinds = {side.data.run.config.model.kind: side.data for side in (tab.left, tab.right)}
    if "ae" in kinds and "vae" in kinds:  # the lesson: an AE's q(z) is points, far from the prior
        assert not np.isfinite(kinds["ae"].kl.kl) and np.isfinite(kinds["vae"].kl.kl)
    tab.aggregate.setChecked(False)
    assert not tab.left.density.isVisible()


def test_the_panel_says_what_an_autoencoder_and_an_embedding_cannot_show(window, qtbot):
    from latentexplorer.bundled import bundled_run

    window.session.open_run(bundled_run("digits-ae-2d"))
    switch_on(window, TRUE_POSTERIOR)
    window.session.selection.select(3)
    label = window.map_layers.panel.figures[TRUE_POSTERIOR]
    qtbot.waitUntil(lambda: "log p(x) =" in label.text(), timeout=30_000)
    assert "autoencoder's q(z|x) is a point" in label.text() and "nan" not in label.text()
    switch_on(window, "atlas")
    assert window.map_layers.panel.figures["atlas"].text() == ""
    window.session.open_run(bundled_run("sprites-clip"))
    assert "no decoder" in window.map_layers.panel.figures["atlas"].text()


def test_file_export_scatter_saves_the_layers_with_the_points(window, qtbot, tmp_path, monkeypatch):
    from PIL import Image
    from PySide6.QtWidgets import QFileDialog

    def exported(name: str) -> np.ndarray:
        target = tmp_path / name
        monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
        window.export_scatter_action.trigger()
        return np.asarray(Image.open(target).convert("RGB")).astype(int)

    def bluish(pixels: np.ndarray) -> float:  # the share in q(z)'s shade: blue well above red
        return float(((pixels[..., 2] - pixels[..., 0]) > 25).mean())

    plain = exported("plain.png")
    switch_on(window, AGGREGATE)
    qtbot.waitUntil(lambda: window.map_layers.aggregate.shown is not None, timeout=20_000)
    with_layer = exported("aggregate.png")
    assert bluish(with_layer) > bluish(plain) + 0.05  # (the panel, now shown, made the plot shorter)


def test_a_linear_model_and_a_users_model_get_the_layers_too(window, qtbot, trained_user_models):
    from dataclasses import replace
    from pathlib import Path

    from test_atlas_layer import assert_tiles_are_decodes, wait_for_atlas

    from latentexplorer.checkpoint import Run
    from latentexplorer.cli import build_parser
    from latentexplorer.cli.open_model import prepare
    from latentexplorer.config import ModelConfig
    from latentexplorer.models import fit_linear_model

    session = window.session
    images = session.opened.images
    fa = fit_linear_model(ModelConfig(kind="fa", image_shape=(1, 8, 8), latent_dim=2), images.float_batch())
    run = Run(folder=Path("fa-2d"), config=replace(session.opened.run.config, model=fa.config), model=fa)
    with qtbot.waitSignal(session.opened.runChanged, timeout=10_000):
        session.use_model(run, images)
    switch_on(window, "atlas")
    switch_on(window, TRUE_POSTERIOR)
    wait_for_atlas(window.map_layers.atlas, qtbot)
    assert_tiles_are_decodes(session, window.map_layers.atlas)
    session.selection.select(7)
    layer = window.map_layers.true_posterior
    qtbot.waitUntil(lambda: layer.figures is not None and layer.figures.evidence is not None, timeout=30_000)
    found = layer.figures.evidence
    assert abs(found.gap) < 1e-3  # factor analysis's q(z|x) is its exact posterior
    user = trained_user_models["conv"]
    with qtbot.waitSignal(session.opened.runChanged, timeout=10_000):
        session.use_model(*prepare(build_parser().parse_args(["open", *user.flags])))
    wait_for_atlas(window.map_layers.atlas, qtbot)
    assert_tiles_are_decodes(session, window.map_layers.atlas)
    qtbot.waitUntil(lambda: "this one has 3" in window.map_layers.panel.figures[TRUE_POSTERIOR].text(), timeout=5000)
