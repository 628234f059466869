"""Opening a user's own model with data as an in-memory run: one description (`ModelSpec`)
shared by `latentexplorer open`, File ▸ Open model… (which remembers it in recent items) and
the model plugins, so each path checks the same things and says the same messages."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from latentexplorer.errors import DataError, UserError
from latentexplorer.models.wrapped import INPUTS, LIKELIHOODS, ModelError, last_line

SIZED_DATA = ("sprites", "folder")  # sources drawn or resized at any image size


@dataclass(frozen=True)
class ModelSpec:
    """A user's model and the data to explore it on (every field as the CLI flag of its name)."""

    model: str = ""  # "package.module:Class", or "Class" with model_file
    weights: str = ""
    model_file: str | None = None
    init: dict[str, Any] = field(default_factory=dict)
    plugin: str | None = None  # an installed plugin's name, instead of model and weights
    data: str | None = None
    data_root: str | None = None
    size: int | None = None
    items: int | None = None
    image_shape: tuple[int, int, int] | None = None
    input: str = "auto"
    likelihood: str = "bernoulli"
    latent_dim: int | None = None

    @property
    def label(self) -> str:
        """How recent items name it: the model, its weights file and the data."""
        what = f"plugin {self.plugin}" if self.plugin else f"{self.model} · {Path(self.weights).name}"
        return f"{what} · {self.data or self.data_root or 'digits'}"

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v not in (None, {}, "")}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        """A remembered spec; an entry from another version (unknown or wrong fields) is refused."""
        try:
            values = json.loads(text)
            known = {f.name for f in fields(cls)}
            if not isinstance(values, dict) or set(values) - known:
                raise ValueError("not a model description")
            if values.get("image_shape") is not None:
                values["image_shape"] = tuple(values["image_shape"])
            return cls(**values)
        except (ValueError, TypeError) as exc:
            raise UserError(f"a remembered model could not be read: {exc}") from exc


def parse_image_shape(text: str) -> tuple[int, int, int]:
    """C,H,W (or C×H×W) as the user types it."""
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").replace("×", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise UserError(f"the image shape must be C,H,W (e.g. 1,28,28), got {text!r}")
    return shape


def check_spec(spec: ModelSpec) -> None:
    """Refuse what is wrong before anything is imported."""
    if not spec.plugin and (not spec.model or not spec.weights):
        raise UserError("name the model's class (MODULE:CLASS or a .py file and its class) and its weights")
    if spec.input not in INPUTS:
        raise UserError(f"input must be one of {', '.join(INPUTS)}, got {spec.input!r}")
    if spec.likelihood not in LIKELIHOODS:
        raise UserError(f"likelihood must be one of {', '.join(LIKELIHOODS)}, got {spec.likelihood!r}")
    if not isinstance(spec.init, dict):
        raise UserError("the constructor's arguments must be a JSON object, e.g. {\"latent\": 20}")


def check_fits(model, images) -> None:
    """A DataError when the model does not read images of the data's shape (every way of
    bringing a model: the CLI, the dialog, plugins, `le.show`)."""
    if tuple(model.config.image_shape) != tuple(images.image_shape):
        raise DataError(f"{images.name} has images of shape {images.image_shape}, but the model "
                        f"reads {tuple(model.config.image_shape)}")


def open_model(spec: ModelSpec):
    """(Run, ImageSet): the user's model wrapped as an in-memory run, and the data it is
    explored on, checked to fit each other. Raises UserError (ModelError, DataError) naming
    the cause; nothing is shown or replaced before it returns."""
    from latentexplorer.checkpoint import Run
    from latentexplorer.config import DataConfig, RunConfig
    from latentexplorer.data import load_dataset

    check_spec(spec)
    factory = None
    if spec.plugin:
        spec, factory = _plugin_spec(spec)
    name = spec.data or ("npz" if str(spec.data_root or "").endswith((".npz", ".npy")) else "digits")
    size = spec.size
    if size is None and spec.image_shape and name in SIZED_DATA:  # made at the size the model reads
        size = spec.image_shape[1]
    data = DataConfig(name=name, root=spec.data_root, size=size, n=spec.items)
    images = load_dataset(data)
    shape = tuple(spec.image_shape) if spec.image_shape else images.image_shape
    if tuple(images.image_shape) != shape:
        raise DataError(f"{images.name} has images of shape {images.image_shape}, but the model "
                        f"is said to read {shape}")
    model = _factory_model(spec, factory, shape) if factory is not None else _class_model(spec, shape)
    check_fits(model, images)
    source = spec.plugin or Path(spec.weights).stem
    folder = Path(spec.weights).resolve().parent if spec.weights else Path.cwd()
    run = Run(folder=folder, config=RunConfig(model=model.config, data=data, name=source), model=model,
              state={"user_model": str(Path(spec.weights).resolve()) if spec.weights else f"plugin {spec.plugin}",
                     "spec": spec.to_json()})
    return run, images


def _class_model(spec: ModelSpec, shape: tuple[int, int, int]):
    from latentexplorer.models.user_model import load_user_model

    return load_user_model(spec.model, spec.weights, image_shape=shape, model_file=spec.model_file,
                           init=spec.init, input=spec.input, likelihood=spec.likelihood,
                           latent_dim=spec.latent_dim)


def _plugin_spec(spec: ModelSpec):
    """The spec a plugin's mapping fills in (the user's own choices of data kept), or the
    plugin's factory."""
    from latentexplorer.plugins import find_plugin, plugin_description

    description = plugin_description(find_plugin(spec.plugin))
    if "factory" in description:
        return spec, description["factory"]
    model = description["model"]
    if isinstance(model, type):
        model = f"{model.__module__}:{model.__qualname__}"
    filled = replace(
        spec, model=str(model), weights=description["weights"], model_file=description.get("model_file"),
        init=dict(description.get("init") or {}), input=description.get("input", spec.input),
        likelihood=description.get("likelihood", spec.likelihood),
        latent_dim=description.get("latent_dim", spec.latent_dim),
        image_shape=tuple(description["image_shape"]) if description.get("image_shape") else spec.image_shape,
        data=spec.data or (None if spec.data_root else description.get("data")),
    )
    return filled, None


def _factory_model(spec: ModelSpec, factory, shape: tuple[int, int, int]):
    from torch import nn

    from latentexplorer.models import LatentModel, wrap

    try:
        made = factory()
    except Exception as exc:
        raise ModelError(f"plugin {spec.plugin!r} failed to build its model: {last_line(exc)}") from exc
    if isinstance(made, LatentModel):
        return made.cpu().eval()
    if isinstance(made, nn.Module):
        return wrap(made, image_shape=shape, likelihood=spec.likelihood, input=spec.input,
                    latent_dim=spec.latent_dim)
    raise ModelError(f"plugin {spec.plugin!r} returned {type(made).__name__}, not a torch model")
