"""The bundled runs the app opens on: present, small, loadable, and what they claim to be."""

from __future__ import annotations

import pytest
import torch

from latentexplorer.bundled import bundled_path, bundled_run, bundled_runs, is_bundled
from latentexplorer.checkpoint import load_run

EXPECTED = {
    "digits-vae-2d": ("vae", 2, "digits"),
    "digits-ae-2d": ("ae", 2, "digits"),
    "sprites-betavae": ("betavae", None, "sprites"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_run_loads_and_is_small(name):
    folder = bundled_run(name)
    assert is_bundled(folder)
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size <= 5 * 2**20, f"{name} is {size / 2**20:.1f} MB"
    run = load_run(folder)
    kind, dim, data = EXPECTED[name]
    assert run.config.model.kind == kind and run.config.data.name == data
    assert run.config.model.latent_dim == dim if dim else run.config.model.latent_dim >= 6
    images = run.model.sample(4, generator=torch.Generator().manual_seed(0))
    assert images.shape[1:] == run.config.model.image_shape
    assert run.history, "a bundled run carries its training history"


def test_every_bundled_run_is_listed():
    assert {p.name for p in bundled_runs()} >= set(EXPECTED)


def test_resources_are_found():
    assert bundled_path("resources", "latentexplorer.svg").is_file()
    with pytest.raises(FileNotFoundError, match="searched"):
        bundled_path("resources", "missing.png")
