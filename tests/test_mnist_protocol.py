"""The MNIST likelihood protocol end to end on synthetic IDX files: our IDX reader and its
refusals, static and dynamic binarisation, `train --binarize dynamic` on the standard split
and `evaluate --iwae-k K --test` on exactly the test images."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from latentexplorer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from latentexplorer.data import ImageSet, load_dataset
from latentexplorer.data.binarize import binarize_static, redraw_each_epoch
from latentexplorer.errors import DataError

N_TRAIN, N_TEST = 600, 100


def write_idx(path: Path, array: np.ndarray, packed: bool = False, magic: int | None = None) -> Path:
    """IDX: a big-endian magic (0x0803 images, 0x0801 labels), the dims, then the bytes."""
    magic = magic if magic is not None else 0x0800 + array.ndim
    payload = struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if packed:
        path = path.with_name(path.name + ".gz")
        payload = gzip.compress(payload, compresslevel=1)
    path.write_bytes(payload)
    return path


def fake_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey 28×28 blobs, one place per class, so a VAE has something to learn."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    yy, xx = np.mgrid[:28, :28]
    cy, cx = 8 + 12 * (labels // 5), 4 + 5 * (labels % 5)
    blob = np.exp(-((yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2) / 18.0)
    return (255 * np.clip(blob + 0.1 * rng.random((n, 28, 28)), 0, 1)).astype(np.uint8), labels


def write_mnist(root: Path) -> dict[str, np.ndarray]:
    """Train files gzipped in torchvision's MNIST/raw, test files unpacked beside them."""
    raw = root / "MNIST" / "raw"
    train, train_labels = fake_digits(N_TRAIN, 0)
    test, test_labels = fake_digits(N_TEST, 1)
    write_idx(raw / "train-images-idx3-ubyte", train, packed=True)
    write_idx(raw / "train-labels-idx1-ubyte", train_labels, packed=True)
    write_idx(raw / "t10k-images-idx3-ubyte", test)
    write_idx(raw / "t10k-labels-idx1-ubyte", test_labels)
    return {"train": train, "test": test, "test_labels": test_labels}


