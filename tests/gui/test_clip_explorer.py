"""The explorer on the bundled CLIP run: caption search, caption previews instead of
reconstructions, decoder-only controls switched off, the similarity matrix."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from latentexplorer.bundled import bundled_run
from latentexplorer.data.sprites import make_sprites
from latentexplorer.gui.explorer.decoder_guard import REASON
from latentexplorer.gui.main_window import MainWindow
from latentexplorer.gui.state.previews import CaptionPreview

HEART = 2


@pytest.fixture
def clip_window(qtbot, kept_fits):
    """The main window on the bundled CLIP run with 3,000 freshly generated sprites."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=20_000), kept_fits():
        assert window.session.open_run(bundled_run("sprites-clip"), images=make_sprites(3000, size=32, seed=7))
    qtbot.wait(10)
    yield window
    window.session.shutdown()
    window.close()


def test_typing_a_caption_rings_matching_items_and_the_list_selects_them(clip_window, qtbot):
    window = clip_window
    panel = window.text_search
    assert panel.isVisible() and window.session.view.kind == "pca"
    shapes = window.session.opened.images.factors.indices[:, 0]
    qtbot.keyClicks(panel.query, "a heart")
    with qtbot.waitSignal(window.session.selection.matchesChanged, timeout=5000) as matched:
        qtbot.keyClick(panel.query, Qt.Key.Key_Return)
    found = matched.args[0]
    assert len(found) == 20 and panel.results.count() == 20
    share = float((shapes[found] == HEART).mean())
    assert share > 0.5, f"only {share:.0%} of the matches are hearts"  # a third would be chance
    assert window.scatter.matches.isVisible() and len(window.scatter.matches.data) == 20
    first = panel.results.item(0)
    rect = panel.results.visualItemRect(first)
    with qtbot.waitSignal(window.session.selection.selectionChanged, timeout=5000):
        qtbot.mouseClick(panel.results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.session.selection.selected == found[0]


def test_unknown_words_get_a_message_and_keep_the_previous_matches(clip_window, qtbot):
    panel = clip_window.text_search
    panel.search("a big square")
    before = panel.matches.copy()
    qtbot.keyClicks(panel.query, "a purple star")
    qtbot.keyClick(panel.query, Qt.Key.Key_Return)
    assert "purple" in panel.message.text() and "star" in panel.message.text()
    assert np.array_equal(panel.matches, before)


def test_clicking_a_point_shows_the_image_and_captions_without_decoding(clip_window, qtbot, monkeypatch):
    window = clip_window
    session = window.session

    def no_decoding(*_):
        raise AssertionError("a CLIP run must never decode")

    monkeypatch.setattr(session.opened, "decode", no_decoding)
    index = int(np.flatnonzero(session.opened.images.factors.indices[:, 0] == HEART)[0])
    x, y = session.view.xy[index]
    with qtbot.waitSignal(session.selection.previewChanged, timeout=5000) as shown:
        qtbot.mouseClick(window.scatter.plot.viewport(), Qt.MouseButton.LeftButton,
                         pos=window.scatter.widget_pos_of(x, y).toPoint())
    preview = shown.args[0]
    assert isinstance(preview, CaptionPreview)
    assert len(preview.captions) == 5 and np.all(np.diff(preview.scores) <= 0)
    text = window.preview.info.text()
    assert preview.captions[0] in text and "reconstruction" not in window.preview.title.text()
    assert "original" in window.preview.shown
    # the controls that decode are off and say why; dragging or sampling decodes nothing
    for widget in (window.sliders, window.controls.prior, window.controls.draw):
        assert not widget.isEnabled() and widget.toolTip() == REASON
    assert not window.prior_action.isEnabled() and not window.traversal_action.isEnabled()
    session.selection.begin_interpolation(index)
    session.selection.interpolate_to(np.array([x + 1.0, y]), done=True)
    session.selection.decode_location(np.array([x, y]))
    assert session.selection.selected >= 0


def test_similarity_matrix_shows_a_bright_diagonal(clip_window, qtbot):
    panel = clip_window.text_search
    qtbot.mouseClick(panel.matrix_button, Qt.MouseButton.LeftButton)
    dialog = panel.matrix_dialog
    qtbot.waitExposed(dialog)
    assert dialog.matrix.shape == (16, 16) and len(dialog.captions) == 16
    own_best = (dialog.matrix.argmax(1) == np.arange(16)).mean()
    assert own_best > 0.5
    assert dialog.image.image.shape == (16, 16)
    dialog.close()


def test_a_decoder_run_gets_its_controls_back(clip_window, qtbot):
    window = clip_window
    with qtbot.waitSignal(window.session.opened.runChanged, timeout=20_000):
        assert window.open_run(bundled_run("digits-vae-2d"))
    assert not window.text_search.isVisible()
    assert window.sliders.isEnabled() and window.controls.prior.isEnabled()
    assert window.controls.prior.toolTip() != REASON
