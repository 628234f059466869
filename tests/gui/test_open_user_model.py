"""`latentexplorer open` on a user's own PyTorch VAEs (the PyTorch-examples MLP VAE and a conv
VAE, written as users write them, trained for a moment and saved with
`torch.save(model.state_dict(), …)`: the `trained_user_models` fixture): the window explores
each, and the previews and the bounds come from the user's network."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from PySide6.QtCore import Qt
from test_explorer import drag, point_of_item

from latentexplorer.cli import build_parser
from latentexplorer.cli.open_model import prepare
from latentexplorer.gui.app import start_window
from latentexplorer.gui.state.previews import InterpolationPreview, LocationPreview, PointPreview
from latentexplorer.models import WrappedModel


@pytest.fixture(params=["mlp", "conv"])
def user_window(request, qtbot, trained_user_models):
    """The window `latentexplorer open --model … --weights …` opens, and the user's model."""
    user = trained_user_models[request.param]
    window = start_window(opened=prepare(build_parser().parse_args(["open", *user.flags])))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.session.colouring.mixture is not None, timeout=30_000)
    yield window, user
    window.session.shutdown()
    window.close()
    gc.unfreeze()  # start_window froze the heap


def test_clicks_drags_and_sliders_show_the_users_model(user_window, qtbot):
    window, user = user_window
    assert window.session.opened.run.name == user.weights.stem
    check_clicks_drags_and_sliders(window, user, qtbot)


def test_the_elbo_tab_bounds_the_users_model(user_window, qtbot):
    check_elbo_tab(user_window[0], qtbot)


def check_clicks_drags_and_sliders(window, user, qtbot) -> None:
    """A click, a slider and a drag on a window showing the user's model: every image is the
    user's own decode (shared by the CLI's, the dialog's and le.show's tests)."""
    session = window.session
    model = session.opened.model
    assert isinstance(model, WrappedModel)
    assert model.output == ("means" if user.decode_returns == "probabilities" else "logits")
    assert "VAE" in window.status.text() and "1,797 items" in window.status.text()
    # a click: the reconstruction is the user's decode of the item's μ
    viewport = window.scatter.plot.viewport()
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000) as shown:
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=point_of_item(window, 100))
    preview = shown.args[0]
    assert isinstance(preview, PointPreview)
    i = preview.index
    np.testing.assert_allclose(preview.reconstruction, user.images(session.opened.mu[i])[0], atol=1e-5)
    # a slider: the location decoded is the user's decode of the z shown
    row = window.sliders.rows[window.sliders.order[0]]
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000) as moved:
        row.slider.setValue(row.slider.maximum())
    assert isinstance(moved.args[0], LocationPreview)
    np.testing.assert_allclose(moved.args[0].image, user.images(moved.args[0].z)[0], atol=1e-5)
    # a drag from one item to another: every frame is the user's decode of the path
    far = int(np.argmax(np.linalg.norm(session.view.xy - session.view.xy[i], axis=1)))
    frames = []
    session.selection.previewChanged.connect(frames.append)
    drag(qtbot, window, point_of_item(window, i), point_of_item(window, far))
    session.selection.previewChanged.disconnect(frames.append)
    path = [p for p in frames if isinstance(p, InterpolationPreview)][-1]
    assert path.done and len(path.frames) >= 2
    np.testing.assert_allclose(path.frames, user.images(path.zs), atol=1e-5)


def check_elbo_tab(window, qtbot) -> None:
    """The ELBO tab evaluates the user's model: finite, consistent bounds."""
    tab = window.evaluation
    window.tabs.setCurrentWidget(tab)
    tab.items.setValue(100)
    tab.ks.setText("1, 10")
    with qtbot.waitSignal(tab.evaluated, timeout=60_000) as done:
        qtbot.mouseClick(tab.evaluate_button, Qt.MouseButton.LeftButton)
    curve = done.args[0].curve
    assert np.isfinite(curve.elbo) and curve.elbo == pytest.approx(curve.recon - curve.kl, abs=1e-3)
    assert curve.bound[1] >= curve.bound[0] - 0.5  # IWAE-10 is no looser than the ELBO
    assert tab.table.rowCount() >= 4