@pytest.fixture(scope="module")
def mnist(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path_factory.mktemp("mnist")
    return root, write_mnist(root)


@pytest.fixture(scope="module")
def protocol_run(mnist, tmp_path_factory, run_cli) -> Path:
    """One epoch of `train --dataset mnist --binarize dynamic`, as the README's command."""
    root, _ = mnist
    out = tmp_path_factory.mktemp("runs") / "mnist-iwae"
    result = run_cli("train", "--dataset", "mnist", "--data-root", str(root), "--binarize", "dynamic",
                     "--arch", "mlp", "--hidden", "32", "--latent-dim", "4", "--epochs", "1",
                     "--batch-size", "100", "--threads", "1", "--quiet", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


# ---------------------------------------------------------------- the IDX reader


def test_both_splits_read_from_gz_and_raw_files(mnist):
    root, arrays = mnist
    train = load_dataset(DataConfig(name="mnist", root=str(root)))
    test = load_dataset(DataConfig(name="mnist", root=str(root), n=10), test=True)  # always whole
    assert train.images.shape == (N_TRAIN, 1, 28, 28) and test.images.shape == (N_TEST, 1, 28, 28)
    np.testing.assert_array_equal(train.images[:, 0], arrays["train"])
    np.testing.assert_array_equal(test.images[:, 0], arrays["test"])
    np.testing.assert_array_equal(test.labels, arrays["test_labels"])
    raw = load_dataset(DataConfig(name="mnist", root=str(root / "MNIST" / "raw")), test=True)  # the files' folder
    np.testing.assert_array_equal(raw.images, test.images)


def _damaged(tmp_path: Path, name: str, array: np.ndarray, **kwargs) -> Path:
    """An MNIST folder whose train split has `name` written from `array` (the other file good)."""
    raw = tmp_path / "MNIST" / "raw"
    images, labels = fake_digits(20, 0)
    write_idx(raw / "train-images-idx3-ubyte", images)
    write_idx(raw / "train-labels-idx1-ubyte", labels)
    return write_idx(raw / name, array, **kwargs)


@pytest.mark.parametrize("case, message", [
    ("missing labels", r"MNIST/raw has train-images-idx3-ubyte but not train-labels-idx1-ubyte"),
    ("truncated", r"train-images-idx3-ubyte is truncated: its header says 20×28×28 images"),
    ("truncated gz", r"train-images-idx3-ubyte.gz is a damaged or incomplete gzip file"),
    ("wrong magic", r"magic number is 2049 \(0x00000801\), expected 2051 .*swapped"),
    ("foreign magic", r"not an IDX images file: its magic number is 1234"),
    ("wrong dims", r"images of 32×32 pixels; .* are 28×28"),
    ("too long", r"has 784 bytes more than its header"),
    ("count mismatch", r"train-images-idx3-ubyte has 20 images but train-labels-idx1-ubyte has 7 labels"),
])
def test_damaged_idx_files_are_refused_by_name(tmp_path, case, message):
    images, _ = fake_digits(20, 0)
    name = "train-images-idx3-ubyte"
    if case == "missing labels":
        path = _damaged(tmp_path, name, images)
        (path.parent / "train-labels-idx1-ubyte").unlink()
    elif case.startswith("truncated"):
        path = _damaged(tmp_path, name, images, packed=case.endswith("gz"))
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
        if case.endswith("gz"):
            (path.parent / name).unlink()
    elif case == "wrong magic":
        _damaged(tmp_path, name, np.zeros(20), magic=2049)  # a labels file under the images' name
    elif case == "foreign magic":
        _damaged(tmp_path, name, images, magic=1234)
    elif case == "wrong dims":
        _damaged(tmp_path, name, np.zeros((20, 32, 32)))
    elif case == "too long":
        path = _damaged(tmp_path, name, images)
        path.write_bytes(path.read_bytes() + bytes(784))
    else:
        _damaged(tmp_path, "train-labels-idx1-ubyte", np.zeros(7))
    with pytest.raises(DataError, match=message) as info:
        load_dataset(DataConfig(name="mnist", root=str(tmp_path)))
    assert "\n" not in str(info.value)


def test_missing_test_split_names_its_files(tmp_path):
    _damaged(tmp_path, "train-images-idx3-ubyte", fake_digits(20, 0)[0])
    with pytest.raises(DataError, match=r"mnist not found: expected .*MNIST/raw/t10k-images-idx3-ubyte and "
                                        r".*t10k-labels-idx1-ubyte \(each may also end in .gz\)"):
        load_dataset(DataConfig(name="mnist", root=str(tmp_path)), test=True)


def test_torchvisions_legacy_processed_files_still_read(tmp_path):
    processed = tmp_path / "MNIST" / "processed"
    processed.mkdir(parents=True)
    images, labels = fake_digits(12, 0)
    for name in ("training.pt", "test.pt"):
        torch.save((torch.from_numpy(images), torch.from_numpy(labels)), processed / name)
    data = load_dataset(DataConfig(name="mnist", root=str(tmp_path)), test=True)
    np.testing.assert_array_equal(data.images[:, 0], images)


# ---------------------------------------------------------------- binarisation


def test_static_binarization_is_seeded_and_follows_grey_levels():
    grey = ImageSet(np.full((200, 1, 8, 8), 64, dtype=np.uint8), name="grey")
    once, again = binarize_static(grey, seed=0), binarize_static(grey, seed=0)
    assert set(np.unique(once.images)) == {0, 255}
    np.testing.assert_array_equal(once.images, again.images)
    assert not np.array_equal(once.images, binarize_static(grey, seed=1).images)
    assert abs(once.images.mean() / 255 - 64 / 255) < 0.02


def _first_batches(epochs: int) -> list[torch.Tensor]:
    """What the model is fed in each epoch, training on 40 copies of one grey image in one batch
    (so any shuffle gives the same grey batch: only the draw can differ)."""
    from latentexplorer.training import prepare_training

    config = RunConfig(model=ModelConfig(image_shape=(1, 8, 8), architecture="mlp", hidden=(8,)),
                       train=TrainConfig(epochs=epochs, batch_size=40, device="cpu", precision="fp32"),
                       data=DataConfig(name="digits", binarize="dynamic", val_fraction=0.0))
    grey = ImageSet(np.full((40, 1, 8, 8), 77, dtype=np.uint8), name="digits")
    trainer = prepare_training(config, images=grey)
    seen, forward = [], trainer.model.forward
    trainer.model.forward = lambda x, progress=None: seen.append(x.clone()) or forward(x, progress)
    trainer.fit()
    return seen[::2]  # each epoch also validates on the grey images once


def test_dynamic_binarization_draws_anew_each_epoch_and_reproduces():
    first = _first_batches(2)
    assert len(first) == 2
    for x in first:
        assert set(torch.unique(x).tolist()) == {0.0, 1.0}
        assert abs(x.mean().item() - 77 / 255) < 0.05
    assert not torch.equal(first[0], first[1])
    again = _first_batches(2)
    assert all(torch.equal(a, b) for a, b in zip(first, again))


def test_redraw_keeps_the_global_rng():
    grey = torch.full((4, 1, 8, 8), 0.5)
    torch.manual_seed(3)
    expected = torch.rand(1)
    torch.manual_seed(3)
    list(redraw_each_epoch(lambda epoch: iter([grey]), seed=0)(0))
    assert torch.equal(torch.rand(1), expected)


def test_nll_streams_items_and_samples_in_bounded_passes():
    from latentexplorer.analysis.marginal_likelihood import estimate_nll, sample_batches
    from latentexplorer.models import build_model

    assert sample_batches(5000) == (1, 2048) and sample_batches(50) == (40, 50)
    torch.manual_seed(0)
    model = build_model(ModelConfig(image_shape=(1, 8, 8), architecture="mlp", hidden=(8,)))
    passes, decode = [], model.decoder.forward
    model.decoder.forward = lambda z: passes.append(len(z)) or decode(z)
    grey = binarize_static(ImageSet(np.full((7, 1, 8, 8), 100, dtype=np.uint8), name="grey"), 0)
    estimate = estimate_nll(model, grey, k=50, samples_per_pass=16)
    assert max(passes) <= 16 and sum(passes) == 7 * 50
    assert estimate.n == 7 and np.isfinite(estimate.nll) and estimate.nll > 0


# ---------------------------------------------------------------- train and evaluate


def test_train_binarize_dynamic_uses_the_standard_split(protocol_run):
    config = RunConfig.from_json((protocol_run / "config.json").read_text())
    assert config.data.binarize == "dynamic" and config.data.split == "standard"
    assert config.model.image_shape == (1, 28, 28)


def test_evaluate_test_reports_nll_on_exactly_the_test_images(protocol_run, mnist, run_cli):
    from latentexplorer.analysis.marginal_likelihood import estimate_nll
    from latentexplorer.checkpoint import load_run

    result = run_cli("evaluate", str(protocol_run), "--iwae-k", "50", "--test", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["n"] == N_TEST and record["k"] == 50 and record["items"] == "test"
    assert record["binarized_seed"] == 0 and record["provenance"]["weights_sha256"]
    assert {"estimator": "iwae", "k": 50, "items": N_TEST, "split": "test", "seed": 0}.items() \
        <= record["provenance"].items()
    assert np.isfinite(record["nll"]) and 0 < record["nll_se"] < record["nll"]
    # The same figure from the test images binarised with seed 0, and from nothing else.
    root, arrays = mnist
    test = ImageSet(arrays["test"][:, None], name="mnist")
    expected = estimate_nll(load_run(protocol_run).model, binarize_static(test, 0), 50, seed=0)
    assert record["nll"] == pytest.approx(expected.nll, rel=1e-9)

    text = run_cli("evaluate", str(protocol_run), "--iwae-k", "50", "--test").stdout
    assert f"−log p(x) = {record['nll']:.2f} ± {record['nll_se']:.2f} nats (IWAE-50, 100 test images, " \
           "binarised with seed 0)" in text


@pytest.mark.parametrize("args, message", [
    (("train", "--dataset", "cifar10", "--data-root", "/no/where", "--binarize", "dynamic"),
     "--binarize dynamic cannot apply to cifar10: CIFAR-10 images are in colour"),
    (("train", "--dataset", "strokes", "--model", "seqvae", "--binarize", "static"),
     "strokes are pen trajectories"),
    (("train", "--dataset", "digits", "--binarize", "dynamic", "--likelihood", "gaussian"),
     "use --likelihood bernoulli"),
    (("train", "--dataset", "digits", "--split", "standard"), "digits has no standard test set"),
])
def test_bad_protocol_options_are_refused_in_one_line(args, message, tmp_path, monkeypatch, run_cli):
    monkeypatch.chdir(tmp_path)
    result = run_cli(*args, "--epochs", "1", "--quiet")
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()  # refused before a run folder is made
