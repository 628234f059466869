"""Models registered by installed packages under the entry-point group
`latentexplorer.models`: a factory returning a wrapped model, and a mapping of a class and its
weights, both opened as `latentexplorer open` opens a class; what a broken plugin does is said
by name. The package is installed for the test as a `.dist-info` folder on sys.path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentexplorer.errors import UserError
from latentexplorer.models import WrappedModel
from latentexplorer.opening import ModelSpec, open_model
from latentexplorer.plugins import installed_models

PLUGIN_SOURCE = '''
import torch
from torch import nn

import latentexplorer


class TinyVAE(nn.Module):
    def __init__(self, latent=3):
        super().__init__()
        self.enc = nn.Linear(64, 2 * latent)
        self.dec = nn.Linear(latent, 64)

    def encode(self, x):
        return self.enc(x.flatten(1)).chunk(2, dim=1)

    def decode(self, z):
        return self.dec(z).view(-1, 1, 8, 8)


def tiny_vae():
    torch.manual_seed(1)
    return latentexplorer.wrap(TinyVAE(), image_shape=(1, 8, 8))


def plain_module():
    return TinyVAE(latent=4)


MAPPED = {"model": TinyVAE, "weights": "tiny.pt", "image_shape": (1, 8, 8), "data": "digits",
          "init": {"latent": 5}}
NO_WEIGHTS = {"model": TinyVAE}
NOT_A_MODEL = 3


def broken():
    raise RuntimeError("no GPU here")
'''

ENTRY_POINTS = """[latentexplorer.models]
tiny-factory = lex_plugin_pkg:tiny_vae
tiny-plain = lex_plugin_pkg:plain_module
tiny-mapped = lex_plugin_pkg:MAPPED
no-weights = lex_plugin_pkg:NO_WEIGHTS
not-a-model = lex_plugin_pkg:NOT_A_MODEL
broken = lex_plugin_pkg:broken
missing-module = lex_no_such_pkg:thing
"""


def install_plugin(folder, monkeypatch) -> None:
    """A package `lex-plugin` with its model module, weights and entry points, importable."""
    package = folder / "lex_plugin_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(PLUGIN_SOURCE)
    info = folder / "lex_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lex-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(folder))
    import lex_plugin_pkg

    torch.manual_seed(2)
    torch.save(lex_plugin_pkg.TinyVAE(latent=5).state_dict(), package / "tiny.pt")


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch)
    yield tmp_path
    import sys

    for name in [m for m in sys.modules if m.startswith("lex_plugin_pkg")]:
        del sys.modules[name]


def test_installed_plugins_are_listed_with_their_package(plugin):
    found = {p.name: p for p in installed_models()}
    assert {"tiny-factory", "tiny-mapped", "broken"} <= set(found)
    assert found["tiny-mapped"].package == "lex-plugin"
    assert found["tiny-mapped"].label == "tiny-mapped (lex-plugin)"


def test_no_plugin_listed_without_the_package():
    assert "tiny-factory" not in {p.name for p in installed_models()}


def test_a_factory_plugin_opens_its_wrapped_model(plugin):
    run, images = open_model(ModelSpec(plugin="tiny-factory"))
    assert isinstance(run.model, WrappedModel) and run.model.latent_dim == 3
    assert images.name == "digits" and run.name == "tiny-factory"
    x = images.float_batch(np.arange(4))
    torch.manual_seed(1)
    import lex_plugin_pkg

    reference = lex_plugin_pkg.TinyVAE()  # the factory's seed: the same initial weights
    np.testing.assert_allclose(run.model.encode(x).mu.detach(), reference.encode(x)[0].detach(), atol=1e-6)


def test_a_factory_returning_a_plain_module_is_wrapped_for_the_data(plugin):
    run, images = open_model(ModelSpec(plugin="tiny-plain", data="digits"))
    assert run.model.latent_dim == 4 and tuple(run.model.config.image_shape) == images.image_shape


def test_a_mapping_plugin_loads_its_class_and_weights_beside_its_module(plugin):
    run, _ = open_model(ModelSpec(plugin="tiny-mapped"))
    saved = torch.load(plugin / "lex_plugin_pkg" / "tiny.pt", weights_only=True)
    torch.testing.assert_close(run.model.module.enc.weight, saved["enc.weight"])
    assert run.model.latent_dim == 5


@pytest.mark.parametrize("name, message", [
    ("broken", r"plugin 'broken' failed to build its model: RuntimeError: no GPU here"),
    ("not-a-model", r"plugin 'not-a-model' names a int"),
    ("no-weights", r"a mapping needs 'model' and 'weights'"),
    ("missing-module", r"plugin 'missing-module' \(lex_no_such_pkg:thing\) could not be loaded: "
                       r"ModuleNotFoundError"),
    ("nobody", r"no model plugin named 'nobody'"),
])
def test_a_broken_plugin_is_named_with_its_cause(plugin, name, message):
    with pytest.raises(UserError, match=message):
        open_model(ModelSpec(plugin=name))


def test_a_plugin_for_other_images_is_refused_by_shape(plugin):
    with pytest.raises(UserError, match=r"shape \(1, 32, 32\), but the model reads \(1, 8, 8\)"):
        open_model(ModelSpec(plugin="tiny-mapped", data="sprites", size=32, items=50))


def test_a_spec_survives_the_recent_list_and_refuses_garbage():
    spec = ModelSpec(model="my_vae:VAE", weights="/w/vae.pt", model_file="/w/my_vae.py", init={"latent": 2},
                     image_shape=(1, 28, 28), input="flat", data="sprites", size=28, items=100)
    assert ModelSpec.from_json(spec.to_json()) == spec
    assert spec.label == "my_vae:VAE · vae.pt · sprites"
    with pytest.raises(UserError, match="remembered model"):
        ModelSpec.from_json('{"model": "x", "colour": 3}')
