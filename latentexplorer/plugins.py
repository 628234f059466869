"""Models other packages install: the entry-point group `latentexplorer.models`.

A package registers a name under the group in its metadata, e.g. in pyproject.toml:

    [project.entry-points."latentexplorer.models"]
    my-vae = "my_package.explore:my_vae"

and the object it names is either

- a callable (no arguments) returning a model: one of ours, `latentexplorer.wrap(module, …)`,
  or a plain `nn.Module` with `encode`/`decode` (wrapped for the image shape of the data), or
- a mapping that describes a class and its weights, read as `latentexplorer open` reads its
  flags: {"model": Class or "pkg.mod:Class", "weights": "vae.pt", "image_shape": (1, 28, 28),
  "init": {…}, "input": "flat", "likelihood": "bernoulli", "data": "mnist"}; a relative
  weights path is relative to the folder of the module that holds the mapping.

Plugins appear in File ▸ Open model…; nothing of a plugin is imported until it is opened.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from latentexplorer.models.wrapped import ModelError, last_line

GROUP = "latentexplorer.models"
MAPPING_KEYS = {"model", "weights", "image_shape", "init", "input", "likelihood", "latent_dim", "data",
                "model_file"}


@dataclass(frozen=True)
class ModelPlugin:
    """One registered model: its name, what it points at, and the package that registered it."""

    name: str
    target: str
    package: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.package})" if self.package else self.name

    def load_object(self) -> Any:
        """What the entry point names (importing the plugin's module)."""
        entry = metadata.EntryPoint(name=self.name, value=self.target, group=GROUP)
        try:
            return entry.load()
        except Exception as exc:
            raise ModelError(f"plugin {self.name!r} ({self.target}) could not be loaded: "
                             f"{last_line(exc)}") from exc


def installed_models() -> list[ModelPlugin]:
    """Every model registered under GROUP by an installed package, sorted by name; a name
    registered twice keeps the first package's."""
    found: dict[str, ModelPlugin] = {}
    for entry in metadata.entry_points(group=GROUP):
        package = entry.dist.name if getattr(entry, "dist", None) is not None else ""
        found.setdefault(entry.name, ModelPlugin(entry.name, entry.value, package))
    return sorted(found.values(), key=lambda p: p.name.lower())


def find_plugin(name: str) -> ModelPlugin:
    for plugin in installed_models():
        if plugin.name == name:
            return plugin
    names = ", ".join(p.name for p in installed_models()) or "none are installed"
    raise ModelError(f"no model plugin named {name!r} ({names})")


def plugin_description(plugin: ModelPlugin) -> dict[str, Any]:
    """The plugin's mapping (its relative weights made absolute), or {"factory": callable}."""
    target = plugin.load_object()
    if isinstance(target, Mapping):
        unknown = set(target) - MAPPING_KEYS
        if unknown or "model" not in target or "weights" not in target:
            raise ModelError(f"plugin {plugin.name!r}: a mapping needs 'model' and 'weights' "
                             f"(and may give {', '.join(sorted(MAPPING_KEYS - {'model', 'weights'}))})"
                             + (f"; unknown keys: {', '.join(sorted(unknown))}" if unknown else ""))
        description = dict(target)
        weights = Path(str(description["weights"])).expanduser()
        if not weights.is_absolute():
            module = sys.modules.get(plugin.target.split(":")[0])
            base = Path(getattr(module, "__file__", "") or ".").resolve().parent
            weights = base / weights
        description["weights"] = str(weights)
        return description
    if callable(target):
        return {"factory": target}
    raise ModelError(f"plugin {plugin.name!r} names a {type(target).__name__}; it must name a "
                     "callable returning a model, or a mapping with 'model' and 'weights'")
