"""Provenance: `evaluate --json` and a trained run's provenance.json name the estimator, items,
seed, the weights' SHA-256, versions, device, precision and wall time; figures carry the same
block (a PNG text chunk, an SVG <metadata>)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from latentexplorer import __version__
from latentexplorer.bundled import bundled_run
from latentexplorer.checkpoint import WEIGHTS_FILE, load_run
from latentexplorer.provenance import (
    PNG_KEY,
    PROVENANCE_FILE,
    figure_provenance,
    read_png_provenance,
    save_png,
    stamp_figure,
)

TRAIN = ("train", "--dataset", "digits", "--items", "300", "--latent-dim", "2", "--hidden", "16",
         "--epochs", "2", "--quiet", "--threads", "1", "--no-tensorboard")


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_versions(block: dict) -> None:
    assert block["latentexplorer"] == __version__
    assert block["torch"] == torch.__version__ and block["numpy"] == np.__version__
    assert block["timestamp"] and block["wall_time_s"] is not None and block["wall_time_s"] >= 0


@pytest.fixture(scope="module")
def trained(tmp_path_factory, run_cli):
    out = tmp_path_factory.mktemp("provenance") / "run"
    result = run_cli(*TRAIN, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_training_ends_with_provenance_json_in_the_run_folder(trained):
    block = json.loads((trained / PROVENANCE_FILE).read_text())
    run = load_run(trained)
    assert block["weights_sha256"] == sha256(trained / WEIGHTS_FILE)
    assert block["estimator"] == "training" and block["k"] == 1 and block["split"] == "train"
    assert block["items"] == 270 and block["val_items"] == 30  # 10% of 300 held out
    assert block["seed"] == run.config.train.seed == 0
    assert block["epochs"] == 2 == run.epoch and block["steps"] == run.state["step"]
    assert block["device"] == "cpu" and block["precision"] == run.state["precision"]
    assert block["wall_time_s"] > 0
    assert_versions(block)


def test_evaluate_json_carries_the_provenance_of_its_figures(trained, run_cli):
    result = run_cli("evaluate", str(trained), "--n", "25", "--k", "7", "--ks", "1", "--seed", "3", "--json")
    assert result.returncode == 0, result.stderr
    block = json.loads(result.stdout)["provenance"]
    assert block["estimator"] == "iwae" and block["k"] == 7
    assert block["items"] == 25 and block["split"] == "validation" and block["seed"] == 3
    assert block["weights_sha256"] == sha256(trained / WEIGHTS_FILE)
    assert block["device"] == "cpu" and block["precision"] == "fp32"
    assert block["wall_time_s"] > 0
    assert_versions(block)


def test_a_users_model_is_hashed_from_its_own_weights_file(trained_user_models, run_cli):
    user = trained_user_models["mlp"]
    result = run_cli("evaluate", *user.flags, "--n", "20", "--k", "3", "--ks", "1", "--json")
    assert result.returncode == 0, result.stderr
    block = json.loads(result.stdout)["provenance"]
    assert block["weights_sha256"] == sha256(user.weights)


def test_figures_carry_the_block_as_a_png_chunk_and_svg_metadata(tmp_path):
    from PIL import Image

    run = load_run(bundled_run("digits-vae-2d"))
    block = figure_provenance(run, items=1797)
    assert block["estimator"] == "figure" and block["k"] is None and block["items"] == 1797
    assert block["weights_sha256"] == sha256(bundled_run("digits-vae-2d") / WEIGHTS_FILE)
    pixels = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    save_png(pixels, tmp_path / "figure.png", block)
    read = read_png_provenance(tmp_path / "figure.png")
    assert read["weights_sha256"] == block["weights_sha256"] and read["wall_time_s"] >= 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "figure.png")), pixels)
    # a PNG another writer made, stamped afterwards, keeps its own text and pixels
    other = tmp_path / "other.png"
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "pyqtgraph")
    Image.fromarray(pixels).save(other, pnginfo=info)
    stamp_figure(other, block)
    with Image.open(other) as image:
        assert image.text["Software"] == "pyqtgraph" and json.loads(image.text[PNG_KEY])["seed"] == block["seed"]
        np.testing.assert_array_equal(np.asarray(image), pixels)
    svg = tmp_path / "figure.svg"
    svg.write_text('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>\n')
    stamp_figure(svg, block)
    import xml.etree.ElementTree as ET

    metadata = ET.parse(svg).getroot().find("{http://www.w3.org/2000/svg}metadata")
    assert json.loads(metadata.text)["weights_sha256"] == block["weights_sha256"]
