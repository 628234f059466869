"""Training precision: how `auto` resolves, bf16 autocast in the loop, fp32 on disk, exact resume."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from latentexplorer.checkpoint import load_run
from latentexplorer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from latentexplorer.data import load_dataset
from latentexplorer.errors import ConfigError
from latentexplorer.training import precision, prepare_training, train
from latentexplorer.training.precision import cpu_flags, resolve_precision

CPU = torch.device("cpu")


@pytest.fixture
def bf16_cpu(monkeypatch):
    """Act as a CPU with native bf16 (torch emulates it where the hardware has none)."""
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)


@pytest.fixture
def plain_cpu(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig(name="digits", n=300))


def tiny_config(precision_name: str = "auto", epochs: int = 2) -> RunConfig:
    return RunConfig(
        model=ModelConfig(latent_dim=2, hidden=(32,)),
        train=TrainConfig(epochs=epochs, batch_size=64, seed=1, device="cpu", precision=precision_name),
        data=DataConfig(name="digits", n=300, val_fraction=0.2),
    )


def test_fp32_is_always_fp32(bf16_cpu):
    assert resolve_precision("fp32", CPU) == "fp32"


def test_auto_follows_the_hardware(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision("auto", CPU) == "bf16"
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert resolve_precision("auto", CPU) == "fp32"


def test_bf16_without_native_support_is_refused_clearly(plain_cpu):
    with pytest.raises(ConfigError, match="no native bf16.*use auto or fp32"):
        resolve_precision("bf16", CPU)
    with pytest.raises(ConfigError, match="no native bf16"):
        prepare_training(tiny_config("bf16"), None, images=load_dataset(DataConfig(name="digits", n=50)))


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n\nprocessor\t: 1\n")
    assert {"avx512_bf16", "sse2"} <= cpu_flags(cpuinfo)
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_unknown_precision_is_a_config_error_and_old_configs_default_to_auto():
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="fp16")
    raw = RunConfig().to_dict()
    del raw["train"]["precision"]  # a run folder written before the setting existed
    assert RunConfig.from_dict(raw).train.precision == "auto"


def test_bf16_run_autocasts_the_networks_and_keeps_fp32_losses_and_weights(tmp_path, digits, bf16_cpu):
    folder = tmp_path / "run"
    trainer = prepare_training(tiny_config("auto"), folder, images=digits)
    assert trainer.precision == "bf16"
    inner, terms_dtypes = [], set()
    first_linear = next(m for m in trainer.model.encoder.modules() if isinstance(m, torch.nn.Linear))
    first_linear.register_forward_hook(lambda m, i, o: inner.append(o.dtype))
    engine = trainer.engine

    def spy(x, progress):
        terms = engine(x, progress)
        terms_dtypes.update({terms.total.dtype, terms.kl.dtype, terms.recon.dtype})
        return terms

    trainer.engine = spy
    result = trainer.fit()
    assert result.status == "completed"
    assert torch.bfloat16 in inner  # training steps ran the layer in bf16 ...
    assert torch.float32 in inner  # ... validation in fp32
    assert terms_dtypes == {torch.float32}  # the likelihood and the KL are computed in fp32
    for row in result.history:
        for key in ("train_total", "val_total", "val_kl"):
            assert torch.isfinite(torch.tensor(row[key])), key
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert {t.dtype for t in load_file(folder / "model.safetensors").values()} == {torch.float32}
    run = load_run(folder)
    assert run.epoch == 2 and run.state["precision"] == "bf16"
    assert json.loads((folder / "config.json").read_text())["train"]["precision"] == "auto"
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the fp32 cast ends with fit()
        assert trainer.model.encoder(torch.rand(2, 1, 8, 8)).dtype == torch.bfloat16


def test_fp32_run_records_fp32(tmp_path, digits, bf16_cpu):
    train(tiny_config("fp32", epochs=1), tmp_path / "run", images=digits)
    assert load_run(tmp_path / "run").state["precision"] == "fp32"


def test_bf16_resume_continues_exactly(tmp_path, digits, bf16_cpu):
    config = tiny_config("bf16", epochs=3)
    train(config, tmp_path / "whole", images=digits)
    train(replace(config, train=replace(config.train, epochs=1)), tmp_path / "split", images=digits)
    train(None, tmp_path / "split", resume=True, epochs=3, images=digits)
    whole, split = load_run(tmp_path / "whole"), load_run(tmp_path / "split")
    for (name, a), (_, b) in zip(whole.model.state_dict().items(), split.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert [r["val_total"] for r in whole.history] == [r["val_total"] for r in split.history]
