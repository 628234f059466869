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


def test_installed_plugins_are_listed_with_their_package(model_plugin):
    found = {p.name: p for p in installed_models()}
    assert {"tiny-factory", "tiny-mapped", "broken"} <= set(found)
    assert found["tiny-mapped"].package == "lex-plugin"
    assert found["tiny-mapped"].label == "tiny-mapped (lex-plugin)"


def test_no_plugin_listed_without_the_package():
    assert "tiny-factory" not in {p.name for p in installed_models()}


def test_a_factory_plugin_opens_its_wrapped_model(model_plugin):
    run, images = open_model(ModelSpec(plugin="tiny-factory"))
    assert isinstance(run.model, WrappedModel) and run.model.latent_dim == 3
    assert images.name == "digits" and run.name == "tiny-factory"
    x = images.float_batch(np.arange(4))
    torch.manual_seed(1)
    import lex_plugin_pkg

    reference = lex_plugin_pkg.TinyVAE()  # the factory's seed: the same initial weights
    np.testing.assert_allclose(run.model.encode(x).mu.detach(), reference.encode(x)[0].detach(), atol=1e-6)


def test_a_factory_returning_a_plain_module_is_wrapped_for_the_data(model_plugin):
    run, images = open_model(ModelSpec(plugin="tiny-plain", data="digits"))
    assert run.model.latent_dim == 4 and tuple(run.model.config.image_shape) == images.image_shape


def test_a_mapping_plugin_loads_its_class_and_weights_beside_its_module(model_plugin):
    run, _ = open_model(ModelSpec(plugin="tiny-mapped"))
    saved = torch.load(model_plugin / "lex_plugin_pkg" / "tiny.pt", weights_only=True)
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
def test_a_broken_plugin_is_named_with_its_cause(model_plugin, name, message):
    with pytest.raises(UserError, match=message):
        open_model(ModelSpec(plugin=name))


def test_a_plugin_for_other_images_is_refused_by_shape(model_plugin):
    with pytest.raises(UserError, match=r"shape \(1, 32, 32\), but the model is said to read \(1, 8, 8\)"):
        open_model(ModelSpec(plugin="tiny-mapped", data="sprites", size=32, items=50))


def test_a_spec_survives_the_recent_list_and_refuses_garbage():
    spec = ModelSpec(model="my_vae:VAE", weights="/w/vae.pt", model_file="/w/my_vae.py", init={"latent": 2},
                     image_shape=(1, 28, 28), input="flat", data="sprites", size=28, items=100)
    assert ModelSpec.from_json(spec.to_json()) == spec
    assert spec.label == "my_vae:VAE · vae.pt · sprites"
    with pytest.raises(UserError, match="remembered model"):
        ModelSpec.from_json('{"model": "x", "colour": 3}')


def test_the_command_line_opens_a_plugin_and_refuses_mixed_flags(model_plugin, run_cli):
    from latentexplorer.cli import build_parser
    from latentexplorer.cli.open_model import prepare

    run, _ = prepare(build_parser().parse_args(["open", "--plugin", "tiny-mapped"]))
    assert run.name == "tiny-mapped" and run.model.latent_dim == 5
    done = run_cli("encode", "--plugin", "tiny-factory", "--out", str(model_plugin / "codes.npz"))
    assert done.returncode == 0 and np.load(model_plugin / "codes.npz")["mu"].shape == (1797, 3)
    done = run_cli("open", "--plugin", "tiny-mapped", "--weights", "x.pt")
    assert done.returncode != 0 and "give --plugin NAME, or --model and --weights, not both" in done.stderr
    done = run_cli("open")
    assert done.returncode != 0 and "give your own model with --model MODULE:CLASS" in done.stderr


def test_generated_data_is_made_at_the_size_the_model_reads(model_plugin):
    _, images = open_model(ModelSpec(plugin="sprites-16", items=50))
    assert images.name.startswith("sprites") and images.image_shape == (1, 16, 16) and len(images) == 50
