"""The decoded atlas and the thumbnails: how soon tiles show, and what they cost the scatter.

The real main window (offscreen Qt, 1480×900) on the bundled digits VAE; every time runs
until the plot's viewport has been rendered (`grab`). Each figure beside a baseline measured
in the same run:
  - MLP decoder, a 16×16 grid of tiles of a region never decoded: from the range change until
    every tile is drawn; baseline, the naive figure: the 256 centres decoded at once in the GUI
    thread and shown as one pyqtgraph ImageItem;
  - conv decoder on 64×64 images (untrained, its speed is what counts), a fresh region: until
    the first tiles (the first batch, nearest the centre) are drawn, and until all are;
    baseline: one decode of that first batch in the GUI thread and the view rendered;
  - a pan (2 tiles) while the conv decoder's tiles compute, and while the sequence VAE's do
    (a decoder that holds the GIL in a Python loop): range change → rendered; baseline, the
    same pans with the atlas off;
  - 1,000,000 points (a run of that many items, codes drawn from a 2-D mixture), the atlas
    and the thumbnails on: the scatter's first draw and recolour as `scatter_scale.py` times
    them (setData + render, `blend_colours` included), a pan, and the thumbnails' test of the
    view; baseline, the same with both layers off.

    QT_QPA_PLATFORM=offscreen python benchmarks/atlas.py [--repeats 7] [--points 1000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402

TARGETS = {"mlp ready": 100.0, "pan": 50.0, "conv first": 300.0, "first draw": 300.0, "recolour": 300.0}
SIDE = 16  # tiles across and down the timed MLP region


def verdict(ms: float, target: float) -> str:
    return f"target ≤ {target:.0f} ms {'✓' if ms <= target else '✗'}"


def pump(app, until, limit_s: float = 30.0) -> None:
    """Run the event loop until `until()`, checked every millisecond. The loop waits in Qt (the
    GIL released) as the app's own loop does: a Python loop spinning on processEvents would
    hold the GIL and make the decoding thread wait for it (~5 ms a switch)."""
    from PySide6.QtCore import QEventLoop, QTimer

    if until():
        return
    loop, timer = QEventLoop(), QTimer(interval=1)
    started = time.perf_counter()

    def check() -> None:
        if until() or time.perf_counter() - started > limit_s:
            loop.quit()

    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
    if not until():
        raise TimeoutError("the atlas did not get there")


def render(window) -> None:
    window.scatter.plot.viewport().grab()


def fresh_region(window, k: int, side: int = SIDE) -> None:
    """Show side × side tiles of a region far from any shown before, so none of its tiles is
    cached: a spacing of 1 (level 0), which a plot of 544–1088 px shows at 34–68 px a tile."""
    origin, eps = 64 * side * k, 1e-6
    window.scatter.view_box.setRange(xRange=(origin - 0.5 + eps, origin + side - 0.5 - eps),
                                     yRange=(-0.5 + eps, side - 0.5 - eps), padding=0)


def open_window(app):
    from latentexplorer.bundled import bundled_run
    from latentexplorer.gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1480, 900)
    window.show()
    for _ in range(5):
        app.processEvents()
    assert window.open_run(bundled_run("digits-vae-2d"))
    for _ in range(5):
        app.processEvents()
    return window


def mlp_ready(app, window, repeats: int) -> tuple[list[float], int]:
    atlas = window.map_layers.atlas
    window.session.layers.set_enabled("atlas", True)
    times = []
    for k in range(1, repeats + 2):
        fresh_region(window, k)
        started = time.perf_counter()
        app.processEvents()
        pump(app, lambda: atlas.complete)
        render(window)
        times.append((time.perf_counter() - started) * 1e3)
    pump(app, lambda: not atlas.busy)
    return times[1:], len(atlas.grid)


def naive_grid(app, window, repeats: int) -> list[float]:
    """The K&W figure the obvious way: decode every centre in the GUI thread, one ImageItem."""
    import pyqtgraph as pg

    from latentexplorer.analysis import atlas as maths

    session, plot = window.session, window.scatter.plot
    times = []
    for k in range(1, repeats + 1):
        centres = np.array([(64 * SIDE * k + i, j) for j in range(SIDE - 1, -1, -1) for i in range(SIDE)], float)
        started = time.perf_counter()
        tiles = maths.to_rgb8(session.opened.decode(session.selection.to_latent(centres)))
        image = pg.ImageItem(maths.mosaic(list(tiles), (SIDE, SIDE))[::-1])
        plot.addItem(image)
        render(window)
        times.append((time.perf_counter() - started) * 1e3)
        plot.removeItem(image)
    return times


def conv64_run(like):
    import torch

    from latentexplorer.checkpoint import Run
    from latentexplorer.models import build_model

    config = replace(like.config.model, architecture="conv", image_shape=(1, 64, 64))
    torch.manual_seed(0)
    return Run(folder=Path("conv-64"), config=replace(like.config, model=config),
               model=build_model(config).eval(), state={"epoch": 0})


def conv_first(app, window, repeats: int) -> tuple[list[float], list[float], list[float]]:
    """(first tiles drawn, all drawn, baseline: the first batch decoded in the GUI thread)."""
    from latentexplorer.analysis import atlas as maths

    atlas, session = window.map_layers.atlas, window.session
    first, whole, floor = [], [], []
    for k in range(1, repeats + 2):
        fresh_region(window, 100 + k)
        started = time.perf_counter()
        app.processEvents()
        pump(app, lambda: len(atlas.tiles()) > 0)
        render(window)
        first.append((time.perf_counter() - started) * 1e3)
        pump(app, lambda: atlas.complete)
        whole.append((time.perf_counter() - started) * 1e3)
        pump(app, lambda: not atlas.busy)
        centres = maths.centres(maths.wanted_order(atlas.grid, (0.0, 0.0))[:16])
        started = time.perf_counter()
        session.opened.decode(session.selection.to_latent(centres + 5000.0))
        render(window)
        floor.append((time.perf_counter() - started) * 1e3)
    return first[1:], whole[1:], floor[1:]


def pans(app, window, count: int, layer_on: bool) -> tuple[list[float], int]:
    """ms per pan of 2 tiles into regions not decoded; and how many found a decode running."""
    vb = window.scatter.view_box
    window.session.layers.set_enabled("atlas", layer_on)
    fresh_region(window, 300 + int(layer_on))
    app.processEvents()
    times, computing = [], 0
    for _ in range(count):
        started = time.perf_counter()
        vb.translateBy(x=2.0)
        app.processEvents()
        render(window)
        times.append((time.perf_counter() - started) * 1e3)
        computing += bool(window.session.tasks.running("atlas"))
    return times, computing


def use_run(app, window, run, images, codes) -> None:
    window.session.use_model(run, images, codes, fit=False)
    for _ in range(5):
        app.processEvents()


def million(app, window, n: int, repeats: int) -> dict[str, tuple[float, float]]:
    """Median ms (layers on, layers off) of first draw, recolour, pan and the thumbnails' test."""
    from scatter_scale import mixture_codes, soft_colours
    from sklearn.mixture import GaussianMixture

    from latentexplorer.analysis.mixture import blend_colours, palette
    from latentexplorer.bundled import bundled_run
    from latentexplorer.checkpoint import load_run
    from latentexplorer.data.base import ImageSet

    codes = mixture_codes(n)
    colours, _ = soft_colours(codes, 10)
    r_new = GaussianMixture(7, random_state=0).fit(codes[:20_000]).predict_proba(codes)
    images = ImageSet(np.zeros((n, 1, 8, 8), np.uint8), name="million")
    logvar = np.full_like(codes, -4.0)
    use_run(app, window, load_run(bundled_run("digits-vae-2d")), images, (codes, logvar))
    session, points, vb = window.session, window.scatter.points, window.scatter.view_box
    vb.autoRange(items=[points], padding=0.02)
    step = 0.03 * float(codes[:, 0].max() - codes[:, 0].min())
    figures: dict[str, list[list[float]]] = {w: [[], []] for w in ("first draw", "recolour", "pan", "thumbnails test")}
    for side, on in ((0, True), (1, False)):
        session.layers.set_enabled("atlas", on)
        session.layers.set_enabled("thumbnails", on)
        pump(app, lambda: not window.map_layers.atlas.busy)
        for _ in range(repeats):
            for what, action in (("first draw", lambda: points.setData(codes, colours)),
                                 ("recolour", lambda: points.setData(codes, blend_colours(r_new, palette(7)))),
                                 ("pan", lambda: (vb.translateBy(x=step), app.processEvents()))):
                started = time.perf_counter()
                action()
                render(window)
                figures[what][side].append((time.perf_counter() - started) * 1e3)
            started = time.perf_counter()
            window.map_layers.thumbnails.chosen()  # what each range change runs with the layer on
            figures["thumbnails test"][side].append((time.perf_counter() - started) * 1e3)
            pump(app, lambda: not window.map_layers.atlas.busy)
    return {w: (statistics.median(v[0]), statistics.median(v[1])) for w, v in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--no-strokes", action="store_true", help="skip the sequence VAE's pans")
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from latentexplorer.bundled import bundled_run
    from latentexplorer.data.sprites import make_sprites

    app = QApplication.instance() or QApplication([])
    window = open_window(app)
    med = statistics.median

    ours, tiles = mlp_ready(app, window, args.repeats)
    floor = naive_grid(app, window, args.repeats)
    print(f"MLP decoder, {tiles} tiles ({SIDE}×{SIDE}) of a fresh region ready: median {med(ours):6.1f} ms "
          f"(worst {max(ours):.1f}); all decoded at once in the GUI thread {med(floor):6.1f} ms, "
          f"{med(ours) / med(floor):.2f}×  {verdict(med(ours), TARGETS['mlp ready'])}")

    like = window.session.opened.run
    sprites = make_sprites(2000, size=64)
    codes = (np.random.default_rng(0).normal(size=(2000, 2)).astype(np.float32), np.full((2000, 2), -4.0, np.float32))
    use_run(app, window, conv64_run(like), sprites, codes)
    window.session.layers.set_enabled("atlas", True)
    first, whole, floor = conv_first(app, window, args.repeats)
    print(f"conv decoder 64×64, first tiles drawn: median {med(first):6.1f} ms (all {len(window.map_layers.atlas.grid)} "
          f"tiles {med(whole):.0f} ms); the first batch decoded in the GUI thread {med(floor):6.1f} ms, "
          f"{med(first) / med(floor):.2f}×  {verdict(med(first), TARGETS['conv first'])}")

    runs = [("conv decoder 64×64", None)]
    if not args.no_strokes:
        runs.append(("sequence VAE (strokes)", "strokes-seqvae"))
    for name, folder in runs:
        if folder is not None:
            assert window.open_run(bundled_run(folder))
            for _ in range(5):
                app.processEvents()
        on, computing = pans(app, window, 4 * args.repeats, True)
        off, _ = pans(app, window, 4 * args.repeats, False)
        print(f"pan while the {name}'s tiles compute ({computing} of {len(on)} pans found a decode running): "
              f"median {med(on):5.1f} ms, worst {max(on):5.1f} ms; atlas off {med(off):5.1f} ms, "
              f"{med(on) / med(off):.2f}×  {verdict(max(on), TARGETS['pan'])} (worst)")

    if args.points:
        figures = million(app, window, args.points, max(3, args.repeats // 2))
        test = figures.pop("thumbnails test")[0]
        for what, (with_layers, without) in figures.items():
            print(f"{args.points:,} points, {what:10s}: atlas and thumbnails on {with_layers:6.1f} ms, "
                  f"off {without:6.1f} ms, {with_layers / without:.2f}×  {verdict(with_layers, TARGETS[what])}")
        print(f"{args.points:,} points, the thumbnails' test of a view (in it, few and apart?): {test:.1f} ms")
    window.session.shutdown()
    window.close()


if __name__ == "__main__":
    main()
