"""Run folders: round trips, atomic writes, and every kind of bad file refused with one message."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from latentexplorer.checkpoint import (
    atomic_write_text,
    load_run,
    load_weights_file,
    prepare_run_folder,
    save_run,
)
from latentexplorer.config import FORMAT_VERSION, ModelConfig, RunConfig
from latentexplorer.errors import CheckpointError
from latentexplorer.models import build_model


def small_config(**model) -> RunConfig:
    return RunConfig(model=ModelConfig(image_shape=(1, 8, 8), latent_dim=3, hidden=(32,), **model))


@pytest.fixture
def run_folder(tmp_path) -> Path:
    config = small_config()
    torch.manual_seed(0)
    model = build_model(config.model)
    folder = tmp_path / "run"
    save_run(folder, model, config, state={"epoch": 2, "step": 20}, history=[{"epoch": 1, "val_total": 3.0}])
    return folder


def test_save_then_load_gives_identical_outputs(run_folder):
    config = small_config()
    torch.manual_seed(0)
    original = build_model(config.model).eval()
    loaded = load_run(run_folder)
    z = torch.randn(5, 3)
    x = torch.rand(5, 1, 8, 8)
    assert torch.equal(loaded.model.mean(z), original.mean(z))
    assert torch.equal(loaded.model.encode(x).mu, original.encode(x).mu)
    assert loaded.config == config
    assert loaded.epoch == 2
    assert loaded.history == [{"epoch": 1.0, "val_total": 3.0}]


def test_config_json_round_trip():
    config = small_config(beta=4.0, kind="betavae")
    assert RunConfig.from_json(config.to_json()) == config


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "model.pt"
    with open(path, "wb") as handle:
        pickle.dump({"weight": Exploit()}, handle)
    with pytest.raises(CheckpointError, match="refused to load model.pt"):
        load_weights_file(path)
    assert not marker.exists()

    # the same file standing in for a run folder's weights
    folder = tmp_path / "run"
    folder.mkdir()
    atomic_write_text(folder / "config.json", small_config().to_json())
    (folder / "model.pt").write_bytes(path.read_bytes())
    with pytest.raises(CheckpointError, match="refused"):
        load_run(folder)
    assert not marker.exists()


def test_plain_tensor_pt_file_loads(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"a": torch.ones(2)}, path)
    assert torch.equal(load_weights_file(path)["a"], torch.ones(2))


def test_truncated_safetensors_gives_one_message(run_folder):
    weights = run_folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_run(run_folder)


def test_garbage_safetensors_gives_one_message(run_folder):
    (run_folder / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_run(run_folder)


def test_missing_files_are_named(run_folder, tmp_path):
    (run_folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="has no model.safetensors"):
        load_run(run_folder)
    with pytest.raises(CheckpointError, match="has no config.json"):
        load_run(tmp_path)
    with pytest.raises(CheckpointError, match="not found"):
        load_run(tmp_path / "nowhere")
    some_file = tmp_path / "file.txt"
    some_file.write_text("x")
    with pytest.raises(CheckpointError, match="not a run folder"):
        load_run(some_file)


def test_newer_format_is_refused(run_folder):
    raw = json.loads((run_folder / "config.json").read_text())
    raw["format_version"] = FORMAT_VERSION + 1
    (run_folder / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="newer LatentExplorer"):
        load_run(run_folder)


def test_corrupt_config_is_refused(run_folder):
    (run_folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_run(run_folder)
    (run_folder / "config.json").write_text(json.dumps({"model": {"latent_dims": 3}}))
    with pytest.raises(CheckpointError, match="unknown model option"):
        load_run(run_folder)


def test_weights_of_another_shape_are_refused(run_folder):
    raw = json.loads((run_folder / "config.json").read_text())
    raw["model"]["latent_dim"] = 5
    (run_folder / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="do not match config.json"):
        load_run(run_folder)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    path.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("latentexplorer.fileio.os.replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temp file left behind


def test_existing_run_is_not_clobbered_without_a_flag(run_folder):
    with pytest.raises(CheckpointError, match="--resume.*--overwrite"):
        prepare_run_folder(run_folder)
    prepare_run_folder(run_folder, resume=True)
    assert (run_folder / "model.safetensors").exists()
    prepare_run_folder(run_folder, overwrite=True)
    assert not (run_folder / "model.safetensors").exists()


def test_resume_needs_a_run(tmp_path):
    with pytest.raises(CheckpointError, match="nothing to resume"):
        prepare_run_folder(tmp_path / "empty", resume=True)


def test_bundled_runs_are_read_only():
    from latentexplorer.bundled import bundled_run

    folder = bundled_run()
    run = load_run(folder)
    assert run.read_only
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(CheckpointError, match="read-only"):
        save_run(folder, run.model, run.config, state={"epoch": 99})
    with pytest.raises(CheckpointError, match="read-only"):
        prepare_run_folder(folder, overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == before
