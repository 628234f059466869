"""How immediate the explorer is: click → preview, drag → strip, slider → preview.

The real main window (offscreen Qt) on N sprites encoded by a sprites model; real mouse events
on the scatter's viewport; every time runs from the event until the preview (or the strip)
has painted its new image (a paint-event probe on the widget showing it).

  - click at 70,000 points (32×32 sprites, the bundled sprites β-VAE) and at 1,000,000
    (28×28 sprites, a sprites VAE trained here for a few seconds): median and p95, against
    the floor, alternated with the clicks after the same settle of the window: a numpy
    nearest-point pick over the points, one decode, the image drawn at the tile's size on a
    bare QLabel and painted, without the app (targets ≤ 2.5× at 70k, ≤ 3× at 1M);
  - drag: a 10-frame interpolation strip re-decoded per mouse move, with the MLP decoder and
    with a conv decoder of the same latent size;
  - slider: one perturbation slider moved, until the preview shows the decoded z.

    QT_QPA_PLATFORM=offscreen python benchmarks/interaction.py [--million] [--repeats 30]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QLabel  # noqa: E402

LEFT, NONE = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton


class PaintProbe(QObject):
    """Remembers when its widget last painted."""

    def __init__(self, widget) -> None:
        super().__init__()
        self.last = 0.0
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.last = time.perf_counter()
        return False


def send(widget, kind, pos: QPoint, button, buttons) -> None:
    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def until_painted(app, probe: PaintProbe, since: float, handed: list[float] | None = None,
                  limit_s: float = 2.0) -> float:
    """Run the event loop until the probe's widget has painted after `since`, or, given
    `handed`, after the newest time in it (the decode of a drag or slider move runs a moment
    after the event, moves being coalesced, so only a paint after the new preview was handed
    over counts); seconds from `since`."""
    while (probe.last <= since) if handed is None else (not handed or probe.last <= handed[-1]):
        app.processEvents()
        if time.perf_counter() - since > limit_s:
            raise TimeoutError("the new preview was not painted")
    return probe.last - since


def settle(app, window) -> None:
    for _ in range(3):
        app.processEvents()
    window.repaint()


def summary(ms: list[float]) -> str:
    return f"median {statistics.median(ms):6.1f} ms, p95 {np.percentile(ms, 95):6.1f} ms"


def widget_point(window, i: int) -> QPoint:
    p = window.scatter.widget_pos_of(*window.session.view.xy[i])
    return QPoint(round(p.x()), round(p.y()))


def visible_points(window, rng, count: int) -> list[int]:
    """Random items whose point is well inside the plot (a click there lands on them)."""
    view = window.scatter.view_box
    (x0, x1), (y0, y1) = view.viewRange()
    xy = window.session.view.xy
    inside = np.flatnonzero((xy[:, 0] > x0 + 0.1 * (x1 - x0)) & (xy[:, 0] < x1 - 0.1 * (x1 - x0))
                            & (xy[:, 1] > y0 + 0.1 * (y1 - y0)) & (xy[:, 1] < y1 - 0.1 * (y1 - y0)))
    return [int(i) for i in rng.choice(inside, count, replace=False)]


def clicks(app, window, repeats: int) -> tuple[list[float], list[float]]:
    """(app, floor): ms from the press on a point (the pointer already resting on it) until the
    reconstruction tile has painted it, and the floor's pick + decode + paint, the two
    alternated click by click (each after the same settle of the window, so both start with the
    caches as a click finds them)."""
    probe = PaintProbe(window.preview.tiles[1].picture)
    points = visible_points(window, np.random.default_rng(0), repeats + 3)
    floor = Floor(window)
    app_ms, floor_ms = [], []
    for i in points:
        settle(app, window)
        floor_ms.append(floor.click())
        app_ms += click_times(app, window, probe, [i])
    floor.close()
    return app_ms[3:], floor_ms[3:]  # the first build caches (x order, norms)


def click_times(app, window, probe: PaintProbe, points) -> list[float]:
    """ms from the press on each point until `probe`'s widget has painted; the pointer rests
    on the point first, as a hand moves onto it before pressing (the hover pass, the
    tooltip, happen then, not in the press)."""
    viewport = window.scatter.plot.viewport()
    times = []
    for i in points:
        pos = widget_point(window, i)
        send(viewport, QEvent.Type.MouseMove, pos, NONE, NONE)
        settle(app, window)
        started = time.perf_counter()
        send(viewport, QEvent.Type.MouseButtonPress, pos, LEFT, LEFT)
        times.append(until_painted(app, probe, started) * 1e3)
        send(viewport, QEvent.Type.MouseButtonRelease, pos, LEFT, NONE)
        if window.session.selection.selected != window.scatter.pick(
                window.scatter.view_box.mapSceneToView(window.scatter.plot.mapToScene(pos))):
            raise RuntimeError("the click did not select the point under the cursor")
    return times


class Floor:
    """A click without the app: a numpy nearest-point pick over all points, one decode, the
    image drawn at the preview tile's size on a bare QLabel, painted."""

    def __init__(self, window) -> None:
        self.session = window.session
        self.size = window.preview.tiles[1].size_px
        self.label = QLabel()
        self.label.resize(self.size + 8, self.size + 8)
        self.label.show()
        self.rng = np.random.default_rng(1)

    def click(self) -> float:
        from latentexplorer.gui.widgets import images as im

        xy = self.session.view.xy
        target = xy[self.rng.integers(len(xy))] + 1e-3
        started = time.perf_counter()
        i = int(np.argmin((xy[:, 0] - target[0]) ** 2 + (xy[:, 1] - target[1]) ** 2))
        image = self.session.opened.decode(self.session.opened.mu[i][None])[0]
        self.label.setPixmap(im.image_pixmap(image, self.size))
        self.label.repaint()
        return (time.perf_counter() - started) * 1e3

    def close(self) -> None:
        self.label.close()


