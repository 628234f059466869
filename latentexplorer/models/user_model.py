"""Loading a user's own model: its class (PACKAGE.MODULE:CLASS, or CLASS in a .py file), its
constructor arguments, and its weights (a state_dict in .safetensors, or in .pt/.pth read with
`torch.load(weights_only=True)`: a file that holds a pickled whole model is refused, never
unpickled). The module is then adapted by `wrap`. Every failure is a ModelError naming its
cause, so the CLI prints one line and the GUI one message, and nothing open is lost."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentexplorer.models.wrapped import ModelError, WrappedModel, last_line, wrap

SAVE_A_STATE_DICT = ('save the weights alone with torch.save(model.state_dict(), "vae.pt") '
                     "(or safetensors.torch.save_file(model.state_dict(), \"vae.safetensors\"))")
NESTED_KEYS = ("state_dict", "model_state_dict", "model")  # common checkpoint layouts


def load_model_class(spec: str, model_file: str | Path | None = None) -> type:
    """The class `spec` names: "package.module:Class" on sys.path, or "Class" (or
    "anything:Class") defined in `model_file`."""
    module_name, _, class_name = spec.rpartition(":")
    if not class_name:
        raise ModelError(f"--model must name a class as MODULE:CLASS, got {spec!r}")
    try:
        if model_file is not None:
            path = Path(model_file)
            if not path.is_file():
                raise ModelError(f"model file not found: {path}")
            name = "latentexplorer_user_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
            loader = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(loader)
            sys.modules[name] = module
            loader.loader.exec_module(module)
        else:
            if not module_name:
                raise ModelError(f"--model {spec!r} names no module: use MODULE:CLASS, or give --model-file")
            module = importlib.import_module(module_name)
    except ModelError:
        raise
    except Exception as exc:  # the import's own error, in one line
        where = model_file or module_name
        raise ModelError(f"could not import {where}: {last_line(exc)}") from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise ModelError(f"{model_file or module_name} has no class {class_name}")
    return cls


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state_dict from .safetensors, or from .pt/.pth without unpickling anything but tensors."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:
            raise ModelError(f"{path} is not a safetensors file: {last_line(exc)}") from exc
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses any object that is not a tensor or container
        raise ModelError(f"{path} holds pickled Python objects (a whole model?) or is not a "
                         f"PyTorch file; they are never unpickled: {SAVE_A_STATE_DICT}") from exc
    if isinstance(loaded, dict):
        for key in NESTED_KEYS:
            if isinstance(loaded.get(key), dict) and all(isinstance(v, torch.Tensor) for v in loaded[key].values()):
                loaded = loaded[key]
                break
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise ModelError(f"{path} holds {type(loaded).__name__}, not a state_dict of tensors: {SAVE_A_STATE_DICT}")
    return loaded


def load_weights(module: nn.Module, state: dict[str, torch.Tensor], source: str = "the weights") -> None:
    """Load a state_dict strictly; missing and unexpected keys and mismatched shapes are listed
    by name (weights of another architecture)."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k} {tuple(state[k].shape)} ≠ {tuple(own[k].shape)}" for k in own
                  if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    problems = []
    for label, names in (("missing", missing), ("unexpected", unexpected), ("shape", mismatched)):
        if names:
            shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise ModelError(f"{source} do not fit {type(module).__name__}: " + "; ".join(problems))
    module.load_state_dict(state)


def load_user_model(spec: str, weights: str | Path, *, image_shape: tuple[int, int, int],
                    model_file: str | Path | None = None, init: dict[str, Any] | None = None,
                    input: str = "auto", likelihood: str = "bernoulli",
                    latent_dim: int | None = None) -> WrappedModel:
    """The user's class built with `init`, its weights loaded, adapted to the protocol."""
    cls = load_model_class(spec, model_file)
    try:
        module = cls(**(init or {}))
    except Exception as exc:
        raise ModelError(f"{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in (init or {}).items())}) "
                         f"failed: {last_line(exc)}; give the constructor's arguments with --init JSON") from exc
    if not isinstance(module, nn.Module):
        raise ModelError(f"{cls.__name__} is not a torch.nn.Module")
    load_weights(module, read_state_dict(weights), f"the weights in {Path(weights).name}")
    return wrap(module, image_shape=image_shape, likelihood=likelihood, input=input, latent_dim=latent_dim)
