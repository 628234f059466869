"""File ▸ Open model…: the user's own VAE (the PyTorch-examples VAE and a conv VAE, written and
trained in the tests) opened through the dialog's fields by qtbot; the window then explores
the user's network. Errors stay in the dialog, the fields filled in, and the model already
open stays open; what was opened is remembered for next time."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt
from test_open_user_model import check_clicks_drags_and_sliders, check_elbo_tab

from latentexplorer.gui.widgets.open_model_dialog import OpenModelDialog, recent_models
from latentexplorer.models import WrappedModel
from latentexplorer.opening import ModelSpec

LEFT = Qt.MouseButton.LeftButton


def open_dialog(window, qtbot) -> OpenModelDialog:
    window.open_model_action.trigger()
    dialog = window.model_dialog
    qtbot.waitExposed(dialog)
    return dialog


def type_into(qtbot, field, text: str) -> None:
    field.clear()
    qtbot.keyClicks(field, text)


def fill_fields(qtbot, dialog: OpenModelDialog, user, weights=None, init: str = "") -> None:
    type_into(qtbot, dialog.model, user.spec.split(":")[1])  # a class in a file needs no module
    type_into(qtbot, dialog.model_file, str(user.file))
    type_into(qtbot, dialog.weights, str(weights or user.weights))
    type_into(qtbot, dialog.init, init)
    dialog.data.setCurrentText("digits")
    assert dialog.data.currentData() == "digits"


@pytest.fixture
def fresh_recent(window):
    window.settings.remove("recentModels")
    window.recent.fill()
    yield window


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_the_dialog_opens_the_users_model_and_the_window_explores_it(fresh_recent, qtbot, trained_user_models,
                                                                    kind):
    window, user = fresh_recent, trained_user_models[kind]
    dialog = open_dialog(window, qtbot)
    fill_fields(qtbot, dialog, user)
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=10_000):
        qtbot.mouseClick(dialog.open_button, LEFT)
    assert not dialog.isVisible()
    assert isinstance(window.session.opened.model, WrappedModel)
    assert window.windowTitle().startswith(f"{user.weights.stem} — digits")
    qtbot.waitUntil(lambda: window.session.colouring.mixture is not None, timeout=30_000)
    check_clicks_drags_and_sliders(window, user, qtbot)
    if kind == "conv":
        check_elbo_tab(window, qtbot)


def test_an_error_stays_in_the_dialog_and_the_open_model_stays(fresh_recent, qtbot, trained_user_models):
    window = fresh_recent
    before = window.session.opened.run
    dialog = open_dialog(window, qtbot)
    fill_fields(qtbot, dialog, trained_user_models["mlp"], weights=trained_user_models["conv"].weights)
    qtbot.mouseClick(dialog.open_button, LEFT)
    assert dialog.isVisible() and dialog.error.isVisible()
    message = dialog.error.text()
    assert "do not fit VAE" in message and "missing: fc1.weight" in message and "unexpected: encoder.0.weight" in message
    assert window.session.opened.run is before and dialog.weights.text() == str(trained_user_models["conv"].weights)
    type_into(qtbot, dialog.init, "{latent: 2")
    qtbot.mouseClick(dialog.open_button, LEFT)
    assert "not JSON" in dialog.error.text()
    type_into(qtbot, dialog.init, "")
    type_into(qtbot, dialog.model, "NoSuchClass")
    qtbot.mouseClick(dialog.open_button, LEFT)
    assert "has no class NoSuchClass" in dialog.error.text()
    dialog.image_shape.setText("3,8,8")
    qtbot.mouseClick(dialog.open_button, LEFT)
    assert "shape (1, 8, 8), but the model is said to read (3, 8, 8)" in dialog.error.text()
    assert window.session.opened.run is before and recent_models(window.settings) == []
    dialog.reject()


def test_what_was_opened_is_offered_again(fresh_recent, qtbot, trained_user_models):
    window, user = fresh_recent, trained_user_models["conv"]
    dialog = open_dialog(window, qtbot)
    fill_fields(qtbot, dialog, user, init=json.dumps({"latent": 3}))
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=10_000):
        qtbot.mouseClick(dialog.open_button, LEFT)
    remembered = recent_models(window.settings)
    assert remembered == [ModelSpec(model="ConvVAE", weights=str(user.weights), model_file=str(user.file),
                                    init={"latent": 3}, data="digits")]
    entries = [a.text() for a in window.recent.menu.actions()]
    assert "Model: ConvVAE · conv_vae.pt · digits" in entries
    again = open_dialog(window, qtbot)  # a new dialog starts from the last model opened
    assert again.recent.count() == 2 and again.model.text() == "ConvVAE"
    assert again.weights.text() == str(user.weights) and json.loads(again.init.text()) == {"latent": 3}
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=10_000):
        qtbot.mouseClick(again.open_button, LEFT)
    assert isinstance(window.session.opened.model, WrappedModel)
    assert len(recent_models(window.settings)) == 1  # the same model is not listed twice
    np.testing.assert_allclose(window.session.opened.mu[:5], user.load().encode(
        window.session.opened.images.float_batch(np.arange(5)))[0].detach().numpy(), atol=1e-5)


def test_installed_plugins_are_offered_and_open(fresh_recent, qtbot, model_plugin):
    window = fresh_recent
    dialog = open_dialog(window, qtbot)
    offered = [dialog.plugin.itemText(i) for i in range(dialog.plugin.count())]
    assert "tiny-mapped (lex-plugin)" in offered and "broken (lex-plugin)" in offered
    dialog.plugin.setCurrentIndex(dialog.plugin.findData("broken"))
    assert not dialog.weights.isEnabled() and not dialog.model.isEnabled()
    qtbot.mouseClick(dialog.open_button, LEFT)
    assert dialog.isVisible() and "no GPU here" in dialog.error.text()
    dialog.plugin.setCurrentIndex(dialog.plugin.findData("sprites-16"))
    assert dialog.data.currentData() is None  # the plugin's own data: sprites, at its 16×16
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=10_000):
        qtbot.mouseClick(dialog.open_button, LEFT)
    assert window.session.opened.run.name == "sprites-16"
    assert window.session.opened.images.image_shape == (1, 16, 16)
    assert recent_models(window.settings)[0].plugin == "sprites-16"


def test_a_model_opened_from_the_command_line_is_offered_again(qtbot, trained_user_models, settings_folder):
    import gc

    from latentexplorer.cli import build_parser
    from latentexplorer.cli.open_model import prepare
    from latentexplorer.gui.app import start_window

    user = trained_user_models["mlp"]
    window = start_window(opened=prepare(build_parser().parse_args(["open", *user.flags])))
    qtbot.addWidget(window)
    try:
        assert recent_models(window.settings)[0] == ModelSpec(model=user.spec, weights=str(user.weights),
                                                              model_file=str(user.file), data="digits")
        assert f"Model: {user.spec} · vae.pt · digits" in [a.text() for a in window.recent.menu.actions()]
    finally:
        window.session.shutdown()
        window.close()
        gc.unfreeze()
