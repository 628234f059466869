"""Loading a user's model from their own file or package, with their weights, and each way it
can go wrong named: import errors, constructor arguments, weights of another architecture, a
pickled whole model (refused, and never executed). `evaluate` and `encode` on a user's model
(`--model … --weights …`): the figures and codes are those of the user's network."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from latentexplorer.config import DataConfig
from latentexplorer.data import load_dataset
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


@pytest.mark.parametrize("name", ["mlp", "conv"])
def test_evaluate_bounds_the_users_model_on_a_seeded_validation_subset(trained_user_models, run_cli, name):
    user = trained_user_models[name]
    result = run_cli("evaluate", *user.flags, "--k", "5", "--ks", "1,10", "--curve-n", "20", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["model"] == user.spec and figures["weights"] == str(user.weights.resolve())
    assert "run" not in figures and "seeded 10% subset of digits" in figures["subset"]
    # the items a run on the digits validates on (seed 0, 10 %), encoded by the user's network
    _, val = load_dataset(DataConfig(name="digits")).split(0.1, seed=0)
    with torch.no_grad():
        mu, logvar = user.load().encode(val.float_batch())
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)
    assert figures["n"] == len(val) == 180 and len(figures["kl_per_dim"]) == 3
    assert figures["kl"] == pytest.approx(float(kl.sum(1).mean()), rel=1e-4)
    assert figures["kl_per_dim"] == pytest.approx(kl.mean(0).tolist(), rel=1e-4)
    assert all(np.isfinite(figures[k]) for k in ("recon", "elbo", "iwae"))
    assert figures["elbo"] == pytest.approx(figures["recon"] - figures["kl"], abs=1e-6)
    assert figures["curve"]["ks"] == [1, 10] and np.isfinite(figures["curve"]["bound"]).all()
    assert figures["mig"] is None  # the digits have no ground-truth factors: skipped, as for a run
    table = run_cli("evaluate", *user.flags, "--k", "5", "--ks", "1,10", "--curve-n", "20")
    assert table.returncode == 0, table.stderr
    assert f"model {user.spec}" in table.stdout and "items: a seeded 10% subset of digits" in table.stdout
    assert "IWAE bound (k=5)" in table.stdout and "MIG" not in table.stdout


def test_evaluate_scores_disentanglement_of_the_users_model_on_sprites(trained_user_models, run_cli, tmp_path):
    """Sprites have factors: MIG, SAP and DCI of the user's conv VAE, built at 16×16 (--init)."""
    user = trained_user_models["conv"]
    from latentexplorer.models.user_model import load_model_class

    torch.manual_seed(0)
    torch.save(load_model_class(user.spec, user.file)(size=16).state_dict(), tmp_path / "sprites_vae.pt")
    result = run_cli("evaluate", "--model", user.spec, "--model-file", str(user.file), "--init", '{"size": 16}',
                     "--weights", str(tmp_path / "sprites_vae.pt"), "--data", "sprites", "--size", "16",
                     "--items", "500", "--k", "2", "--ks", "1,10", "--curve-n", "10", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["n"] == 50 and figures["data"] == "sprites"
    for name in ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness"):
        assert 0.0 <= figures[name] <= 1.0, name


@pytest.mark.parametrize("name", ["mlp", "conv"])
def test_encode_writes_the_users_own_codes_for_every_item(trained_user_models, run_cli, tmp_path, name):
    user = trained_user_models[name]
    result = run_cli("encode", *user.flags, "--out", str(tmp_path / "codes"))
    assert result.returncode == 0, result.stderr
    assert "wrote 1797 codes (3-d)" in result.stdout
    codes = np.load(tmp_path / "codes.npz")
    assert codes["mu"].shape == codes["logvar"].shape == (1797, 3) and codes["labels"].shape == (1797,)
    with torch.no_grad():
        mu, logvar = user.load().encode(load_dataset(DataConfig(name="digits")).float_batch())
    np.testing.assert_allclose(codes["mu"], mu.numpy(), atol=1e-5)
    np.testing.assert_allclose(codes["logvar"], logvar.numpy(), atol=1e-5)


@pytest.mark.parametrize("args, message", [
    (["evaluate"], "give a run folder, or your own model with --model MODULE:CLASS --weights FILE"),
    (["encode", "--out", "codes.npz"], "give a run folder, or your own model with --model"),
    (["evaluate", "runs/a", "--model", "my_vae:VAE", "--weights", "vae.pt"], "give a run folder or --model, not both"),
    (["encode", "runs/a", "--model", "my_vae:VAE", "--out", "codes.npz"], "not both"),
    (["evaluate", "--model", "my_vae:VAE", "--model-file", "my_vae.py"], "--model needs --weights FILE"),
    (["evaluate", "runs/a", "--weights", "vae.pt", "--data", "sprites"],
     "--weights, --data only go with --model: a run folder has its own model and data"),
    (["encode", "runs/a", "--likelihood", "gaussian", "--out", "codes.npz"], "--likelihood only go with --model"),
    (["evaluate", "--model", "my_vae:VAE", "--model-file", "my_vae.py", "--weights", "vae.pt",
      "--image-shape", "1,28,28"], "digits has images of shape (1, 8, 8), but the model is said to read"),
    (["encode", "--model", "my_vae:VAE", "--model-file", "my_vae.py", "--weights", "whole.pt",
      "--out", "codes.npz"], "never unpickled"),
], ids=["evaluate-neither", "encode-neither", "evaluate-both", "encode-both", "no-weights", "run-with-model-flags",
        "run-with-likelihood", "image-shape", "whole-model"])
def test_evaluate_and_encode_say_what_is_wrong_in_one_line(user_files, run_cli, monkeypatch, args, message):
    folder, module = user_files
    torch.save(module, folder / "whole.pt")
    monkeypatch.chdir(folder)
    result = run_cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr
    assert not (folder / "codes.npz").exists()
