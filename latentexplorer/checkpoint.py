"""Run folders: weights in safetensors, everything else in JSON/CSV, every write atomic.

A run folder holds
    config.json            RunConfig (format version, model, training, data)
    model.safetensors      the model's weights
    optimizer.safetensors  optimizer state for resuming (tensors; the rest as JSON metadata)
    state.json             epoch, step and status of the last complete epoch
    history.csv            one row per epoch
    steps.csv              losses every few steps, for the loss plot of a past run

Nothing here unpickles: safetensors cannot carry code, and the only `torch.load`
(for `.pt`/`.pth` weights a user brings) runs with `weights_only=True`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes
from torch import nn

from latentexplorer.bundled import is_bundled
from latentexplorer.config import RunConfig
from latentexplorer.errors import CheckpointError, ConfigError
from latentexplorer.fileio import atomic_write_bytes, atomic_write_text
from latentexplorer.models import LatentModel, build_model

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "state.json"
HISTORY_FILE = "history.csv"
STEPS_FILE = "steps.csv"
LEGACY_WEIGHTS = ("model.pt", "model.pth")


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text with the union of the rows' keys as columns, in first-seen order."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_csv(path: Path) -> list[dict[str, float]]:
    """Rows of a numeric CSV (empty cells become NaN); [] when the file is absent."""
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [
            {k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()}
            for row in csv.DictReader(handle)
        ]


# --- tensors <-> safetensors -----------------------------------------------------------------


def state_dict_bytes(module: nn.Module, metadata: dict[str, str] | None = None) -> bytes:
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    return save_safetensors_bytes(tensors, metadata=metadata)


def load_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a `.safetensors` file, or a `.pt`/`.pth` read with `weights_only=True`.

    A pickle that carries code is refused before any of it runs.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    if path.suffix in (".pt", ".pth"):
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # UnpicklingError, RuntimeError, EOFError...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"refused to load {path.name}: it is not a plain tensor file "
                f"(it may contain code, which LatentExplorer never runs; {first[:160]})"
            ) from None
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()
        ):
            raise CheckpointError(f"{path.name} does not hold a dictionary of named tensors")
        return loaded
    try:
        return load_safetensors_bytes(path.read_bytes())
    except (SafetensorError, ValueError, OSError) as exc:
        raise CheckpointError(
            f"weights file {path.name} is corrupt or truncated ({str(exc)[:160]})"
        ) from None


def load_state_into(model: nn.Module, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Load weights, naming the first mismatch instead of torch's long error."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"
        raise CheckpointError(f"weights in {source} do not match the model in config.json ({detail})")
    for key, tensor in expected.items():
        if tuple(tensors[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"weights in {source} do not match config.json: {key} has shape "
                f"{tuple(tensors[key].shape)}, the config implies {tuple(tensor.shape)}"
            )
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})


def optimizer_bytes(optimizer: torch.optim.Optimizer, metadata: dict[str, str]) -> bytes:
    """Optimizer state as safetensors: tensors flattened by name, the rest as JSON metadata."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    meta = dict(metadata)
    meta["param_groups"] = json.dumps(state["param_groups"])
    meta["scalars"] = json.dumps(scalars)
    return save_safetensors_bytes(tensors, metadata=meta)


def load_optimizer_state(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The optimizer's state_dict and the file's metadata (inverse of `optimizer_bytes`)."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
        param_groups = json.loads(metadata["param_groups"])
        scalars = json.loads(metadata.get("scalars", "{}"))
    except (SafetensorError, OSError, KeyError, ValueError) as exc:
        raise CheckpointError(f"optimizer state {path.name} is corrupt ({str(exc)[:120]})") from None
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = tensor
    for pid, entry in scalars.items():
        state.setdefault(int(pid), {}).update(entry)
    return {"state": state, "param_groups": param_groups}, metadata


# --- run folders ---------------------------------------------------------------------------


@dataclass
class Run:
    """An opened run folder."""

    folder: Path
    config: RunConfig
    model: LatentModel
    state: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.config.name or self.folder.name

    @property
    def read_only(self) -> bool:
        return is_bundled(self.folder)

    @property
    def epoch(self) -> int:
        return int(self.state.get("epoch", 0))

    def steps(self) -> list[dict[str, float]]:
        return read_csv(self.folder / STEPS_FILE)


def is_run_folder(path: str | Path) -> bool:
    return (Path(path) / CONFIG_FILE).is_file()


def read_config(folder: str | Path) -> RunConfig:
    folder = Path(folder)
    if not folder.exists():
        raise CheckpointError(f"run folder not found: {folder}")
    if not folder.is_dir():
        raise CheckpointError(f"not a run folder (expected a folder with {CONFIG_FILE}): {folder}")
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"not a run folder: {folder} has no {CONFIG_FILE}")
    try:
        return RunConfig.from_json(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CheckpointError(f"{path} is not a text file") from None
    except ConfigError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def read_state(folder: Path) -> dict[str, Any]:
    path = folder / STATE_FILE
    if not path.is_file():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{path} is corrupt (not valid JSON)") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is corrupt (not a JSON object)")
    return state


def load_run(folder: str | Path, device: str | torch.device = "cpu") -> Run:
    """Open a run folder: config, weights (checked against the config), state and history.

    Every failure is a CheckpointError with one readable sentence.
    """
    folder = Path(folder)
    config = read_config(folder)
    model = build_model(config.model, folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        legacy = [folder / name for name in LEGACY_WEIGHTS if (folder / name).is_file()]
        if not legacy:
            raise CheckpointError(f"run folder {folder} has no {WEIGHTS_FILE}")
        weights = legacy[0]
    load_state_into(model, load_weights_file(weights), weights.name)
    model.to(device).eval()
    return Run(
        folder=folder,
        config=config,
        model=model,
        state=read_state(folder),
        history=read_csv(folder / HISTORY_FILE),
    )


def prepare_run_folder(folder: str | Path, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Check that training may write to `folder`, refusing to clobber an existing run by accident."""
    folder = Path(folder)
    if is_bundled(folder):
        raise CheckpointError(f"{folder} is a bundled run and read-only; choose another --out")
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"--out {folder} exists and is not a folder")
    if is_run_folder(folder):
        if not (resume or overwrite):
            raise CheckpointError(
                f"{folder} already holds a run; pass --resume to continue it or --overwrite to replace it"
            )
        if overwrite and not resume:
            for name in (WEIGHTS_FILE, OPTIMIZER_FILE, STATE_FILE, HISTORY_FILE, STEPS_FILE, CONFIG_FILE):
                (folder / name).unlink(missing_ok=True)
    elif resume:
        raise CheckpointError(f"nothing to resume: {folder} is not a run folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_run(
    folder: str | Path,
    model: nn.Module,
    config: RunConfig,
    *,
    state: dict[str, Any],
    history: list[dict[str, Any]] | None = None,
    steps: list[dict[str, Any]] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> None:
    """Save a complete epoch. Each file is replaced atomically; state.json goes last and
    names the epoch, so a reader never mistakes a half-written save for a finished one."""
    folder = Path(folder)
    if is_bundled(folder):
        raise CheckpointError(f"{folder} is a bundled run and read-only")
    folder.mkdir(parents=True, exist_ok=True)
    epoch = str(state.get("epoch", 0))
    atomic_write_bytes(folder / WEIGHTS_FILE, state_dict_bytes(model, {"epoch": epoch}))
    if optimizer is not None:
        atomic_write_bytes(folder / OPTIMIZER_FILE, optimizer_bytes(optimizer, {"epoch": epoch}))
    atomic_write_text(folder / CONFIG_FILE, config.to_json() + "\n")
    for name, text in getattr(model, "run_files", dict)().items():
        atomic_write_text(folder / name, text)
    if history is not None:
        atomic_write_text(folder / HISTORY_FILE, rows_to_csv(history))
    if steps is not None:
        atomic_write_text(folder / STEPS_FILE, rows_to_csv(steps))
    atomic_write_text(folder / STATE_FILE, json.dumps(state, indent=2, sort_keys=True) + "\n")
