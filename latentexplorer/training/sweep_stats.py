"""A sweep's figures per β over its seeds: the mean and the 95 % Student-t interval's
half-width, t(0.975, n−1)·s/√n with s the sample standard deviation (ddof 1).

With one seed there is no interval: its half-width is None (an empty cell, a bar not drawn),
never a zero that would read as certainty. Apart from the table and the figure, which both
read it (no torch, no Qt).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from latentexplorer.training.sweep_row import SweepRow

METRICS = ("recon", "kl", "elbo", "mig", "active_units")
"""The figures of every row, in the tables' order; a row's extra scores (IWAE, SAP, DCI) follow."""
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """The mean of a figure over the seeds whose value is finite, and the 95 % half-width."""

    mean: float | None  # None when no run has the figure (MIG without factors)
    ci95: float | None  # None with fewer than two values: no interval
    n: int

    @property
    def low(self) -> float | None:
        return None if self.mean is None else self.mean - (self.ci95 or 0.0)

    @property
    def high(self) -> float | None:
        return None if self.mean is None else self.mean + (self.ci95 or 0.0)

    def text(self, digits: int = 2) -> str:
        """`-123.45 ± 1.20`, `-123.45` (one seed) or `–` (no value)."""
        if self.mean is None:
            return "–"
        return f"{self.mean:.{digits}f}" + ("" if self.ci95 is None else f" ± {self.ci95:.{digits}f}")


def mean_ci95(values: Iterable[float | None]) -> Estimate:
    """Mean and Student-t 95 % half-width of the finite values."""
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(finite)
    if n == 0:
        return Estimate(None, None, 0)
    if n == 1:
        return Estimate(float(finite[0]), None, 1)
    from scipy.stats import t

    half = t.ppf(0.5 + CONFIDENCE / 2, n - 1) * finite.std(ddof=1) / math.sqrt(n)
    return Estimate(float(finite.mean()), float(half), n)


def metric_value(row: SweepRow, metric: str) -> float | None:
    """A row's figure by its column name (`recon_error` is −recon, as the plot draws it)."""
    if metric == "recon_error":
        return row.recon_error
    if metric in row.extra:
        return row.extra[metric]
    value = getattr(row, metric, None)
    return None if value is None else float(value)


@dataclass(frozen=True)
class SweepPoint:
    """One β of a sweep: its runs (one per seed) and their figures' estimates."""

    beta: float
    runs: tuple[SweepRow, ...]

    @property
    def seeds(self) -> int:
        return len(self.runs)

    def estimate(self, metric: str) -> Estimate:
        return mean_ci95(metric_value(r, metric) for r in self.runs)

    def metrics(self) -> list[str]:
        """The figures of its rows: the usual ones, then every extra score any run has."""
        extra = [k for r in self.runs for k in r.extra]
        return [*METRICS, *dict.fromkeys(extra)]

    def flat(self, metrics: Sequence[str] | None = None) -> dict[str, Any]:
        """The summary row: beta, seeds, then `<metric>_mean` and `<metric>_ci95` (None: no
        interval, or no value) for each figure."""
        row: dict[str, Any] = {"beta": self.beta, "seeds": self.seeds}
        for metric in metrics or self.metrics():
            estimate = self.estimate(metric)
            row[f"{metric}_mean"], row[f"{metric}_ci95"] = estimate.mean, estimate.ci95
        return row


def summarise(rows: Iterable[SweepRow]) -> list[SweepPoint]:
    """The rows grouped by β (ordered by β, the runs of each by seed)."""
    groups: dict[float, list[SweepRow]] = {}
    for row in rows:
        groups.setdefault(row.beta, []).append(row)
    return [SweepPoint(beta, tuple(sorted(runs, key=lambda r: (r.seed is not None, r.seed or 0))))
            for beta, runs in sorted(groups.items())]


def summary_rows(points: Sequence[SweepPoint]) -> list[dict[str, Any]]:
    """Every point's summary row with the same columns (the union of their figures)."""
    metrics = list(dict.fromkeys(m for p in points for m in p.metrics()))
    return [p.flat(metrics) for p in points]
