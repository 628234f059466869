"""What the training loop reports: plain-float records, never live tensors, so they can
cross threads (the GUI's worker) and processes safely."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class StepMetrics:
    """Losses averaged over the last few steps (plain floats, never live tensors)."""

    epoch: int
    step: int
    progress: float
    total: float
    recon: float
    kl: float
    reg: float
    kl_weight: float
    samples_per_s: float
    epochs: int
    steps_per_epoch: int

    def row(self) -> dict[str, float]:
        return {
            "step": self.step, "progress": round(self.progress, 5), "total": self.total,
            "recon": self.recon, "kl": self.kl, "reg": self.reg,
        }


@dataclass(frozen=True)
class EpochMetrics:
    """One finished epoch: training averages, validation figures, KL per dimension (validation)."""

    epoch: int
    step: int
    train_total: float
    train_recon: float
    train_kl: float
    train_reg: float
    kl_weight: float
    val_total: float
    val_recon: float
    val_kl: float
    kl_per_dim: np.ndarray
    samples_per_s: float
    seconds: float
    nonfinite_steps: int
    epochs: int

    @property
    def val_elbo(self) -> float:
        return -(self.val_recon + self.val_kl)

    def row(self) -> dict[str, float]:
        row = {k: v for k, v in asdict(self).items() if k not in ("kl_per_dim", "epochs")}
        row["val_elbo"] = self.val_elbo
        row.update({f"kl_dim_{i}": float(v) for i, v in enumerate(self.kl_per_dim)})
        return row


@dataclass(frozen=True)
class TrainResult:
    status: str  # "completed" | "cancelled" | "diverged"
    epochs_done: int
    step: int
    message: str
    history: list[dict[str, float]] = field(default_factory=list)


class NonFiniteLoss(RuntimeError):
    """Too many non-finite losses in a row; the message says what to change."""
