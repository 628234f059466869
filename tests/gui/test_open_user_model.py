"""`latentexplorer open` on a user's own PyTorch VAE (written here, as users write it, trained for
a moment and saved with `torch.save(model.state_dict(), …)`): the window explores it, and the
previews and the bounds come from the user's network."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from test_explorer import drag, point_of_item

from latentexplorer.cli import build_parser
from latentexplorer.cli.open_model import prepare
from latentexplorer.config import DataConfig
from latentexplorer.data import load_dataset
from latentexplorer.gui.app import start_window
from latentexplorer.gui.state.previews import InterpolationPreview, LocationPreview, PointPreview
from latentexplorer.models import WrappedModel
from latentexplorer.models.user_model import load_model_class


@pytest.fixture(scope="module")
def user_vae(tmp_path_factory, user_vae_source):
    """The user's file and weights, trained for 150 steps on the digits."""
    folder = tmp_path_factory.mktemp("user")
    (folder / "my_vae.py").write_text(user_vae_source)
    module = load_model_class("my_vae:VAE", folder / "my_vae.py")()
    x = load_dataset(DataConfig(name="digits")).float_batch(np.arange(1797)).flatten(1)
    optimiser = torch.optim.Adam(module.parameters(), lr=1e-2)
    torch.manual_seed(0)
    for _ in range(150):
        batch = x[torch.randint(0, len(x), (64,))]
        mu, logvar = module.encode(batch)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        recon = torch.nn.functional.binary_cross_entropy(module.decode(z), batch, reduction="sum")
        loss = (recon - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())) / len(batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    torch.save(module.state_dict(), folder / "vae.pt")
    return folder


@pytest.fixture
def user_window(qtbot, user_vae):
    args = build_parser().parse_args(["open", "--model", "my_vae:VAE", "--model-file",
                                      str(user_vae / "my_vae.py"), "--weights", str(user_vae / "vae.pt")])
    window = start_window(opened=prepare(args))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.session.colouring.mixture is not None, timeout=30_000)
    yield window
    window.session.shutdown()
    window.close()
    gc.unfreeze()  # start_window froze the heap


def users_decode(window, z) -> np.ndarray:
    module = window.session.opened.model.module
    with torch.no_grad():
        return module.decode(torch.as_tensor(np.atleast_2d(z), dtype=torch.float32)).view(-1, 1, 8, 8).numpy()


def test_clicks_drags_and_sliders_show_the_users_model(user_window, qtbot):
    window, session = user_window, user_window.session
    model = session.opened.model
    assert isinstance(model, WrappedModel) and session.opened.run.name == "vae"
    assert "VAE" in window.status.text() and "1,797 items" in window.status.text()
    # a click: the reconstruction is the user's decode of the item's μ
    viewport = window.scatter.plot.viewport()
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000) as shown:
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=point_of_item(window, 100))
    preview = shown.args[0]
    assert isinstance(preview, PointPreview)
    i = preview.index
    np.testing.assert_allclose(preview.reconstruction, users_decode(window, session.opened.mu[i])[0], atol=1e-5)
    # a slider: the location decoded is the user's decode of the z shown
    row = window.sliders.rows[window.sliders.order[0]]
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000) as moved:
        row.slider.setValue(row.slider.maximum())
    assert isinstance(moved.args[0], LocationPreview)
    np.testing.assert_allclose(moved.args[0].image, users_decode(window, moved.args[0].z)[0], atol=1e-5)
    # a drag from one item to another: every frame is the user's decode of the path
    far = int(np.argmax(np.linalg.norm(session.view.xy - session.view.xy[i], axis=1)))
    frames = []
    session.selection.previewChanged.connect(frames.append)
    drag(qtbot, window, point_of_item(window, i), point_of_item(window, far))
    session.selection.previewChanged.disconnect(frames.append)
    path = [p for p in frames if isinstance(p, InterpolationPreview)][-1]
    assert path.done and len(path.frames) >= 2
    np.testing.assert_allclose(path.frames, users_decode(window, path.zs), atol=1e-5)


def test_the_elbo_tab_bounds_the_users_model(user_window, qtbot):
    window = user_window
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
