"""The lasso over 1,000,000 points: `analysis.lasso.points_in_polygon` against the plain
numpy even-odd test (one vectorised pass over every point per edge), in the same run.

The points are 2-D standard normal (float64, as the view's xy); the lasso is a freehand loop
of 300 vertices (a wobbly circle with a little hand tremor) enclosing about 30 % of them.
Timed (median of `--repeats`):
  - points_in_polygon on that loop (target ≤ 100 ms), and on a jagged one (each vertex's
    radius off by 8 %: a long outline, many points near it; no target);
  - the baseline on the same loop (its result checked equal);
  - `Selection.set_lasso` end to end (mask, hidden groups, the signals), target ≤ 100 ms;
  - the selected points shaded: the raster item's setData + a 900×700 render (no target).

    QT_QPA_PLATFORM=offscreen python benchmarks/lasso.py [--points 1000000] [--vertices 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from types import SimpleNamespace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

TARGET_MS = 100.0  # points_in_polygon and set_lasso, 1M points, ~300 vertices
INSIDE_RADIUS = float(np.sqrt(-2 * np.log(0.7)))  # a circle holding 30 % of a 2-D normal


def freehand_loop(n: int, jagged: float = 0.01, seed: int = 0) -> np.ndarray:
    """n vertices of a hand-drawn loop: a wobbly circle, each vertex's radius off by `jagged`."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = INSIDE_RADIUS * (1 + 0.15 * np.sin(3 * t) + jagged * rng.standard_normal(n))
    return np.stack([0.1 + r * np.cos(t), -0.05 + r * np.sin(t)], axis=1)


def plain_even_odd(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """The textbook numpy version: for each edge, one pass over all points."""
    x, y = xy[:, 0], xy[:, 1]
    inside = np.zeros(len(xy), bool)
    n = len(polygon)
    for k in range(n):
        (ax, ay), (bx, by) = polygon[k], polygon[(k + 1) % n]
        if ay == by:
            continue
        inside ^= ((ay > y) != (by > y)) & (x < ax + (y - ay) * (bx - ax) / (by - ay))
    return np.flatnonzero(inside)


def timed(fn, repeats: int) -> tuple[float, float, object]:
    """Median and worst milliseconds of fn(), and its last result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times), max(times), result


def selection_on(xy: np.ndarray):
    """A `Selection` over these points, with the rest of the session stubbed: what
    set_lasso reads is the view's xy and the hidden groups (none)."""
    from latentexplorer.gui.state.selection import Selection

    opened = SimpleNamespace(has_run=True)
    view = SimpleNamespace(xy=xy)
    colouring = SimpleNamespace(hidden=set(), visible=lambda: np.ones(len(xy), bool))
    return Selection(opened, view, colouring, fail=print)


def shade_ms(xy: np.ndarray, indices: np.ndarray, repeats: int) -> float:
    """setData of the selected points on a raster item + a render of the plot."""
    import pyqtgraph as pg

    from latentexplorer.gui.widgets.point_cloud import PointCloudItem

    plot = pg.PlotWidget(background="w")
    plot.resize(900, 700)
    plot.show()
    shade = PointCloudItem()
    plot.addItem(shade)
    plot.getViewBox().setRange(xRange=(-4, 4), yRange=(-4, 4), padding=0)
    colour = np.array([0, 0, 0, 120], np.uint8)

    def draw() -> None:
        shade.setData(xy[indices], colour)
        plot.viewport().grab()

    median, _, _ = timed(draw, repeats)
    plot.close()
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--vertices", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--baseline-repeats", type=int, default=1)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from latentexplorer.analysis.lasso import points_in_polygon

    app = QApplication.instance() or QApplication([])  # noqa: F841
    xy = np.random.default_rng(1).standard_normal((args.points, 2))
    loop = freehand_loop(args.vertices)
    jagged = freehand_loop(args.vertices, jagged=0.08)
    points_in_polygon(xy, loop)  # warm up (first-touch of numpy's buffers)

    ours, worst, inside = timed(lambda: points_in_polygon(xy, loop), args.repeats)
    plain, _, expected = timed(lambda: plain_even_odd(xy, loop), args.baseline_repeats)
    assert np.array_equal(inside, expected), "the lasso disagrees with the plain even-odd test"
    rough, _, rough_inside = timed(lambda: points_in_polygon(xy, jagged), args.repeats)
    assert np.array_equal(rough_inside, plain_even_odd(xy, jagged)), "jagged loop: results differ"
    selection = selection_on(xy)
    end_to_end, _, count = timed(lambda: selection.set_lasso(loop), args.repeats)
    assert count == len(inside)
    shaded = shade_ms(xy, inside, max(3, args.repeats // 3))

    n, m = f"{args.points:,}", args.vertices
    share = len(inside) / args.points
    print(f"{n} points, a {m}-vertex freehand loop holding {share:.1%} of them")
    print(f"  points_in_polygon : median {ours:6.1f} ms (worst {worst:.1f})   plain even-odd "
          f"{plain:7.1f} ms   {plain / ours:5.1f}×   target ≤ {TARGET_MS:.0f} ms {'✓' if ours <= TARGET_MS else '✗'}")
    print(f"  jagged loop (8 % radius noise, {len(rough_inside) / args.points:.1%} inside): "
          f"median {rough:6.1f} ms")
    print(f"  Selection.set_lasso end to end: median {end_to_end:6.1f} ms   "
          f"target ≤ {TARGET_MS:.0f} ms {'✓' if end_to_end <= TARGET_MS else '✗'}")
    print(f"  the {len(inside):,} selected points shaded (setData + 900×700 render): {shaded:6.1f} ms")


if __name__ == "__main__":
    main()
