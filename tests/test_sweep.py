"""The β sweep: one run per β, resumable, evaluated into a table and an SVG plot."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from latentexplorer.checkpoint import read_state
from latentexplorer.cli import main
from latentexplorer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from latentexplorer.training.sweep import SweepConfig, read_sweep_config, run_sweep
from latentexplorer.training.sweep_results import read_results

SVG = "{http://www.w3.org/2000/svg}"


def tiny_sweep(betas=(1.0, 4.0), epochs=1, jobs=1, seeds=None) -> SweepConfig:
    run = RunConfig(
        model=ModelConfig(kind="betavae", latent_dim=3, architecture="mlp", hidden=(32,)),
        train=TrainConfig(epochs=epochs, batch_size=64, threads=1),
        data=DataConfig(name="sprites", n=300, size=16),
    )
    return SweepConfig(run=run, betas=betas, jobs=jobs, eval_items=100, eval_k=4, seeds=seeds)


def weights_mtimes(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in out.glob("beta-*/model.safetensors")}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "sweep"
    result = run_sweep(tiny_sweep(), out)
    assert result.status == "completed"
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_sweep_writes_one_row_per_beta_and_a_plot_of_recon_kl_and_mig(finished):
    rows = read_csv(finished / "sweep-runs.csv")
    assert [float(r["beta"]) for r in rows] == [1.0, 4.0]
    assert [r["run"] for r in rows] == ["beta-1", "beta-4"]
    for row in rows:
        assert float(row["elbo"]) == pytest.approx(float(row["recon"]) - float(row["kl"]))
        assert float(row["kl"]) >= 0 and 0 <= float(row["mig"]) <= 1 and row["active_units"] != ""
        assert read_state(finished / row["run"])["epoch"] == 1
    table = json.loads((finished / "sweep.json").read_text())
    assert [r["beta"] for r in table["rows"]] == [1.0, 4.0]
    assert [r.beta for r in read_results(finished)] == [1.0, 4.0]
    # one seed per β: the summary's means are the runs' figures, with no interval (not a zero)
    summary = read_csv(finished / "sweep.csv")
    assert [(float(r["beta"]), int(r["seeds"])) for r in summary] == [(1.0, 1), (4.0, 1)]
    for run, point in zip(rows, summary):
        for metric in ("recon", "kl", "elbo", "mig", "active_units", "iwae"):
            assert float(point[f"{metric}_mean"]) == pytest.approx(float(run[metric])), metric
            assert point[f"{metric}_ci95"] == "", metric

    svg = ET.parse(finished / "sweep.svg").getroot()
    assert svg.tag == f"{SVG}svg"
    curves = {c.get("data-name"): c.get("points").split() for c in svg.iter(f"{SVG}polyline")}
    assert set(curves) == {"reconstruction error −E[log p(x|z)]", "KL(q(z|x) ‖ p(z))", "MIG"}
    assert all(len(points) == 2 for points in curves.values())
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert {"1", "4", "β (log2 scale)", "MIG"} <= set(texts)
    # β = 4 sits two log2 units right of β = 1 on every curve
    xs = {tuple(float(p.split(",")[0]) for p in points) for points in curves.values()}
    assert len(xs) == 1


def test_running_a_finished_sweep_again_trains_nothing(finished):
    before = weights_mtimes(finished)
    epochs = []
    result = run_sweep(read_sweep_config(finished), finished, on_epoch=lambda b, m: epochs.append(b))
    assert result.status == "completed"
    assert [o.status for o in result.outcomes] == ["skipped", "skipped"]
    assert epochs == [] and weights_mtimes(finished) == before


def test_an_interrupted_run_resumes_from_its_last_epoch_and_only_it_trains(tmp_path):
    out = tmp_path / "sweep"
    config = tiny_sweep(betas=(1.0, 2.0), epochs=2)
    cancel = threading.Event()

    def stop_during_second_run(beta, metrics):
        if beta == 2.0 and metrics.epoch == 1:
            cancel.set()

    assert run_sweep(config, out, cancel=cancel, on_epoch=stop_during_second_run).status == "cancelled"
    assert read_state(out / "beta-1")["epoch"] == 2 and read_state(out / "beta-2")["epoch"] == 1
    assert not (out / "sweep.json").exists()
    before = weights_mtimes(out)

    trained = []
    result = run_sweep(read_sweep_config(out), out, on_epoch=lambda b, m: trained.append((b, m.epoch)))
    assert result.status == "completed"
    assert [o.status for o in result.outcomes] == ["skipped", "completed"]
    assert trained == [(2.0, 2)]
    after = weights_mtimes(out)
    assert after["beta-1"] == before["beta-1"] and after["beta-2"] != before["beta-2"]
    assert read_state(out / "beta-2")["epoch"] == 2
    assert [r.epochs for r in read_results(out)] == [2, 2]


def test_parallel_jobs_train_each_beta_in_its_own_process(tmp_path):
    out = tmp_path / "sweep"
    result = run_sweep(tiny_sweep(jobs=2), out)
    assert result.status == "completed"
    assert {o.status for o in result.outcomes} == {"completed"}
    assert [r.beta for r in read_results(out)] == [1.0, 4.0]


def cli(*args: str, **kwargs):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "latentexplorer", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kwargs)


SWEEP = ("sweep", "--dataset", "sprites", "--items", "300", "--size", "16", "--arch", "mlp",
         "--hidden", "32", "--latent-dim", "3", "--threads", "1", "--eval-items", "100")


def test_cli_sweep_saves_its_settings_so_a_rerun_with_only_out_continues_it(tmp_path, run_cli):
    out = tmp_path / "sweep"
    first = run_cli(*SWEEP, "--epochs", "1", "--beta", "0.5", "2", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "wrote" in first.stdout and (out / "sweep.svg").is_file()
    assert {p.name for p in out.iterdir()} >= {"beta-0.5", "beta-2", "sweep-config.json"}
    again = run_cli("sweep", "--out", str(out), "--epochs", "2")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("resumed") == 2
    assert [r.epochs for r in read_results(out)] == [2, 2]
    assert read_sweep_config(out).run.model.latent_dim == 3


def test_ctrl_c_stops_the_sweep_keeping_complete_epochs(tmp_path):
    out = tmp_path / "sweep"
    process = cli(*SWEEP, "--epochs", "500", "--beta", "1", "--out", str(out))
    for line in process.stdout:
        if "epoch 2/500" in line:
            process.send_signal(signal.SIGINT)
            break
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "stopped" in stdout and "Traceback" not in stderr
    epoch = read_state(out / "beta-1")["epoch"]
    assert 2 <= epoch < 500
    assert not (out / "sweep.json").exists()


@pytest.mark.parametrize("args, message", [
    (("--beta", "-1"), "β must be >= 0"),
    (("--beta", "1", "1"), "each β must be given once"),
    (("--beta", "1", "--jobs", "0"), "--jobs must be at least 1"),
    (("--beta", "1", "--model", "ae"), "needs a VAE"),
    (("--beta", "1", "--seeds", "0", "0"), "distinct seeds"),
    ((), "give the betas"),
])
def test_bad_options_give_one_line_and_status_2(tmp_path, capsys, args, message):
    assert main(["sweep", "--out", str(tmp_path / "s"), "--dataset", "digits", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_a_rerun_may_not_change_the_model_of_a_sweep(finished, capsys):
    assert main(["sweep", "--out", str(finished), "--latent-dim", "5"]) == 2
    err = capsys.readouterr().err
    assert "other model settings (latent_dim)" in err and len(err.strip().splitlines()) == 1
    assert read_sweep_config(finished).run.model.latent_dim == 3


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """2 βs × 3 seeds, one epoch each."""
    out = tmp_path_factory.mktemp("seeded") / "sweep"
    result = run_sweep(tiny_sweep(seeds=(0, 1, 2)), out)
    assert result.status == "completed" and len(result.outcomes) == 6
    return out


def test_seeds_train_each_beta_once_per_seed_and_report_mean_and_t_interval(seeded):
    from scipy import stats

    runs = read_csv(seeded / "sweep-runs.csv")
    assert [(float(r["beta"]), int(r["seed"]), r["run"]) for r in runs] == [
        (b, s, f"beta-{b:g}-seed-{s}") for b in (1.0, 4.0) for s in (0, 1, 2)]
    for r in runs:  # each seed's run was trained with that seed, on the same split
        config = json.loads((seeded / r["run"] / "config.json").read_text())
        assert config["train"]["seed"] == int(r["seed"]) and config["data"]["seed"] == 0
    summary = read_csv(seeded / "sweep.csv")
    assert list(summary[0])[:4] == ["beta", "seeds", "recon_mean", "recon_ci95"]
    assert {"kl_mean", "kl_ci95", "elbo_mean", "elbo_ci95", "mig_mean", "mig_ci95", "active_units_mean",
            "active_units_ci95", "iwae_mean", "iwae_ci95"} <= set(summary[0])
    assert [(float(p["beta"]), int(p["seeds"])) for p in summary] == [(1.0, 3), (4.0, 3)]
    t = stats.t.ppf(0.975, 2)
    for point in summary:
        for metric in ("recon", "kl", "elbo", "mig", "iwae"):
            values = np.array([float(r[metric]) for r in runs if float(r["beta"]) == float(point["beta"])])
            assert float(point[f"{metric}_mean"]) == pytest.approx(values.mean(), rel=1e-9), metric
            half = t * values.std(ddof=1) / np.sqrt(3)
            assert float(point[f"{metric}_ci95"]) == pytest.approx(half, rel=1e-9, abs=1e-12), metric
    kl = [float(r["kl"]) for r in runs[:3]]
    assert len(set(kl)) == 3  # the seeds differ, so the intervals are not zero

    table = json.loads((seeded / "sweep.json").read_text())
    assert len(table["rows"]) == 6 and len(table["summary"]) == 2
    svg = ET.parse(seeded / "sweep.svg").getroot()
    curves = {c.get("data-name"): c.get("points").split() for c in svg.iter(f"{SVG}polyline")}
    assert all(len(points) == 2 for points in curves.values())  # one point per β: the mean
    bars = [b for b in svg.iter(f"{SVG}path") if b.get("class") == "error-bar"]
    assert len(bars) == 6  # recon, KL and MIG at each of the two βs
    kl_bars = [b for b in bars if b.get("data-name").startswith("KL")]
    assert [float(b.get("data-ci95")) for b in kl_bars] == pytest.approx(
        [float(p["kl_ci95"]) for p in summary])


def test_a_rerun_of_a_seeded_sweep_keeps_its_seeds_and_trains_nothing(seeded):
    config = read_sweep_config(seeded)
    assert config.seeds == (0, 1, 2)
    result = run_sweep(config, seeded)
    assert [o.status for o in result.outcomes] == ["skipped"] * 6
    assert [o.label for o in result.outcomes[:2]] == ["β = 1, seed 0", "β = 1, seed 1"]