def click_floor(window, repeats: int) -> list[float]:
    """The floor's clicks back to back (caches warm from the one before): its best case."""
    floor = Floor(window)
    times = [floor.click() for _ in range(repeats)]
    floor.close()
    return times


def drag(app, window, moves: int = 40) -> list[float]:
    """ms per mouse move of a drag from one point towards another, until the strip painted."""
    probe = PaintProbe(window.preview.strip)
    handed: list[float] = []
    record = lambda _: handed.append(time.perf_counter())  # noqa: E731
    window.session.selection.previewChanged.connect(record)
    viewport = window.scatter.plot.viewport()
    a_index, b_index = visible_points(window, np.random.default_rng(2), 2)
    a, b = widget_point(window, a_index), widget_point(window, b_index)
    settle(app, window)
    send(viewport, QEvent.Type.MouseButtonPress, a, LEFT, LEFT)
    app.processEvents()
    times = []
    for k in range(1, moves + 1):
        t = k / moves
        pos = QPoint(round(a.x() + t * (b.x() - a.x())), round(a.y() + t * (b.y() - a.y()) + 3 * np.sin(k)))
        handed.clear()
        started = time.perf_counter()
        send(viewport, QEvent.Type.MouseMove, pos, NONE, LEFT)
        with contextlib.suppress(TimeoutError):  # pyqtgraph may swallow a move (drag threshold)
            times.append(until_painted(app, probe, started, handed, limit_s=1.0) * 1e3)
    send(viewport, QEvent.Type.MouseButtonRelease, b, LEFT, NONE)
    settle(app, window)
    window.session.selection.previewChanged.disconnect(record)
    if len(times) < moves // 2:
        raise RuntimeError(f"only {len(times)} of {moves} moves redrew the strip")
    return times[2:]


def sliders(app, window, repeats: int) -> list[float]:
    """ms from a slider's new value until the preview painted the decoded z.

    The decode runs a moment after the move (moves are coalesced), so a paint of the tile
    only counts once the new preview has been handed to it."""
    session, panel = window.session, window.sliders
    session.selection.select(visible_points(window, np.random.default_rng(3), 1)[0])
    settle(app, window)
    probe = PaintProbe(window.preview.tiles[1].picture)
    handed: list[float] = []
    record = lambda _: handed.append(time.perf_counter())  # noqa: E731
    session.selection.previewChanged.connect(record)
    row = panel.rows[panel.order[0]]
    times = []
    for k in range(repeats + 2):
        value = row.slider.minimum() + (k * 37) % (row.slider.maximum() - row.slider.minimum())
        settle(app, window)
        handed.clear()
        started = time.perf_counter()
        row.slider.setValue(value)
        times.append(until_painted(app, probe, started, handed) * 1e3)
    session.selection.previewChanged.disconnect(record)
    return times[2:]


