"""The strokes dataset and the sequence VAE: variable lengths, masking, training, generation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from latentexplorer.checkpoint import load_run
from latentexplorer.cli import main
from latentexplorer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from latentexplorer.data import load_dataset
from latentexplorer.data.strokes import MAX_LENGTH, StrokeSet, load_stroke_arrays, make_strokes
from latentexplorer.errors import ConfigError, DataError
from latentexplorer.models import SequenceVAE, build_model
from latentexplorer.training import train


def seq_config(**kw) -> ModelConfig:
    opts = dict(kind="seqvae", image_shape=(1, MAX_LENGTH, 3), latent_dim=3, hidden=(32,),
                likelihood="gaussian-learned")
    return ModelConfig(**{**opts, **kw})


@pytest.fixture(scope="module")
def strokes() -> StrokeSet:
    return make_strokes(300, seed=1)


def test_lengths_vary_and_round_trip_through_the_padding(strokes, tmp_path):
    lengths = strokes.lengths
    assert lengths.min() >= 12 and lengths.max() <= MAX_LENGTH and len(np.unique(lengths)) > 5
    # the present flag is a prefix: ones up to the length, zeros (and zero coordinates) after
    steps = np.arange(MAX_LENGTH)[None]
    np.testing.assert_array_equal(strokes.sequences[..., -1], (steps < lengths[:, None]).astype(np.float32))
    assert not strokes.sequences[steps >= lengths[:, None]].any()
    # a user's .npz of N×T×D plus lengths comes back with the same lengths and (scaled) points
    seqs = strokes.sequences[..., :2]
    np.savez(tmp_path / "mine.npz", sequences=seqs, lengths=lengths, labels=strokes.labels)
    mine = load_dataset(DataConfig(name="strokes-npz", root=str(tmp_path / "mine.npz")))
    np.testing.assert_array_equal(mine.lengths, lengths)
    scale = mine.meta["scale"]
    present = steps < lengths[:, None]
    np.testing.assert_allclose(mine.sequences[..., :2][present], seqs[present] * scale, atol=1e-6)
    assert isinstance(mine.subset(np.arange(5)), StrokeSet)
    np.savez(tmp_path / "bad.npz", sequences=seqs, lengths=lengths + 100)
    with pytest.raises(DataError, match="lengths must lie"):
        load_stroke_arrays(tmp_path / "bad.npz")


def test_display_draws_only_up_to_the_length(strokes):
    i = int(np.argmin(strokes.lengths))
    full = strokes.display_batch(np.array([i]))
    assert full.shape == (1, 3, 64, 64) and full.min() >= 0.0 and full.max() <= 1.0 and full.max() > 0.5
    # a far-away point written into the padding is not drawn
    changed = strokes.images.copy()
    changed[i, 0, -1, :2] = (0.99, 0.99)
    other = StrokeSet(images=changed, name="strokes", meta=strokes.meta)
    np.testing.assert_array_equal(other.display_batch(np.array([i])), full)


@torch.no_grad()
def test_the_loss_masks_the_padding(strokes):
    torch.manual_seed(0)
    model = SequenceVAE(seq_config()).eval()
    x = strokes.float_batch(np.arange(8))
    noisy = x.clone()
    pad = noisy[:, 0, :, -1] < 0.5
    noisy[:, 0, :, 0][pad] = 5.0
    noisy[:, 0, :, 1][pad] = -3.0
    z = torch.randn(8, 3)
    np.testing.assert_allclose(model.log_px_given_z(x, z), model.log_px_given_z(noisy, z), rtol=1e-6)
    np.testing.assert_allclose(model.encode(x).mu.detach(), model.encode(noisy).mu.detach(), atol=1e-6)
    # but a present step counts
    moved = x.clone()
    moved[0, 0, 0, 0] += 0.5
    assert not torch.allclose(model.log_px_given_z(x, z)[0], model.log_px_given_z(moved, z)[0])


@torch.no_grad()
def test_log_likelihood_matches_torch_distributions(strokes):
    torch.manual_seed(0)
    model = SequenceVAE(seq_config(likelihood="gaussian", sigma=0.2)).eval()
    x = strokes.float_batch(np.arange(2))
    z = torch.randn(2, 3)
    previous = torch.cat([torch.zeros_like(x[:, 0, :1, :2]), x[:, 0, :-1, :2]], dim=1)
    out, _ = model.decoder(z, previous)
    expected = []
    for i in range(2):
        n = int(strokes.lengths[i])
        pos = torch.distributions.Normal(out[i, :n, :2], 0.2).log_prob(x[i, 0, :n, :2]).sum()
        end = torch.zeros(n)
        end[-1] = 1.0
        expected.append(pos + torch.distributions.Bernoulli(logits=out[i, :n, -1]).log_prob(end).sum())
    np.testing.assert_allclose(model.log_px_given_z(x, z).detach(), torch.stack(expected).detach(), rtol=1e-5)


def test_shapes_and_generation_stops_at_end_of_sequence():
    torch.manual_seed(0)
    model = SequenceVAE(seq_config()).eval()
    x = make_strokes(4).float_batch()
    assert model.encode(x).mu.shape == (4, 3)
    with torch.no_grad():  # an end logit of +20 from the third step on: sequences of length 3
        model.decoder.head.bias[-1] = -20.0
        z = torch.randn(5, 3)
        long = model.decode(z)
        assert long.shape == (5, 1, MAX_LENGTH, 3) and (long[:, 0, :, -1].sum(-1) == MAX_LENGTH).all()
        model.decoder.head.bias[-1] = 20.0
        short = model.decode(z)
    assert (short[:, 0, :, -1].sum(-1) == 1).all()
    assert not short[:, 0, 1:].any()
    images = model.mean(z)
    assert images.shape == (5, 3, 64, 64) and images.min() >= 0 and images.max() <= 1


def test_a_short_training_run_lowers_the_loss_and_round_trips(tmp_path):
    config = RunConfig(
        model=seq_config(warmup_epochs=2.0), data=DataConfig(name="strokes", n=300),
        train=TrainConfig(epochs=3, batch_size=32, threads=1, precision="fp32"),
    )
    result = train(config, tmp_path / "run")
    totals = [row["val_total"] for row in result.history]
    assert totals[-1] < totals[0] - 5.0
    run = load_run(tmp_path / "run")
    assert isinstance(run.model, SequenceVAE) and run.config.model.image_shape == (1, MAX_LENGTH, 3)
    x = make_strokes(300).float_batch(np.arange(4))
    trained = build_model(run.config.model)
    trained.load_state_dict(run.model.state_dict())
    torch.manual_seed(3)
    a = run.model.eval().log_px_given_z(x, torch.zeros(4, 3))
    b = trained.eval().log_px_given_z(x, torch.zeros(4, 3))
    np.testing.assert_allclose(a.detach(), b.detach())
    assert math.isfinite(float(a.detach().mean()))


def test_cli_trains_with_the_kind_defaults_and_refuses_mismatches(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["train", "--dataset", "strokes", "--items", "120", "--model", "seqvae", "--latent-dim", "2",
                 "--epochs", "1", "--threads", "1", "--quiet", "--out", str(out)]) == 0
    model = load_run(out).config.model
    assert (model.hidden, model.likelihood, model.warmup_epochs) == ((128,), "gaussian-learned", 5.0)
    assert main(["train", "--dataset", "digits", "--model", "seqvae", "--epochs", "1",
                 "--out", str(tmp_path / "x")]) == 2
    assert "pen trajectories" in capsys.readouterr().err
    assert main(["train", "--dataset", "strokes", "--items", "50", "--model", "vae", "--epochs", "1",
                 "--out", str(tmp_path / "y")]) == 2
    assert "--model seqvae" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="Gaussian"):
        seq_config(likelihood="bernoulli")
