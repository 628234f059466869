"""The explorer's table of codes (μ, log σ², the view's x, y, labels, responsibilities) and
writing it as NPZ or CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from latentexplorer.checkpoint import atomic_write_bytes


def codes_table(mu: np.ndarray, logvar: np.ndarray, xy: np.ndarray, labels: np.ndarray | None = None,
                responsibilities: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """One row per item; labels and responsibilities only when there are some."""
    table = {"mu": mu, "logvar": logvar, "xy": xy}
    if labels is not None:
        table["labels"] = labels
    if responsibilities is not None:
        table["responsibilities"] = responsibilities
    return table


def write_codes(table: dict[str, np.ndarray], path: str | Path) -> Path:
    """NPZ (arrays as they are) or CSV (one row per item: mu_j, logvar_j, x, y, label, r_k)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        columns: list[str] = []
        parts: list[np.ndarray] = []
        for name, values in table.items():
            values = np.asarray(values)
            values = values[:, None] if values.ndim == 1 else values
            columns += [name] if values.shape[1] == 1 else [f"{name}_{j}" for j in range(values.shape[1])]
            parts.append(values.astype(np.float64))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(np.hstack(parts).tolist())
        atomic_write_bytes(path, buffer.getvalue().encode())
    else:
        if path.suffix.lower() != ".npz":
            path = path.with_suffix(".npz")
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **table)
        atomic_write_bytes(path, buffer.getvalue())
    return path
