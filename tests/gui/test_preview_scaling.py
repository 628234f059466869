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


def test_a_clicked_item_and_its_reconstruction_are_drawn_large_with_the_samples_under_them(window, qtbot):
    """The pair a click compares gets the space; the posterior samples sit under it at half the
    size. In a narrow window the tiles wrap into rows instead of scrolling sideways."""
    session, preview = window.session, window.preview
    settle(qtbot, window, 1480, 900)
    session.selection.select(3)
    qtbot.waitUntil(lambda: "posterior3" in preview.shown, timeout=2000)
    qtbot.wait(80)
    original, reconstruction = (t.picture.pixmap().width() for t in preview.tiles[:2])
    samples = [t.picture.pixmap().width() for t in preview.tiles[2:]]
    assert original == reconstruction >= 2 * max(samples) - 8 and original >= 128
    assert original % 8 == 0 and all(s % 8 == 0 for s in samples)  # 8×8 digits, integer factors
    pair = [preview.tiles[i].mapTo(preview, preview.tiles[i].rect().topLeft()) for i in range(2)]
    under = [preview.tiles[i].mapTo(preview, preview.tiles[i].rect().topLeft()) for i in range(2, 6)]
    assert pair[0].y() == pair[1].y() < min(p.y() for p in under)  # side by side, samples below
    assert len({p.y() for p in under}) == 1  # the four samples in one row

    settle(qtbot, window, 1000, 700)
    session.selection.select(5)
    qtbot.waitUntil(lambda: preview.preview.index == 5 and "posterior3" in preview.shown, timeout=2000)
    qtbot.wait(80)
    scroll = preview.parentWidget().parentWidget()  # the pane's scroll area
    assert not scroll.horizontalScrollBar().isVisible()
    assert preview.width() <= scroll.viewport().width()


def test_the_sliders_take_only_the_height_their_rows_need(window, qtbot):
    """A 2-D model's two sliders leave the rest of the column to the preview."""
    settle(qtbot, window, 1480, 900)
    sliders = window.sliders
    splitter = sliders.parentWidget()
    assert isinstance(splitter, QSplitter)
    qtbot.waitUntil(lambda: splitter.sizes()[1] < 0.22 * sum(splitter.sizes()), timeout=2000)
    rows = list(sliders.rows.values())
    assert len(rows) == 2 and all(r.isVisible() for r in rows)
    assert all(r.visibleRegion().boundingRect().height() == r.height() for r in rows)  # not cut off
