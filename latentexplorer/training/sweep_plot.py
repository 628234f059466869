"""The sweep's figure as a standalone SVG: reconstruction error and KL (nats, left axis) and
MIG (right axis, 0–1) against β on a log2 axis; with several seeds per β each point is the
mean, with a bar over its 95 % interval. Written by hand so the core needs no plotting
library; any browser or vector editor opens it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

import numpy as np

from latentexplorer.training.sweep_row import SweepRow
from latentexplorer.training.sweep_stats import Estimate, summarise

WIDTH, HEIGHT = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 70, 30, 90
CAP = 4  # half-width of an error bar's caps, pixels
CURVES = (
    ("reconstruction error −E[log p(x|z)]", "#1f77b4", "left"),
    ("KL(q(z|x) ‖ p(z))", "#d62728", "left"),
    ("MIG", "#2ca02c", "right"),
)
METRIC_OF = {CURVES[0][0]: "recon_error", CURVES[1][0]: "kl", CURVES[2][0]: "mig"}


def beta_positions(betas: Sequence[float]) -> np.ndarray:
    """x positions on a log2 β axis; β = 0 sits one unit left of the smallest positive β."""
    betas = np.asarray(betas, dtype=float)
    positive = betas[betas > 0]
    floor = (np.log2(positive).min() if len(positive) else 0.0) - 1.0
    return np.where(betas > 0, np.log2(np.where(betas > 0, betas, 1.0)), floor)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0, 1.0]
    if high - low < 1e-12:
        low, high = low - 1.0, high + 1.0
    raw = (high - low) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def sweep_svg(rows: Sequence[SweepRow]) -> str:
    """The figure for `rows` (one point per β per curve, the mean over its seeds with its 95 %
    interval as a bar; MIG only when the data have factors)."""
    summary = summarise(rows)
    xs = beta_positions([p.beta for p in summary])
    estimates: dict[str, list[Estimate]] = {
        name: [p.estimate(METRIC_OF[name]) for p in summary] for name, _, _ in CURVES
    }
    if all(e.mean is None for e in estimates[CURVES[2][0]]):
        del estimates[CURVES[2][0]]
    series = {name: [math.nan if e.mean is None else e.mean for e in values]
              for name, values in estimates.items()}
    left_values = [v for name, c, side in CURVES if side == "left" for e in estimates[name]
                   for v in (e.low, e.high) if v is not None and math.isfinite(v)]
    left_ticks = nice_ticks(min(left_values, default=0.0), max(left_values, default=1.0))
    right_ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
    x_low, x_high = (float(xs.min()) - 0.3, float(xs.max()) + 0.3) if len(xs) else (0.0, 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def sy(y: float, ticks: list[float]) -> float:
        return TOP + plot_h - (y - ticks[0]) / (ticks[-1] - ticks[0]) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        "<title>β sweep: reconstruction, KL and MIG against β</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<g id="axes" stroke="black" fill="none"><rect x="{LEFT}" y="{TOP}" '
        f'width="{plot_w}" height="{plot_h}"/></g>',
        '<g id="x-ticks" text-anchor="middle">',
    ]
    for beta, x in zip((p.beta for p in summary), xs):
        px = sx(float(x))
        out.append(f'<line x1="{px:.1f}" y1="{TOP + plot_h}" x2="{px:.1f}" y2="{TOP + plot_h + 5}" stroke="black"/>')
        out.append(f'<text x="{px:.1f}" y="{TOP + plot_h + 18}">{beta:g}</text>')
    out.append("</g>")
    out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h + 36}" text-anchor="middle">'
               "β (log2 scale)</text>")
    for ticks, anchor, x_tick, x_text, axis_id in (
        (left_ticks, "end", LEFT - 5, LEFT - 8, "left-ticks"),
        (right_ticks, "start", LEFT + plot_w + 5, LEFT + plot_w + 8, "right-ticks"),
    ):
        out.append(f'<g id="{axis_id}" text-anchor="{anchor}">')
        edge = LEFT if anchor == "end" else LEFT + plot_w
        for t in ticks:
            py = sy(t, ticks)
            out.append(f'<line x1="{edge}" y1="{py:.1f}" x2="{x_tick}" y2="{py:.1f}" stroke="black"/>')
            out.append(f'<text x="{x_text}" y="{py + 4:.1f}">{t:g}</text>')
        out.append("</g>")
    out.append(f'<text transform="translate(16 {TOP + plot_h / 2:.1f}) rotate(-90)" '
               'text-anchor="middle">nats</text>')
    if CURVES[2][0] in series:
        out.append(f'<text transform="translate({WIDTH - 16} {TOP + plot_h / 2:.1f}) rotate(90)" '
                   'text-anchor="middle">MIG</text>')
    out.append('<g id="curves" fill="none" stroke-width="2">')
    for name, colour, side in CURVES:
        if name not in series:
            continue
        ticks = left_ticks if side == "left" else right_ticks
        points = [(sx(float(x)), sy(v, ticks)) for x, v in zip(xs, series[name]) if math.isfinite(v)]
        text = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        out.append(f'<polyline class="curve" data-name="{escape(name)}" points="{text}" stroke="{colour}"/>')
        for px, py in points:
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}" stroke="none"/>')
    out.append("</g>")
    out.append('<g id="error-bars" stroke-width="1.5">')
    for name, colour, side in CURVES:
        ticks = left_ticks if side == "left" else right_ticks
        for x, e in zip(xs, estimates.get(name, [])):
            if e.ci95 is None or not math.isfinite(e.ci95):
                continue
            px = sx(float(x))  # a bar past the axis (MIG above 1) is cut at its edge
            top, bottom = max(TOP, sy(e.high, ticks)), min(TOP + plot_h, sy(e.low, ticks))
            out.append(f'<path class="error-bar" data-name="{escape(name)}" data-mean="{e.mean!r}" '
                       f'data-ci95="{e.ci95!r}" stroke="{colour}" fill="none" '
                       f'd="M{px - CAP:.1f},{top:.1f}H{px + CAP:.1f}M{px:.1f},{top:.1f}V{bottom:.1f}'
                       f'M{px - CAP:.1f},{bottom:.1f}H{px + CAP:.1f}"/>')
    out.append("</g>")
    out.append('<g id="legend">')
    x0, y0 = LEFT, HEIGHT - 28
    for name, colour, _ in (c for c in CURVES if c[0] in series):
        out.append(f'<line x1="{x0}" y1="{y0}" x2="{x0 + 20}" y2="{y0}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{x0 + 25}" y="{y0 + 4}">{escape(name)}</text>')
        x0 += 45 + 6 * len(name)
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
