"""Loading a user's model from their own file or package, with their weights, and each way it
can go wrong named: import errors, constructor arguments, weights of another architecture, a
pickled whole model (refused, and never executed)."""

from __future__ import annotations

import pickle

import pytest
import torch
from safetensors.torch import save_file

from latentexplorer.models import ModelError
from latentexplorer.models.user_model import load_model_class, load_user_model, read_state_dict

SHAPE = (1, 8, 8)


@pytest.fixture
def user_files(tmp_path, user_vae_source):
    """The user's model file and its weights saved both ways, as a user saves them."""
    source = tmp_path / "my_vae.py"
    source.write_text(user_vae_source)
    cls = load_model_class("my_vae:VAE", source)
    torch.manual_seed(0)
    module = cls(hidden=16)
    torch.save(module.state_dict(), tmp_path / "vae.pt")
    save_file(module.state_dict(), str(tmp_path / "vae.safetensors"))
    return tmp_path, module


@pytest.mark.parametrize("weights", ["vae.pt", "vae.safetensors"])
def test_a_model_file_and_its_state_dict_open_as_the_users_model(user_files, weights):
    folder, module = user_files
    model = load_user_model("VAE:VAE", folder / weights, model_file=folder / "my_vae.py",
                            init={"hidden": 16}, image_shape=SHAPE)
    x = torch.rand(5, *SHAPE)
    mu, _ = module.encode(x)
    assert torch.allclose(model.encode(x).mu, mu)  # the user's weights, not fresh ones
    assert model.latent_dim == 3 and model.output == "means"


def test_a_class_on_the_path_is_found_by_module_and_name(user_files, monkeypatch):
    folder, _ = user_files
    monkeypatch.syspath_prepend(str(folder))
    assert load_model_class("my_vae:VAE").__name__ == "VAE"
    with pytest.raises(ModelError, match="No module named 'no_such_package'"):
        load_model_class("no_such_package.models:VAE")
    with pytest.raises(ModelError, match="has no class Missing"):
        load_model_class("my_vae:Missing")
    with pytest.raises(ModelError, match="MODULE:CLASS"):
        load_model_class("my_vae.VAE:")


def test_wrong_constructor_arguments_and_another_architecture_are_named(user_files):
    folder, _ = user_files
    common = {"model_file": folder / "my_vae.py", "image_shape": SHAPE}
    with pytest.raises(ModelError, match=r"VAE\(width=16\) failed: TypeError.*--init"):
        load_user_model("my_vae:VAE", folder / "vae.pt", init={"width": 16}, **common)
    # the default hidden=32 does not fit weights saved with hidden=16: the layers are named
    with pytest.raises(ModelError, match=r"shape: fc1.weight \(16, 64\) ≠ \(32, 64\)"):
        load_user_model("my_vae:VAE", folder / "vae.pt", **common)
    partial = read_state_dict(folder / "vae.pt")
    partial.pop("fc4.bias")
    partial["extra.weight"] = torch.zeros(1)
    torch.save(partial, folder / "partial.pt")
    with pytest.raises(ModelError, match=r"missing: fc4.bias; unexpected: extra.weight"):
        load_user_model("my_vae:VAE", folder / "partial.pt", init={"hidden": 16}, **common)


def test_a_checkpoint_dict_holding_a_state_dict_is_read(user_files):
    folder, module = user_files
    torch.save({"epoch": 3, "state_dict": module.state_dict()}, folder / "checkpoint.pt")
    assert set(read_state_dict(folder / "checkpoint.pt")) == set(module.state_dict())


class _Payload:
    """What a malicious or merely whole-model pickle would run when unpickled."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_whole_model_is_refused_and_never_executed(tmp_path, user_files):
    folder, module = user_files
    marker = tmp_path / "executed"
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"fc1.weight": _Payload(str(marker))}, f)
    with pytest.raises(ModelError, match=r"pickled Python objects .* torch.save\(model.state_dict\(\)"):
        read_state_dict(tmp_path / "evil.pt")
    assert not marker.exists()
    torch.save(module, folder / "whole.pt")  # the whole model, as users sometimes save it
    with pytest.raises(ModelError, match="never unpickled"):
        load_user_model("my_vae:VAE", folder / "whole.pt", model_file=folder / "my_vae.py",
                        init={"hidden": 16}, image_shape=SHAPE)
    with pytest.raises(ModelError, match="not found"):
        read_state_dict(tmp_path / "nowhere.pt")


@pytest.mark.parametrize("extra, message", [
    (["--model", "nowhere.models:VAE", "--model-file", None], "could not import nowhere.models: ModuleNotFoundError"),
    (["--model-file", "missing.py"], "model file not found: missing.py"),
    (["--init", "[16]"], "--init must be a JSON object"),
    (["--init", "{hidden: 16}"], "--init is not JSON"),
    (["--image-shape", "1,28,28"], "digits has images of shape (1, 8, 8), but the model is said to read (1, 28, 28)"),
    (["--weights", "whole.pt"], "never unpickled"),
    (["--init", '{"hidden": 32}'], "shape: fc1.weight (16, 64) ≠ (32, 64)"),
], ids=["module", "model-file", "init-list", "init-json", "image-shape", "whole-model", "architecture"])
def test_latentexplorer_open_says_what_is_wrong_in_one_line_before_any_window(
        user_files, run_cli, monkeypatch, extra, message):
    import latentexplorer.gui.app

    def no_window(**_):
        raise AssertionError("a window opened for a model that does not load")

    monkeypatch.setattr(latentexplorer.gui.app, "main", no_window)
    folder, module = user_files
    torch.save(module, folder / "whole.pt")
    monkeypatch.chdir(folder)
    args = {"--model": "my_vae:VAE", "--model-file": "my_vae.py", "--weights": "vae.pt",
            "--init": '{"hidden": 16}'}
    args.update(dict(zip(extra[::2], extra[1::2])))
    result = run_cli("open", *[part for pair in args.items() if pair[1] is not None for part in pair])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr
