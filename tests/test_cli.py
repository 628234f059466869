"""The command line, run as a user runs it: `main` with the user's arguments, its exit status,
stdout and stderr (`run_cli` in conftest.py). Ctrl-C and torchrun run it in a subprocess,
through `python -m latentexplorer`, since the process is what they check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from latentexplorer import __version__
from latentexplorer.checkpoint import load_run

TRAIN = ("train", "--dataset", "digits", "--items", "400", "--latent-dim", "2", "--hidden", "32",
         "--epochs", "2", "--quiet", "--threads", "1")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, run_cli) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    result = run_cli(*TRAIN, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "epoch 2/2" in result.stdout
    return out


def test_version(run_cli):
    result = run_cli("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_train_end_to_end_writes_a_run_that_opens(trained):
    run = load_run(trained)
    assert run.epoch == 2 and run.config.data.name == "digits" and run.config.model.latent_dim == 2
    assert {p.name for p in trained.iterdir()} >= {
        "config.json", "model.safetensors", "optimizer.safetensors", "history.csv", "state.json",
    }


def test_existing_run_is_refused_without_resume_or_overwrite(trained, run_cli):
    result = run_cli(*TRAIN, "--out", str(trained))
    assert result.returncode == 2
    assert "--resume" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_resume_continues_to_more_epochs(trained, tmp_path, run_cli):
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    result = run_cli("train", "--out", str(copy), "--resume", "--epochs", "3", "--quiet", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert load_run(copy).epoch == 3


def test_evaluate_json_is_parseable_and_consistent(trained, run_cli):
    result = run_cli("evaluate", str(trained), "--n", "30", "--k", "20", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["n"] == 30 and figures["k"] == 20
    assert figures["elbo"] == pytest.approx(figures["recon"] - figures["kl"], abs=1e-6)
    assert figures["iwae"] >= figures["elbo"] - 3 * figures["iwae_se"]
    assert len(figures["kl_per_dim"]) == 2
    assert sum(figures["kl_per_dim"]) == pytest.approx(figures["kl"], rel=1e-4)
    assert figures["mig"] is None  # digits have no ground-truth factors


def test_evaluate_text_table(trained, run_cli):
    result = run_cli("evaluate", str(trained), "--n", "50", "--k", "5")
    assert result.returncode == 0, result.stderr
    for label in ("ELBO", "IWAE bound (k=5)", "KL per dimension", "active units"):
        assert label in result.stdout


def test_evaluate_prints_the_importance_weighted_curve(trained, run_cli):
    result = run_cli("evaluate", str(trained), "--n", "40", "--k", "5", "--ks", "1,10,100", "--curve-n", "20")
    assert result.returncode == 0, result.stderr
    for label in ("IWAE k=1 ", "IWAE k=10 ", "IWAE k=100 ", "importance-weighted bound (20 items)"):
        assert label in result.stdout
    figures = json.loads(run_cli("evaluate", str(trained), "--n", "40", "--k", "5", "--ks", "1,10,100",
                                 "--curve-n", "20", "--json").stdout)
    curve = figures["curve"]
    assert curve["ks"] == [1, 10, 100] and curve["n"] == 20
    assert curve["elbo"] == pytest.approx(curve["bound"][0])
    assert curve["bound"] == sorted(curve["bound"])  # nested groups: never lower for larger k
    assert figures["sap"] is None and figures["dci_disentanglement"] is None  # no factors
    bad = run_cli("evaluate", str(trained), "--ks", "1,3,10")
    assert bad.returncode == 2 and "divide" in bad.stderr


def test_evaluate_scores_disentanglement_on_sprites(tmp_path, run_cli):
    out = tmp_path / "sprites"
    train = run_cli("train", "--dataset", "sprites", "--items", "600", "--size", "16", "--latent-dim", "3",
                "--hidden", "32", "--epochs", "1", "--quiet", "--threads", "1", "--out", str(out))
    assert train.returncode == 0, train.stderr
    result = run_cli("evaluate", str(out), "--n", "300", "--k", "2", "--ks", "1,10", "--curve-n", "10", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    for name in ("mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness"):
        assert 0.0 <= figures[name] <= 1.0, name
    assert set(figures["sap_per_factor"]) == {"shape", "scale", "orientation", "pos_x", "pos_y"}
    table = run_cli("evaluate", str(out), "--n", "300", "--k", "2", "--ks", "1,10", "--curve-n", "10").stdout
    assert "SAP" in table and "DCI disentanglement" in table and "MIG" in table


def test_encode_writes_codes_for_every_item(trained, tmp_path, run_cli):
    out = tmp_path / "codes.npz"
    result = run_cli("encode", str(trained), "--out", str(out))
    assert result.returncode == 0, result.stderr
    codes = np.load(out)
    assert codes["mu"].shape == (400, 2) and codes["logvar"].shape == (400, 2)
    assert codes["labels"].shape == (400,)


@pytest.mark.parametrize(
    "args, message",
    [
        (("evaluate", "/no/such/run"), "run folder not found"),
        (("train", "--dataset", "mnist", "--epochs", "1"), "--data-root is required"),
        (("train", "--dataset", "mnist", "--data-root", "/no/where", "--out", "x"), "/no/where"),
        (("train", "--latent-dim", "0"), "latent dimension"),
        (("train", "--config", "/no/config.json"), "config file not found"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(args, message, tmp_path, monkeypatch, run_cli):
    monkeypatch.chdir(tmp_path)
    result = run_cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_option_exits_2(run_cli):
    result = run_cli("train", "--model", "gan")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_config_file_is_accepted_and_overridden_by_options(tmp_path, run_cli):
    config = {"model": {"kind": "betavae", "beta": 3.0, "latent_dim": 3, "hidden": [16]},
              "data": {"name": "digits", "n": 200}, "train": {"epochs": 1}}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    result = run_cli("train", "--config", str(path), "--latent-dim", "4", "--out", str(tmp_path / "r"),
                 "--quiet", "--threads", "1")
    assert result.returncode == 0, result.stderr
    run = load_run(tmp_path / "r")
    assert run.config.model.kind == "betavae" and run.config.model.beta == 3.0
    assert run.config.model.latent_dim == 4


def test_two_process_torchrun_trains_a_run_that_loads(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for attempt in (1, 2):
        out = tmp_path / f"ddp-{attempt}"
        result = subprocess.run(
            # --standalone: the rendezvous binds a port the OS picks, so no other process can
            # take it between a free-port probe and the launch
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
             "-m", "latentexplorer", "train", "--dataset", "digits", "--items", "300", "--hidden", "32",
             "--epochs", "2", "--device", "cpu", "--quiet", "--out", str(out)],
            capture_output=True, text=True, timeout=300, env=env,
        )
        if result.returncode == 0:
            break
        # The launch failed twice inside a full test run and never in 36 runs on its own: a
        # second try keeps that from failing the suite, and the first try's output is reported
        # as a warning, so that what failed is on record.
        warnings.warn(f"torchrun attempt {attempt} exited {result.returncode}:\n"
                      f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}", stacklevel=1)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("epoch 2/2") == 1  # only rank 0 reports
    run = load_run(out)
    assert run.epoch == 2
    # 270 training items shared by 2 ranks, batch 128 each: 2 steps per epoch
    assert run.state["step"] == 4


def test_ctrl_c_stops_cleanly_and_keeps_the_last_complete_epoch(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "latentexplorer", "train", "--dataset", "digits", "--hidden", "32",
         "--epochs", "100000", "--quiet", "--threads", "1", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    deadline = time.monotonic() + 120
    for line in process.stdout:
        if line.startswith("epoch 2/"):
            break
        assert time.monotonic() < deadline, "training never reached epoch 2"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "cancelled" in stdout and "last complete epoch" in stdout
    run = load_run(out)
    assert 2 <= run.epoch < 100000


def test_precision_option_reaches_the_config_and_the_run(tmp_path, run_cli):
    from latentexplorer.cli import build_parser
    from latentexplorer.cli.train import config_from_args

    assert config_from_args(build_parser().parse_args(["train"])).train.precision == "auto"
    args = build_parser().parse_args(["train", "--precision", "bf16"])
    assert config_from_args(args).train.precision == "bf16"
    out = tmp_path / "run"
    result = run_cli(*TRAIN, "--epochs", "1", "--precision", "fp32", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "(cpu, fp32)" in result.stdout
    assert load_run(out).state["precision"] == "fp32"


def test_unknown_precision_exits_2(run_cli):
    result = run_cli("train", "--precision", "fp16")
    assert result.returncode == 2 and "invalid choice" in result.stderr
