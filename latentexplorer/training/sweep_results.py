"""A β sweep's results: one row of figures per run, written as `sweep.csv` and `sweep.json`
and read back by the GUI's sweep view (no torch, no Qt)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from latentexplorer.checkpoint import rows_to_csv
from latentexplorer.errors import UserError
from latentexplorer.fileio import atomic_write_text

RESULTS_JSON = "sweep.json"
RESULTS_CSV = "sweep.csv"
RESULTS_SVG = "sweep.svg"
RESULTS_FORMAT = 1

_NOT_EXTRA = {"n", "k", "recon", "kl", "elbo", "mig", "active_units", "latent_dim", "variational"}


@dataclass(frozen=True)
class SweepRow:
    """The figures of one run of a sweep, on the sweep's fixed evaluation subset (nats)."""

    beta: float
    recon: float  # E_q[log p(x|z)]
    kl: float
    elbo: float
    mig: float | None
    active_units: int
    latent_dim: int
    epochs: int
    run: str  # the run folder, relative to the sweep folder
    extra: dict[str, float] = field(default_factory=dict)  # IWAE and any further scores

    @property
    def recon_error(self) -> float:
        """−E_q[log p(x|z)]: the reconstruction term as it enters the loss (grows with β)."""
        return -self.recon

    def flat(self) -> dict[str, Any]:
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("extra", "run")}
        row.update(self.extra)
        row["run"] = self.run
        return row

    @classmethod
    def from_flat(cls, raw: dict[str, Any]) -> SweepRow:
        known = {f.name for f in fields(cls)} - {"extra"}
        mig = raw.get("mig")
        return cls(
            beta=float(raw["beta"]), recon=float(raw["recon"]), kl=float(raw["kl"]),
            elbo=float(raw["elbo"]), mig=None if mig is None else float(mig),
            active_units=int(raw["active_units"]), latent_dim=int(raw["latent_dim"]),
            epochs=int(raw["epochs"]), run=str(raw["run"]),
            extra={k: float(v) for k, v in raw.items() if k not in known and v is not None},
        )


def row_from_evaluation(evaluation: Any, beta: float, epochs: int, run: str) -> SweepRow:
    """A row from an `Evaluation`, read field by field so scores added to it later (e.g.
    SAP, DCI) are kept as extra columns and scores it lacks are simply absent."""
    extra: dict[str, float] = {}
    for name, value in vars(evaluation).items():
        if name in _NOT_EXTRA or name.endswith("_se") or isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            extra[name] = float(value)
    mig = getattr(evaluation, "mig", None)
    return SweepRow(
        beta=float(beta), recon=float(evaluation.recon), kl=float(getattr(evaluation, "kl", math.nan)),
        elbo=float(getattr(evaluation, "elbo", math.nan)),
        mig=None if mig is None or not math.isfinite(mig) else float(mig),
        active_units=int(getattr(evaluation, "active_units", 0)),
        latent_dim=int(getattr(evaluation, "latent_dim", 0)), epochs=int(epochs), run=run, extra=extra,
    )


def write_results(folder: str | Path, rows: list[SweepRow]) -> None:
    """sweep.json, sweep.csv and the plot sweep.svg, rows ordered by β."""
    from latentexplorer.training.sweep_plot import sweep_svg

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
