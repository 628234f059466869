"""One row of a β sweep's table: the figures of one run, on the sweep's fixed evaluation
subset. Its own module because both the table (`sweep_results`) and the figure
(`sweep_plot`) read rows, and the table writes the figure."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

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
    seed: int | None = None  # the training seed, in a sweep with seeds

    @property
    def recon_error(self) -> float:
        """−E_q[log p(x|z)]: the reconstruction term as it enters the loss (grows with β)."""
        return -self.recon

    def flat(self) -> dict[str, Any]:
        """beta (seed), the figures, the extra scores, then run: a row of the tables."""
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("extra", "run", "seed")}
        if self.seed is not None:
            row = {"beta": row.pop("beta"), "seed": self.seed, **row}
        row.update(self.extra)
        row["run"] = self.run
        return row

    @classmethod
    def from_flat(cls, raw: dict[str, Any]) -> SweepRow:
        known = {f.name for f in fields(cls)} - {"extra"}
        mig, seed = raw.get("mig"), raw.get("seed")
        return cls(
            beta=float(raw["beta"]), recon=float(raw["recon"]), kl=float(raw["kl"]),
            elbo=float(raw["elbo"]), mig=None if mig is None else float(mig),
            active_units=int(raw["active_units"]), latent_dim=int(raw["latent_dim"]),
            epochs=int(raw["epochs"]), run=str(raw["run"]),
            extra={k: float(v) for k, v in raw.items() if k not in known and v is not None},
            seed=None if seed is None else int(seed),
        )


def row_from_evaluation(evaluation: Any, beta: float, epochs: int, run: str,
                        seed: int | None = None) -> SweepRow:
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
        seed=seed,
    )
