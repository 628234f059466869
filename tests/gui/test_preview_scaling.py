"""The preview's images scale to the space the pane has: a larger window (or splitter share)
draws larger tiles, by integer factors for the 8×8 digits, and a smaller one smaller; the
interpolation strip's frames follow."""

from __future__ import annotations

from PySide6.QtWidgets import QSplitter

from latentexplorer.gui.explorer.preview_pane import SMALLEST, tile_layout


def settle(qtbot, window, width: int, height: int) -> None:
    window.resize(width, height)
    qtbot.waitUntil(lambda: window.size().width() == width, timeout=2000)
    qtbot.wait(80)  # the pane refits 20 ms after the resize settles


def recon_width(window) -> int:
    return window.preview.tiles[1].picture.pixmap().width()


def strip_height(window) -> int:
    return window.preview.strip.pixmap().height()


def test_tile_layout_fills_the_space_and_never_goes_below_the_smallest_tile():
    assert tile_layout(6, 1200, 300)[0] == 6  # wide and low: one row
    assert tile_layout(6, 600, 900)[0] in (2, 3)  # tall: rows
    columns, size = tile_layout(2, 700, 600)
    assert columns == 2 and size > 300
    assert tile_layout(6, 130, 100) == (2, SMALLEST)  # cramped: as many columns as fit


def test_previews_grow_and_shrink_with_the_window_and_the_splitter(window, qtbot):
    session, preview = window.session, window.preview
    settle(qtbot, window, 1000, 700)
    session.selection.select(3)
    qtbot.waitUntil(lambda: "reconstruction" in preview.shown, timeout=2000)
    qtbot.wait(80)
    small = recon_width(window)
    assert small % 8 == 0 and small >= SMALLEST  # 8×8 digits, scaled by an integer factor

    settle(qtbot, window, 1800, 1200)
    qtbot.waitUntil(lambda: recon_width(window) > small, timeout=2000)
    large = recon_width(window)
    assert large % 8 == 0
    assert preview.tiles[1].picture.width() >= large  # the label holds its whole picture

    splitter = window.preview.parentWidget()
    while not isinstance(splitter, QSplitter) or splitter.orientation().name != "Horizontal":
        splitter = splitter.parentWidget()
    total = sum(splitter.sizes())
    splitter.setSizes([total - 420, 420])  # a narrow preview column
    qtbot.waitUntil(lambda: recon_width(window) < large, timeout=2000)
    narrow = recon_width(window)

    splitter.setSizes([total // 3, total - total // 3])
    qtbot.waitUntil(lambda: recon_width(window) > narrow, timeout=2000)


def test_the_interpolation_strip_follows_the_window(window, qtbot):
    session, preview = window.session, window.preview
    settle(qtbot, window, 1000, 700)
    session.selection.begin_interpolation(3)
    session.selection.interpolate_to(40, done=True)
    qtbot.waitUntil(lambda: preview.strip.pixmap() is not None and not preview.strip.pixmap().isNull(), timeout=2000)
    qtbot.wait(80)
    small = strip_height(window)
    settle(qtbot, window, 1800, 1200)
    qtbot.waitUntil(lambda: strip_height(window) > small, timeout=2000)
    assert preview.shown["strip"].shape[0] == strip_height(window)
    settle(qtbot, window, 1000, 700)
    qtbot.waitUntil(lambda: strip_height(window) == small, timeout=2000)
