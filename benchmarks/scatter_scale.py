"""Soft GMM colours on 70k, 300k and 1M points: our raster item against pyqtgraph's
ScatterPlotItem with a brush per point (the obvious way; brushes shared between equal
colours), in the same run.

Codes are drawn from a 2-D mixture of 10 Gaussians; a scikit-learn GaussianMixture (fitted
on 20,000 of them) gives every point its responsibilities, and `blend_colours` mixes the
component colours by them (continuous colours, not 10 brushes). Timed, each ending with the
plot's viewport rendered (`grab`), in a 900×700 plot:
  - first draw: setData + render;
  - recolour: responsibilities of a new K → colours → setData/setBrush + render (the GMM
    fit and predict_proba excluded, printed apart);
  - pan: the view moved by 3 % + render.

    QT_QPA_PLATFORM=offscreen python benchmarks/scatter_scale.py [--sizes 70000 300000 1000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

TARGETS = {  # (what, n): ms
    ("first draw", 70_000): 50, ("first draw", 1_000_000): 300,
    ("recolour", 1_000_000): 300, ("pan", 1_000_000): 50,
}
GOAL_RATIO = 8.0  # against the per-point-brush item at 1M


def mixture_codes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 3, (10, 2))
    which = rng.integers(0, 10, n)
    return (means[which] + rng.normal(0, 0.8, (n, 2))).astype(np.float32)


def soft_colours(codes: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """RGBA from a K-component GMM's responsibilities; and predict_proba's seconds."""
    from sklearn.mixture import GaussianMixture

    from latentexplorer.analysis.mixture import blend_colours, palette

    rng = np.random.default_rng(k)
    sample = codes[rng.choice(len(codes), min(20_000, len(codes)), replace=False)]
    gmm = GaussianMixture(k, random_state=0).fit(sample)
    started = time.perf_counter()
    r = gmm.predict_proba(codes)
    proba = time.perf_counter() - started
    return blend_colours(r, palette(k)), proba


def shared_brushes(rgba: np.ndarray) -> list:
    """One QBrush per point, shared between points of the same colour (the cheapest way to
    give a ScatterPlotItem per-point colours)."""
    from PySide6.QtGui import QBrush, QColor

    unique, inverse = np.unique(rgba, axis=0, return_inverse=True)
    table = np.array([QBrush(QColor(*c)) for c in unique.tolist()], dtype=object)
    return list(table[inverse.ravel()])


def timed(fn, repeats: int) -> float:
    """Median milliseconds of fn()."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def measure(kind: str, codes: np.ndarray, colours: np.ndarray, responsibilities: np.ndarray,
            component_colours: np.ndarray, repeats: int) -> dict[str, float]:
    """Median ms of first draw, recolour and pan for one renderer ("ours" or "brushes")."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from latentexplorer.analysis.mixture import blend_colours
    from latentexplorer.gui.widgets.point_cloud import PointCloudItem

    app = QApplication.instance()
    plot = pg.PlotWidget(background="w")
    plot.resize(900, 700)
    plot.show()
    app.processEvents()
    view = plot.getViewBox()
    view.setRange(xRange=(float(codes[:, 0].min()), float(codes[:, 0].max())),
                  yRange=(float(codes[:, 1].min()), float(codes[:, 1].max())), padding=0.02)
    step = 0.03 * float(codes[:, 0].max() - codes[:, 0].min())

    def render() -> None:
        plot.viewport().grab()

    if kind == "ours":
        item = PointCloudItem()
        plot.addItem(item)

        def first() -> None:
            item.setData(codes, colours)
            render()

        def recolour() -> None:
            item.setData(codes, blend_colours(responsibilities, component_colours))
            render()
    else:
        item = pg.ScatterPlotItem(size=7, pen=None, pxMode=True)
        plot.addItem(item)

        def first() -> None:
            item.setData(x=codes[:, 0], y=codes[:, 1], brush=shared_brushes(colours))
            render()

        def recolour() -> None:
            item.setBrush(shared_brushes(blend_colours(responsibilities, component_colours)))
            render()

    def pan() -> None:
        view.translateBy(x=step)
        render()

    figures = {"first draw": timed(first, repeats), "recolour": timed(recolour, repeats),
               "pan": timed(pan, repeats)}
    plot.close()
    plot.deleteLater()
    app.processEvents()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[70_000, 300_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-repeats", type=int, default=2)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication
    from sklearn.mixture import GaussianMixture

    from latentexplorer.analysis.mixture import palette

    app = QApplication.instance() or QApplication([])  # noqa: F841
    results: dict[tuple[str, int], tuple[float, float]] = {}
    for n in args.sizes:
        codes = mixture_codes(n)
        colours, proba_s = soft_colours(codes, 10)
        # the recolour's input: a new mixture's responsibilities (K = 7)
        r_new = GaussianMixture(7, random_state=0).fit(codes[:20_000]).predict_proba(codes)
        print(f"\n{n:,} points  (predict_proba, not timed below: {proba_s * 1e3:.0f} ms; "
              f"blend_colours is)")
        ours = measure("ours", codes, colours, r_new, palette(7), args.repeats)
        theirs = measure("brushes", codes, colours, r_new, palette(7), args.baseline_repeats)
        for what in ("first draw", "recolour", "pan"):
            results[(what, n)] = (ours[what], theirs[what])
            target = TARGETS.get((what, n))
            verdict = "" if target is None else f"  target ≤ {target} ms {'✓' if ours[what] <= target else '✗'}"
            print(f"  {what:10s}: ours {ours[what]:8.1f} ms   per-point brushes {theirs[what]:9.1f} ms   "
                  f"{theirs[what] / ours[what]:6.1f}×{verdict}")
    if 1_000_000 in args.sizes:
        ratio = min(results[(w, 1_000_000)][1] / results[(w, 1_000_000)][0]
                    for w in ("first draw", "recolour"))
        print(f"\nat 1M, first draw and recolour: ≥ {ratio:.1f}× the per-point-brush item "
              f"(goal ≥ {GOAL_RATIO:.0f}×) {'✓' if ratio >= GOAL_RATIO else '✗'}")


if __name__ == "__main__":
    main()
