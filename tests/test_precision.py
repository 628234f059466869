"""Training precision: how `auto` resolves (flags, then the timed probe and its cache), bf16
autocast in the loop with the sensitive parts in fp32, fp32 on disk, exact resume."""

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
from latentexplorer.models import build_model
from latentexplorer.training import precision, prepare_training, train
from latentexplorer.training.precision import (
    choose_precision,
    cpu_flags,
    fp32_islands,
    probe_precision,
    resolve_precision,
)

CPU = torch.device("cpu")


@pytest.fixture
def bf16_cpu(monkeypatch):
    """Act as a CPU with native bf16 (torch emulates it where the hardware has none)."""
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)


@pytest.fixture
def fake_timing(monkeypatch, tmp_path):
    """Step times set by the test instead of measured: `fake_timing.update(fp32=…, bf16=…)`;
    a cache of the test's own, so that no earlier verdict answers instead."""
    monkeypatch.setenv("LATENTEXPLORER_CACHE_DIR", str(tmp_path / "cache"))
    times = {"fp32": 0.010, "bf16": 0.005}
    calls = []

    def time_steps(model, optimizer, loss, batch, precision, steps):
        calls.append(precision)
        return times[precision]

    monkeypatch.setattr(precision, "time_steps", time_steps)
    times["calls"] = calls
    return times


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


def probe_inputs():
    model = build_model(ModelConfig(latent_dim=2, hidden=(32,), image_shape=(1, 8, 8)))
    return model, torch.rand(16, 1, 8, 8)


def test_probe_picks_bf16_only_when_it_is_clearly_faster(fake_timing):
    model, batch = probe_inputs()
    fake_timing.update(fp32=0.010, bf16=0.0075)  # 1.33x
    choice = probe_precision(model, batch)
    assert choice.precision == "bf16" and choice.speedup == pytest.approx(10 / 7.5)
    assert "1.33× faster than fp32" in choice.note()
    fake_timing.update(fp32=0.010, bf16=0.0095)  # 1.05x: within noise, not worth it
    choice = probe_precision(model, batch)
    assert choice.precision == "fp32" and "only 1.05×" in choice.reason
    fake_timing.update(fp32=0.010, bf16=0.030)  # slower
    assert probe_precision(model, batch).precision == "fp32"


def test_probe_leaves_the_model_and_rng_alone(bf16_cpu):
    model, batch = probe_inputs()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    choice = probe_precision(model, batch, budget_s=0.05)  # measured for real
    assert choice.precision in ("fp32", "bf16") and choice.speedup > 0 and choice.probe_s < 2
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())


def test_auto_probes_the_first_runs_keeps_the_best_then_uses_the_cache(tmp_path, bf16_cpu, fake_timing):
    """One probe taken while the machine was busy must not decide for every later run: the
    first PROBES_KEPT runs probe, the cache keeps the best speedup, later runs read it."""
    model, batch = probe_inputs()
    cache = tmp_path / "precision.json"
    fake_timing.update(fp32=0.010, bf16=0.0095)  # a busy moment: 1.05×, fp32
    first = choose_precision("auto", CPU, model, batch, cache=cache)
    assert first.precision == "fp32" and not first.cached and fake_timing["calls"]
    fake_timing.update(fp32=0.010, bf16=0.0075)  # quiet: 1.33×
    second = choose_precision("auto", CPU, model, batch, cache=cache)
    assert second.precision == "bf16" and second.speedup == pytest.approx(10 / 7.5)
    assert "best of 2 probes" in second.reason
    fake_timing.update(fp32=0.010, bf16=0.0090)  # busy again: the best seen stays
    third = choose_precision("auto", CPU, model, batch, cache=cache)
    assert third.precision == "bf16" and third.speedup == pytest.approx(10 / 7.5)
    assert third.reason.endswith("best of 3 probes")
    fake_timing["calls"].clear()
    fake_timing.update(bf16=1.0)  # would now pick fp32, if it probed
    later = choose_precision("auto", CPU, model, batch, cache=cache)
    assert later.precision == "bf16" and later.cached and fake_timing["calls"] == []
    assert later.speedup == pytest.approx(10 / 7.5) and later.reason.endswith("best of 3 probes, cached")
    other, _ = build_model(ModelConfig(latent_dim=3, hidden=(32,), image_shape=(1, 8, 8))), None
    assert choose_precision("auto", CPU, other, batch, cache=cache).precision == "fp32"  # another shape
    assert len(json.loads(cache.read_text())) == 2


def test_explicit_precisions_and_plain_cpus_skip_the_probe(tmp_path, plain_cpu, fake_timing):
    model, batch = probe_inputs()
    assert choose_precision("fp32", CPU, model, batch, cache=tmp_path / "c.json").precision == "fp32"
    assert choose_precision("auto", CPU, model, batch, cache=tmp_path / "c.json").precision == "fp32"
    assert fake_timing["calls"] == [] and not (tmp_path / "c.json").exists()


