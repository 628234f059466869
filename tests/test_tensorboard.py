"""TensorBoard logging, read back as TensorBoard reads it (its EventAccumulator) and compared with
the run's history.csv epoch by epoch; `--no-tensorboard`; training without tensorboard, or with
one too old, runs the same and says so once."""

from __future__ import annotations

import sys

import pytest
import torch

from latentexplorer.checkpoint import load_run
from latentexplorer.training import tensorboard_log
from latentexplorer.training.tensorboard_log import INSTALL_HINT, TB_FOLDER, tag_of

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

TRAIN = ("train", "--dataset", "digits", "--items", "300", "--latent-dim", "2", "--hidden", "16",
         "--epochs", "2", "--quiet", "--threads", "1")


def events(folder) -> EventAccumulator:
    accumulator = EventAccumulator(str(folder / TB_FOLDER), size_guidance={"scalars": 0, "images": 0})
    accumulator.Reload()
    return accumulator


@pytest.fixture
def fresh_notice(monkeypatch):
    """The once-per-process notice not yet given."""
    monkeypatch.setattr(tensorboard_log, "_said", False)


def test_cli_training_logs_every_history_column_and_pictures_per_epoch(tmp_path, run_cli):
    out = tmp_path / "run"
    assert run_cli(*TRAIN, "--out", str(out)).returncode == 0
    # resumed for one more epoch: the events continue, each epoch once
    result = run_cli("train", "--out", str(out), "--resume", "--epochs", "3", "--quiet", "--threads", "1")
    assert result.returncode == 0, result.stderr
    history = load_run(out).history
    assert [int(row["epoch"]) for row in history] == [1, 2, 3]
    board = events(out)
    logged = set(board.Tags()["scalars"])
    columns = [c for c in history[0] if tag_of(c) is not None]
    assert {"train_total", "train_recon", "train_kl", "train_reg", "val_total", "kl_dim_0", "kl_dim_1"} <= set(columns)
    assert {tag_of(c) for c in columns} == logged
    for column in columns:
        scalars = board.Scalars(tag_of(column))
        assert [s.step for s in scalars] == [1, 2, 3], column
        assert [s.value for s in scalars] == pytest.approx([row[column] for row in history], rel=1e-6, abs=1e-7)
    assert tag_of("train_reg") == "train/beta_kl" and tag_of("kl_dim_1") == "kl_per_dim/1"
    assert set(board.Tags()["images"]) == {"reconstructions", "prior_samples"}
    for tag in ("reconstructions", "prior_samples"):
        pictures = board.Images(tag)
        assert [p.step for p in pictures] == [1, 2, 3]
        assert pictures[0].width >= 32 * 8 and pictures[0].height >= 32 * 2  # 8×8 digits, scaled ×4


def test_no_tensorboard_writes_no_tb_folder_and_overwriting_starts_the_events_again(tmp_path, run_cli):
    out = tmp_path / "run"
    result = run_cli(*TRAIN, "--epochs", "1", "--no-tensorboard", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert load_run(out).epoch == 1 and not (out / TB_FOLDER).exists()
    for _ in range(2):
        assert run_cli(*TRAIN, "--epochs", "1", "--overwrite", "--out", str(out)).returncode == 0
    assert len(list((out / TB_FOLDER).iterdir())) == 1
    assert [s.step for s in events(out).Scalars("train/total")] == [1]


def test_without_tensorboard_training_runs_and_says_once_how_to_enable_it(tmp_path, run_cli, monkeypatch,
                                                                           fresh_notice):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` fails
    first = run_cli(*TRAIN, "--epochs", "1", "--out", str(tmp_path / "a"))
    second = run_cli(*TRAIN, "--epochs", "1", "--out", str(tmp_path / "b"))
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stderr.count(INSTALL_HINT) == 1 and "latentexplorer[tensorboard]" in first.stderr
    assert "TensorBoard" not in second.stderr
    for name in "ab":
        assert load_run(tmp_path / name).epoch == 1 and not (tmp_path / name / TB_FOLDER).exists()


def test_a_tensorboard_too_old_is_named_at_the_start(tmp_path, run_cli, monkeypatch, fresh_notice):
    import tensorboard

    monkeypatch.setattr(tensorboard, "__version__", "2.9.1")
    result = run_cli(*TRAIN, "--epochs", "1", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "tensorboard 2.9.1 is too old" in result.stderr and "tensorboard>=2.14" in result.stderr
    assert not (tmp_path / "run" / TB_FOLDER).exists()


def test_a_summary_writer_without_the_calls_we_use_is_refused(monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    assert tensorboard_log.tensorboard_problem() is None
    monkeypatch.delattr(SummaryWriter, "add_images")
    assert "lacks add_images" in tensorboard_log.tensorboard_problem()


class Recorder:
    """A SummaryWriter stand-in that keeps what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def add_scalar(self, tag, value, step) -> None:
        self.calls.append(("scalar", tag, step))

    def add_images(self, tag, images, step) -> None:
        self.calls.append(("images", tag, step, tuple(images.shape)))

    def flush(self) -> None:
        pass


def test_models_that_do_not_decode_to_the_data_log_numbers_only():
    from latentexplorer.config import DataConfig, ModelConfig
    from latentexplorer.data import load_dataset
    from latentexplorer.errors import DataError
    from latentexplorer.models import build_model
    from latentexplorer.training.records import EpochMetrics

    digits = load_dataset(DataConfig(name="digits", n=20))
    model = build_model(ModelConfig(kind="vae", latent_dim=2, hidden=(8,), architecture="mlp",
                                    image_shape=(1, 8, 8)))
    metrics = EpochMetrics(epoch=1, step=1, train_total=1.0, train_recon=1.0, train_kl=0.0, train_reg=0.0,
                           kl_weight=1.0, val_total=1.0, val_recon=1.0, val_kl=0.0, kl_per_dim=torch.zeros(2).numpy(),
                           samples_per_s=1.0, seconds=1.0, nonfinite_steps=0, epochs=1)
    drawn = Recorder()
    tensorboard_log.TensorBoardLog(drawn, model, digits, seed=0).epoch(metrics)
    assert ("images", "reconstructions", 1, (16, 1, 32, 32)) in drawn.calls
    assert ("images", "prior_samples", 1, (16, 1, 32, 32)) in drawn.calls

    def no_decoder(z):
        raise DataError("this model has no decoder")

    model.mean = no_decoder  # as CLIP's
    numbers = Recorder()
    tensorboard_log.TensorBoardLog(numbers, model, digits, seed=0).epoch(metrics)
    assert not [c for c in numbers.calls if c[0] == "images"]
    assert ("scalar", "validation/total", 1) in numbers.calls
    assert model.training  # left in the mode it was in