def report_clicks(app, window, repeats: int, what: str, max_ratio: float, max_ms: float) -> bool:
    """Print the clicks against their floor (alternated with them) and the verdict: median
    within `max_ratio` × the floor's and within `max_ms`, p95 ≤ 3 × `max_ms`."""
    warm = statistics.median(click_floor(window, repeats))
    times, floor = clicks(app, window, repeats)
    ratio = statistics.median(times) / statistics.median(floor)
    ok = ratio <= max_ratio and statistics.median(times) <= max_ms and np.percentile(times, 95) <= 3 * max_ms
    print(f"{what}: {summary(times)}   floor {statistics.median(floor):.2f} ms alternated "
          f"({warm:.2f} ms back to back)   ratio {ratio:.1f}×   target ≤ {max_ratio}× the floor, "
          f"median ≤ {max_ms:g} ms {'✓' if ok else '✗'}")
    return ok


def open_window(app):
    from latentexplorer.gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1480, 900)
    window.show()
    return window


def conv_run(like):
    """A conv VAE with the same data shape and latent size (decoder speed only: untrained)."""
    from dataclasses import replace

    import torch

    from latentexplorer.checkpoint import Run
    from latentexplorer.models import build_model

    model_cfg = replace(like.config.model, architecture="conv")
    torch.manual_seed(0)
    model = build_model(model_cfg).eval()
    return Run(folder=Path("conv-decoder"), config=replace(like.config, model=model_cfg), model=model,
               state={"epoch": 0})


def million_run(folder: Path):
    """A sprites VAE at 28×28 trained for a few seconds (its codes must merely look like codes)."""
    from latentexplorer.checkpoint import load_run
    from latentexplorer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from latentexplorer.training import train

    config = RunConfig(
        model=ModelConfig(kind="vae", image_shape=(1, 28, 28), latent_dim=8, architecture="mlp",
                          hidden=(256, 128)),
        train=TrainConfig(epochs=1, batch_size=256, lr=2e-3, seed=0),
        data=DataConfig(name="sprites", n=20_000, size=28, seed=0),
    )
    train(config, folder)
    return load_run(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=70_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--million", action="store_true", help="also click among 1,000,000 points")
    args = parser.parse_args()

    from latentexplorer.analysis.evaluation import encode_all
    from latentexplorer.bundled import bundled_run
    from latentexplorer.checkpoint import load_run
    from latentexplorer.data.sprites import make_sprites

    verdicts = []
    big = None
    if args.million:  # encoded before the window exists, on all of torch's threads
        tmp = tempfile.TemporaryDirectory()
        run = million_run(Path(tmp.name) / "sprites28")
        images = make_sprites(1_000_000, size=28, seed=1)
        started = time.perf_counter()
        big = (run, images, encode_all(run.model.eval(), images, batch_size=4096))
        print(f"1,000,000 sprites 28×28 encoded in {time.perf_counter() - started:.1f} s")
    app = QApplication.instance() or QApplication([])
    window = open_window(app)
    run = load_run(bundled_run("sprites-betavae"))
    images = make_sprites(args.n, size=32, seed=1)
    window.session.use_model(run, images)
    window.session.wait_until_ready()  # a large set is encoded in a worker
    window.session.shutdown()  # the mixture fit of a large set runs in a worker too
    settle(app, window)
    print(f"{args.n:,} sprites 32×32, bundled sprites β-VAE (MLP decoder), window 1480×900")

    verdicts.append(report_clicks(app, window, args.repeats, "click → preview painted ", 2.5, 5))
    times = drag(app, window)
    ok = statistics.median(times) <= 16
    verdicts.append(ok)
    print(f"drag, 10-frame strip    : {summary(times)} per move ({1e3 / statistics.median(times):.0f} "
          f"updates/s)   target ≥ 60/s {'✓' if ok else '✗'}")
    times = sliders(app, window, args.repeats)
    ok = statistics.median(times) <= 5
    verdicts.append(ok)
    print(f"slider → preview painted: {summary(times)}   target median ≤ 5 {'✓' if ok else '✗'}")

    window.session.use_model(conv_run(run), images, (window.session.opened.mu, window.session.opened.logvar))
    window.session.shutdown()
    settle(app, window)
    times = drag(app, window)
    ok = statistics.median(times) <= 33
    verdicts.append(ok)
    print(f"drag, conv decoder      : {summary(times)} per move ({1e3 / statistics.median(times):.0f} "
          f"updates/s)   target ≥ 30/s {'✓' if ok else '✗'}")

    if big is not None:
        run, images, codes = big
        window.session.use_model(run, images, codes)
        window.session.shutdown()
        settle(app, window)
        verdicts.append(report_clicks(app, window, args.repeats, "1,000,000 points, click ", 3.0, 10))
    window.close()
    print("all interaction targets met" if all(verdicts) else "some interaction targets missed")


if __name__ == "__main__":
    main()