def test_sensitive_parts_are_fp32_under_autocast(bf16_cpu):
    model, batch = probe_inputs()
    seen = {}
    likelihood = model.likelihood.log_prob

    def spy(x, params):
        seen["logits"] = params.dtype
        seen["log_px"] = (out := likelihood(x, params)).dtype
        return out

    model.likelihood.log_prob = spy
    with fp32_islands(model, "bf16"), torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.encoder.net[0](batch.flatten(1)).dtype == torch.bfloat16  # the bulk runs in bf16
        posterior = model.encode(batch)
        terms = model(batch, None)
    assert posterior.mu.dtype == posterior.logvar.dtype == torch.float32
    assert posterior.kl_per_dim().dtype == torch.float32
    assert seen == {"logits": torch.float32, "log_px": torch.float32}
    assert {t.dtype for t in (terms.total, terms.recon, terms.kl, terms.kl_per_dim)} == {torch.float32}
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the islands end with the block
        assert model.encoder(batch).dtype == torch.bfloat16


def test_the_decoder_reads_z_in_fp32_under_bf16_autocast(bf16_cpu):
    """bf16 would round a z of 2 by up to 0.008, a large part of a small posterior σ: the layer
    that reads z runs in fp32 (the ones after it in bf16), and only while the islands last."""
    model, _ = probe_inputs()
    z = torch.full((4, model.decoder.net[0].in_features), 2.0 + 2 ** -9)  # not a bf16 number
    first, second = model.decoder.net[0], model.decoder.net[2]
    seen = {}
    first.register_forward_hook(lambda m, inputs, out: seen.update(z=inputs[0], first=out.dtype))
    second.register_forward_hook(lambda m, inputs, out: seen.update(second=out.dtype))
    with fp32_islands(model, "bf16"), torch.autocast("cpu", dtype=torch.bfloat16):
        model.decoder(z)
    assert seen["first"] == torch.float32 and seen["second"] == torch.bfloat16
    assert torch.equal(seen["z"], z)  # unrounded
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the island ends with the block
        model.decoder(z)
    assert seen["first"] == torch.bfloat16


def test_a_copy_taken_inside_the_islands_decodes_with_its_own_weights(bf16_cpu):
    """An epoch's snapshot for the explorer is copied while the training model is inside its
    fp32 islands: the copy's layers must run on the copy's weights, not the training model's."""
    from latentexplorer.models.base import eval_copy

    model, _ = probe_inputs()
    z = torch.randn(4, model.decoder.net[0].in_features)
    with fp32_islands(model, "bf16"):
        snapshot = eval_copy(model)
        with torch.no_grad():
            expected = snapshot.decoder(z)
            for p in model.parameters():  # training goes on
                p.add_(1.0)
            assert torch.equal(snapshot.decoder(z), expected)
        with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
            model.decoder(z)  # the training model still runs its first layer in fp32
    with torch.no_grad():
        assert torch.equal(snapshot.decoder(z), expected)  # and the copy stays what it was


def test_bf16_run_autocasts_the_networks_and_keeps_fp32_losses_and_weights(tmp_path, digits, bf16_cpu,
                                                                          fake_timing, caplog):
    folder = tmp_path / "run"
    notes = []
    trainer = prepare_training(tiny_config("auto"), folder, images=digits, on_note=notes.append)
    assert trainer.precision == "bf16" and trainer.precision_choice.speedup == pytest.approx(2.0)
    inner, terms_dtypes = [], set()
    first_linear = next(m for m in trainer.model.encoder.modules() if isinstance(m, torch.nn.Linear))
    first_linear.register_forward_hook(lambda m, i, o: inner.append(o.dtype))
    engine = trainer.engine

    def spy(x, progress):
        terms = engine(x, progress)
        terms_dtypes.update({terms.total.dtype, terms.kl.dtype, terms.recon.dtype})
        return terms

    trainer.engine = spy
    with caplog.at_level("INFO", logger="latentexplorer.training"):
        result = trainer.fit()
    note = "precision: bf16 (2.00× faster than fp32 in a"
    assert any(n.startswith(note) for n in notes)  # the run's log says which and why
    assert note in caplog.text
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


def test_auto_keeps_fp32_when_bf16_does_not_pay_and_says_so(tmp_path, digits, bf16_cpu, fake_timing):
    fake_timing.update(fp32=0.010, bf16=0.0096)
    notes = []
    train(tiny_config("auto", epochs=1), tmp_path / "run", images=digits, on_note=notes.append)
    assert load_run(tmp_path / "run").state["precision"] == "fp32"
    assert any(n.startswith("precision: fp32 (bf16 only 1.04× fp32's speed") for n in notes)


def test_bf16_resume_continues_exactly(tmp_path, digits, bf16_cpu):
    config = tiny_config("bf16", epochs=3)
    train(config, tmp_path / "whole", images=digits)
    train(replace(config, train=replace(config.train, epochs=1)), tmp_path / "split", images=digits)
    train(None, tmp_path / "split", resume=True, epochs=3, images=digits)
    whole, split = load_run(tmp_path / "whole"), load_run(tmp_path / "split")
    for (name, a), (_, b) in zip(whole.model.state_dict().items(), split.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert [r["val_total"] for r in whole.history] == [r["val_total"] for r in split.history]
