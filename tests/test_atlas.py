"""The decoded atlas's layout, cache and decoding (`analysis.atlas`), without Qt."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentexplorer.analysis import atlas
from latentexplorer.bundled import bundled_run
from latentexplorer.checkpoint import load_run


def view(x0: float, x1: float, y0: float, y1: float, width: int = 600, height: int = 400):
    """(rect, units per pixel) of a view of that region on a plot of that many pixels."""
    return (x0, x1, y0, y1), ((x1 - x0) / width, (y1 - y0) / height)


def test_tiles_are_about_48_pixels_apart_at_every_zoom():
    for span in (0.01, 0.3, 1.0, 7.0, 250.0):
        rect, units = view(-span, span, -span / 2, span / 2)
        grid = atlas.tile_grid(rect, units)
        sx, sy = grid.spacing
        assert 48 / 2**0.5 <= sx / units[0] <= 48 * 2**0.5
        assert 48 / 2**0.5 <= sy / units[1] <= 48 * 2**0.5
        assert sx == 2.0 ** grid.level[0] and sy == 2.0 ** grid.level[1]


def test_the_grid_covers_the_view_with_integer_centres():
    rect, units = view(-1.3, 2.1, 0.2, 1.7)
    grid = atlas.tile_grid(rect, units)
    cells = atlas.cells(grid.in_rows())
    assert cells[:, 0].min() <= -1.3 < cells[:, 0].min() + grid.spacing[0]
    assert cells[:, 1].max() >= 2.1 > cells[:, 1].max() - grid.spacing[0]
    assert cells[:, 2].min() <= 0.2 and cells[:, 3].max() >= 1.7
    centres = atlas.centres(grid.in_rows())
    np.testing.assert_array_equal(centres / grid.spacing, np.round(centres / grid.spacing))
    rows, columns = grid.shape
    assert len(grid) == rows * columns == len(set(grid.in_rows()))
    # top row first (highest y), left to right: the mosaic's order
    assert centres[0, 1] == centres[:, 1].max() and centres[0, 0] == centres[:, 0].min()
    assert centres[1, 0] > centres[0, 0]


def test_a_pan_reuses_tiles_and_a_zoom_lands_on_the_next_level():
    rect, units = view(0.0, 3.0, 0.0, 2.0)
    grid = atlas.tile_grid(rect, units)
    sx, _ = grid.spacing
    panned = atlas.tile_grid((rect[0] + sx, rect[1] + sx, rect[2], rect[3]), units)
    assert panned.level == grid.level
    shared = set(grid.in_rows()) & set(panned.in_rows())
    assert len(shared) == len(grid) - grid.shape[0]  # one column left, one came in

    zoomed = atlas.tile_grid(view(0.0, 1.5, 0.0, 1.0)[0], (units[0] / 2, units[1] / 2))
    assert zoomed.level == (grid.level[0] - 1, grid.level[1] - 1)
    coarse = {atlas.canonical(k) for k in grid.in_rows()}
    fine = [atlas.canonical(k) for k in zoomed.in_rows()]
    reused = [k for k in fine if k in coarse]
    assert 0.15 * len(fine) <= len(reused) <= 0.4 * len(fine)  # about every other row and column
    # a tile and its name at the next level are the same centre
    for key in zoomed.in_rows():
        a, b, i, j = key
        np.testing.assert_array_equal(atlas.centres([key]), atlas.centres([atlas.canonical(key)]))
        if i % 2 == 0 and j % 2 == 0:
            assert atlas.canonical(key) == atlas.canonical((a + 1, b + 1, i // 2, j // 2))


def test_nearest_first_then_a_ring():
    rect, units = view(-1.0, 1.0, -1.0, 1.0, 400, 400)
    grid = atlas.tile_grid(rect, units)
    order = atlas.wanted_order(grid, (0.0, 0.0))
    visible = order[: len(grid)]
    assert set(visible) == set(grid.in_rows())
    assert atlas.centres(visible[:1]).tolist() == [[0.0, 0.0]]
    distance = np.hypot(*atlas.centres(visible).T)
    assert np.all(np.diff(distance) >= -1e-12)
    ring = order[len(grid):]
    assert len(ring) == len(grid.grown(1)) - len(grid) and not set(ring) & set(visible)


def test_a_huge_viewport_takes_a_coarser_level():
    rect, units = view(-50, 50, -50, 50, 8000, 8000)
    grid = atlas.tile_grid(rect, units, max_tiles=400)
    assert len(grid) <= 400
    assert grid.spacing[0] / units[0] > 48 * 2**0.5
    assert atlas.tile_grid((0, 0, 0, 1), (1, 1)) is None
    assert atlas.tile_grid((0, 1, 0, 1), (float("nan"), 1)) is None


def test_cache_forgets_the_least_recently_used_within_its_budget():
    cache = atlas.TileCache(capacity_bytes=300)
    for k in range(3):
        cache.put(("ctx", k), f"tile {k}", 100)
    assert cache.get(("ctx", 0)) == "tile 0"  # used: now the newest
    cache.put(("ctx", 3), "tile 3", 100)
    assert ("ctx", 1) not in cache and ("ctx", 0) in cache and len(cache) == 3
    assert cache.nbytes == 300
    cache.put(("other", 0), "x", 100)  # another context is another key
    assert cache.get(("ctx", 0)) is None or cache.get(("other", 0)) == "x"
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


def test_decode_batches_grow_and_match_the_decoder():
    run = load_run(bundled_run("digits-vae-2d"))
    model = run.model.eval()
    zs = np.random.default_rng(0).normal(size=(100, 2))
    batches = list(atlas.decode_batches(model, zs, first=4, most=32, budget_s=10.0))
    sizes = [stop - start for start, stop, _ in batches]
    assert sizes[:4] == [4, 8, 16, 32] and sum(sizes) == 100
    assert [b[0] for b in batches] == [0, *np.cumsum(sizes)[:-1].tolist()]
    tiles = np.concatenate([t for _, _, t in batches])
    assert tiles.shape == (100, 8, 8, 3) and tiles.dtype == np.uint8
    with torch.no_grad():
        expected = model.mean(torch.as_tensor(zs, dtype=torch.float32)).numpy()
    rgb = np.clip(np.rint(np.repeat(expected, 3, 1).transpose(0, 2, 3, 1) * 255), 0, 255)
    assert np.abs(tiles.astype(int) - rgb.astype(int)).max() <= 1  # batching may round apart


def test_a_slow_decoder_gets_smaller_batches():
    class Slow(torch.nn.Module):
        def mean(self, z):
            import time

            time.sleep(0.003 * len(z))
            return torch.zeros(len(z), 3, 4, 4)

    sizes = [stop - start for start, stop, _ in atlas.decode_batches(Slow(), np.zeros((40, 2)), first=16,
                                                                     budget_s=0.01)]
    assert sizes[0] == 16 and max(sizes[1:]) < 16 and sum(sizes) == 40


def test_mosaic_puts_tiles_in_rows_and_leaves_missing_ones_white():
    tiles = [np.full((2, 3, 3), k, np.uint8) for k in range(6)]
    tiles[4] = None
    image = atlas.mosaic(tiles, (2, 3))
    assert image.shape == (4, 9, 3)
    assert image[0, 0, 0] == 0 and image[0, 3, 0] == 1 and image[2, 0, 0] == 3
    assert (image[2:, 3:6] == 255).all()
    assert atlas.mosaic([None, None], (1, 2)) is None


@pytest.mark.parametrize("channels", [1, 3])
def test_to_rgb8_rounds_one_image_at_a_time_alike(channels):
    images = np.random.default_rng(1).uniform(-0.1, 1.1, (3, channels, 5, 4)).astype(np.float32)
    converted = atlas.to_rgb8(images)
    assert converted.shape == (3, 5, 4, 3) and converted.dtype == np.uint8
    for image, rgb in zip(images, converted):
        expected = np.clip(np.rint(image.transpose(1, 2, 0) * 255), 0, 255)
        np.testing.assert_array_equal(rgb, np.broadcast_to(expected, rgb.shape))
