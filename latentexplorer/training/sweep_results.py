"""A β sweep's results: one row of figures per run, written as `sweep.csv` and `sweep.json`
and read back by the GUI's sweep view (no torch, no Qt)."""

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

__all__ = ["RESULTS_CSV", "RESULTS_JSON", "RESULTS_SVG", "SweepRow", "read_results", "write_results"]

RESULTS_JSON = "sweep.json"
RESULTS_CSV = "sweep.csv"
RESULTS_SVG = "sweep.svg"
RESULTS_FORMAT = 1


def write_results(folder: str | Path, rows: list[SweepRow]) -> None:
    """sweep.json, sweep.csv and the plot sweep.svg, rows ordered by β."""
    folder = Path(folder)
    rows = sorted(rows, key=lambda r: r.beta)
    payload = {"format_version": RESULTS_FORMAT, "rows": [_json_safe(r.flat()) for r in rows]}
    atomic_write_text(folder / RESULTS_JSON, json.dumps(payload, indent=2) + "\n")
    atomic_write_text(folder / RESULTS_CSV, rows_to_csv([r.flat() for r in rows]))
    atomic_write_text(folder / RESULTS_SVG, sweep_svg(rows))


def read_results(folder: str | Path) -> list[SweepRow]:
    """The rows of a sweep folder's sweep.json; a UserError that says what is wrong otherwise."""
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
    return sorted(rows, key=lambda r: r.beta)


def _json_safe(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
