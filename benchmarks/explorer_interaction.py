"""How immediate the explorer feels with many points: click → preview, drag → strip.

Opens the bundled sprites β-VAE on N generated sprites (default 70,000) in the real main
window (offscreen Qt), then measures, through real mouse events on the scatter's viewport:
  - click latency: press + release on a point until the preview has repainted;
  - drag smoothness: a press-move-release drag of 60 mouse moves; reports the time per
    event-loop pass and how many decodes the coalescing actually ran.
Baseline in the same run: a bare repaint of the window with no gesture.

    QT_QPA_PLATFORM=offscreen python benchmarks/explorer_interaction.py [--n 70000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def send(widget, kind, pos: QPoint, buttons) -> None:
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=70_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    from latentexplorer.bundled import bundled_run
    from latentexplorer.data.sprites import make_sprites
    from latentexplorer.gui.app import create_app
    from latentexplorer.gui.main_window import MainWindow

    app = create_app()
    window = MainWindow()
    window.resize(1480, 900)
    window.show()
    started = time.perf_counter()
    window.session.open_run(bundled_run("sprites-betavae"), images=make_sprites(args.n, size=32, seed=1))
    window.session.shutdown()  # wait for the mixture fit of a big set
    app.processEvents()
    print(f"open + encode + fit {args.n:,} items: {time.perf_counter() - started:.2f} s")
    scatter = window.scatter
    viewport = scatter.plot.viewport()
    s = window.session

    def widget_point(i: int) -> QPoint:
        p = scatter.widget_pos_of(*s.xy[i])
        return QPoint(round(p.x()), round(p.y()))

    def settle() -> None:
        app.processEvents()
        window.repaint()

    rng = np.random.default_rng(0)
    idle, clicks = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        settle()
        idle.append(time.perf_counter() - t)
        i = int(rng.integers(len(s.xy)))
        pos = widget_point(i)
        t = time.perf_counter()
        send(viewport, QEvent.Type.MouseButtonPress, pos, Qt.MouseButton.LeftButton)
        send(viewport, QEvent.Type.MouseButtonRelease, pos, Qt.MouseButton.NoButton)
        settle()
        clicks.append(time.perf_counter() - t)
    print(f"baseline repaint, no gesture : {statistics.median(idle) * 1e3:7.1f} ms (median)")
    print(f"click → preview repainted    : {statistics.median(clicks) * 1e3:7.1f} ms (median), "
          f"{max(clicks) * 1e3:.1f} ms max")

    a, b = widget_point(0), widget_point(1)
    moves = 60
    decodes_before = scatter.decodes
    frame_times = []
    send(viewport, QEvent.Type.MouseButtonPress, a, Qt.MouseButton.LeftButton)
    total = time.perf_counter()
    for k in range(1, moves + 1):
        pos = QPoint(a.x() + (b.x() - a.x()) * k // moves, a.y() + (b.y() - a.y()) * k // moves)
        send(viewport, QEvent.Type.MouseMove, pos, Qt.MouseButton.LeftButton)
        if k % 2 == 0:  # a mouse delivers ~2 moves per frame on a busy loop
            t = time.perf_counter()
            settle()
            frame_times.append(time.perf_counter() - t)
    send(viewport, QEvent.Type.MouseButtonRelease, b, Qt.MouseButton.NoButton)
    settle()
    total = time.perf_counter() - total
    decodes = scatter.decodes - decodes_before
    print(f"drag, {moves} moves: {total * 1e3:.0f} ms in all, {decodes} decodes (coalesced), "
          f"frame median {statistics.median(frame_times) * 1e3:.1f} ms, "
          f"max {max(frame_times) * 1e3:.1f} ms → {1 / statistics.median(frame_times):.0f} frames/s")
    window.close()


if __name__ == "__main__":
    main()
