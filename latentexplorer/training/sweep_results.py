"""A β sweep's results, read back by the GUI's sweep view (no torch, no Qt).

`sweep.csv` has one row per β: `beta`, `seeds` (runs averaged), then `<metric>_mean` and
`<metric>_ci95` (the 95 % Student-t half-width over seeds; empty with one seed) for each
figure. `sweep-runs.csv` has one row per run (`beta`, `seed` in a sweep with seeds, the
figures, `run`), the values the means and intervals come from. `sweep.json` holds both
(`rows` per run, `summary` per β), `sweep.svg` plots the means with their intervals."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from latentexplorer.checkpoint import rows_to_csv
from latentexplorer.errors import UserError
from latentexplorer.fileio import atomic_write_text
from latentexplorer.training.sweep_plot import sweep_svg
from latentexplorer.training.sweep_row import SweepRow
from latentexplorer.training.sweep_stats import summarise, summary_rows

__all__ = ["RESULTS_CSV", "RESULTS_JSON", "RESULTS_SVG", "RUNS_CSV", "SweepRow", "read_results",
           "write_results"]

RESULTS_JSON = "sweep.json"
RESULTS_CSV = "sweep.csv"
RUNS_CSV = "sweep-runs.csv"
RESULTS_SVG = "sweep.svg"
RESULTS_FORMAT = 2  # 2: the summary per β (format 1 had the runs' rows only)


def write_results(folder: str | Path, rows: list[SweepRow]) -> None:
    """sweep.json, sweep.csv (per β), sweep-runs.csv (per run) and the plot sweep.svg."""
    folder = Path(folder)
    rows = _ordered(rows)
    summary = summary_rows(summarise(rows))
    payload = {"format_version": RESULTS_FORMAT, "rows": [_json_safe(r.flat()) for r in rows],
               "summary": [_json_safe(r) for r in summary]}
    atomic_write_text(folder / RESULTS_JSON, json.dumps(payload, indent=2) + "\n")
    atomic_write_text(folder / RESULTS_CSV, rows_to_csv(summary))
    atomic_write_text(folder / RUNS_CSV, rows_to_csv([r.flat() for r in rows]))
    atomic_write_text(folder / RESULTS_SVG, sweep_svg(rows))


def _ordered(rows: list[SweepRow]) -> list[SweepRow]:
    return sorted(rows, key=lambda r: (r.beta, r.seed is not None, r.seed or 0))


def read_results(folder: str | Path) -> list[SweepRow]:
    """The runs' rows of a sweep folder's sweep.json (β, then seed, order); a UserError that
    says what is wrong otherwise."""
    folder = Path(folder)
    path = folder / RESULTS_JSON
    if not folder.is_dir():
        raise UserError(f"not a folder: {folder}")
    if not path.is_file():
        if (folder / "sweep-config.json").is_file():
            raise UserError(
                f"the β sweep in {folder} has no results yet; finish it with "
                f"`latentexplorer sweep --out {folder}`"
            )
        raise UserError(f"{folder} is not a β sweep folder (it has no {RESULTS_JSON}); "
                        "make one with `latentexplorer sweep`")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        rows = [SweepRow.from_flat(r) for r in raw["rows"]]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path} is not a readable sweep table ({type(exc).__name__})") from None
    if not rows:
        raise UserError(f"the β sweep in {folder} has no rows")
    return _ordered(rows)


def _json_safe(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
