"""The one training loop: learning, β, resume, cancel, non-finite losses, both batching paths."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

from latentexplorer.checkpoint import load_run
from latentexplorer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from latentexplorer.data import load_dataset
from latentexplorer.errors import DataError
from latentexplorer.training import NonFiniteLoss, prepare_training, train


def digits_config(epochs: int = 3, **model) -> RunConfig:
    model = {"latent_dim": 2, "hidden": (64,), **model}
    return RunConfig(
        model=ModelConfig(**model),
        train=TrainConfig(epochs=epochs, batch_size=64, seed=3, device="cpu"),
        data=DataConfig(name="digits", n=600, val_fraction=0.2),
    )


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig(name="digits", n=600))


def test_loss_drops_and_history_is_written(tmp_path, digits):
    result = train(digits_config(epochs=4), tmp_path / "run", images=digits)
    assert result.status == "completed" and result.epochs_done == 4
    losses = [row["val_total"] for row in result.history]
    assert losses[-1] < losses[0] - 1.0
    run = load_run(tmp_path / "run")
    assert run.epoch == 4 and len(run.history) == 4
    assert {"train_total", "val_kl", "val_elbo", "kl_dim_0", "kl_dim_1", "samples_per_s"} <= set(run.history[0])
    assert run.steps() and run.steps()[-1]["step"] <= result.step
    assert run.config.model.image_shape == (1, 8, 8)


def test_larger_beta_gives_lower_kl(digits):
    kl = {}
    for beta in (0.5, 8.0):
        result = train(digits_config(epochs=4, beta=beta, latent_dim=4), None, images=digits)
        kl[beta] = result.history[-1]["val_kl"]
    assert kl[8.0] < kl[0.5]


def test_resume_continues_exactly_as_an_uninterrupted_run(tmp_path, digits):
    config = digits_config(epochs=4)
    train(config, tmp_path / "whole", images=digits)
    train(replace(config, train=replace(config.train, epochs=2)), tmp_path / "split", images=digits)
    assert load_run(tmp_path / "split").epoch == 2
    result = train(None, tmp_path / "split", resume=True, epochs=4, images=digits)
    assert result.epochs_done == 4
    whole, split = load_run(tmp_path / "whole"), load_run(tmp_path / "split")
    for (name, a), (_, b) in zip(whole.model.state_dict().items(), split.model.state_dict().items()):
        assert torch.equal(a, b), name
    assert [r["val_total"] for r in whole.history] == [r["val_total"] for r in split.history]


def test_cancel_stops_within_one_batch_and_keeps_the_last_epoch(tmp_path, digits):
    cancel = threading.Event()
    seen = []

    def on_step(metrics):
        seen.append(metrics.step)
        if metrics.epoch == 1:  # first step report of the second epoch
            cancel.set()

    trainer = prepare_training(
        digits_config(epochs=5), tmp_path / "run", images=digits, on_step=on_step, cancel=cancel
    )
    result = trainer.fit()
    assert result.status == "cancelled" and result.epochs_done == 1
    assert trainer.step == seen[-1]  # no batch ran after the cancel
    assert load_run(tmp_path / "run").epoch == 1


def test_pause_blocks_until_resumed(digits):
    trainer = prepare_training(digits_config(epochs=1), None, images=digits)
    trainer.pause()
    thread = threading.Thread(target=trainer.fit)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive() and trainer.step == 0
    trainer.resume_running()
    thread.join(30)
    assert not thread.is_alive() and trainer.step > 0


def test_non_finite_losses_stop_with_advice_and_keep_saved_epoch(tmp_path, digits):
    folder = tmp_path / "run"
    train(digits_config(epochs=1), folder, images=digits)
    saved = (folder / "model.safetensors").read_bytes()
    trainer = prepare_training(None, folder, resume=True, epochs=3, images=digits)
    original = trainer.model.forward

    def poisoned(x, progress=None):
        terms = original(x, progress)
        return replace(terms, total=terms.total * float("nan"))

    trainer.engine = poisoned
    with pytest.raises(NonFiniteLoss, match="learning rate") as info:
        trainer.fit()
    assert "epoch (1) is kept" in str(info.value)
    assert "enable gradient clipping" in str(info.value)  # off by default: the advice says so
    assert (folder / "model.safetensors").read_bytes() == saved


def test_a_few_non_finite_steps_are_skipped_and_counted(digits):
    trainer = prepare_training(digits_config(epochs=1), None, images=digits)
    original = trainer.model.forward
    calls = {"n": 0}

    def sometimes_nan(x, progress=None):
        calls["n"] += 1
        terms = original(x, progress)
        return replace(terms, total=terms.total * float("nan")) if calls["n"] in (2, 3) else terms

    trainer.engine = sometimes_nan
    result = trainer.fit()
    assert result.status == "completed"
    assert result.history[0]["nonfinite_steps"] == 2
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_dataloader_path_trains_like_the_in_memory_path(digits):
    config = digits_config(epochs=2)
    fast = prepare_training(config, None, images=digits)
    fast.fit()
    slow_config = replace(config, train=replace(config.train, in_memory_limit_mb=0))
    slow = prepare_training(slow_config, None, images=digits)
    slow.fit()
    assert slow.step == fast.step
    for a, b in zip(fast.model.parameters(), slow.model.parameters()):
        torch.testing.assert_close(a, b)


def test_resume_refuses_data_of_another_shape(tmp_path, digits):
    folder = tmp_path / "run"
    train(digits_config(epochs=1), folder, images=digits)
    from latentexplorer.data.sprites import make_sprites

    with pytest.raises(DataError, match="expects"):
        prepare_training(None, folder, resume=True, epochs=2, images=make_sprites(50, size=16))


def test_a_threads_count_set_for_training_survives_another_thread_setting_its_own():
    """torch initialises a thread's count on its first use from the count last set anywhere;
    the trainer's setting must not be undone by a thread that sets one before that first use."""
    from latentexplorer.training.threads import set_thread_count

    ready, other_done, seen = threading.Event(), threading.Event(), []

    def training_thread() -> None:
        set_thread_count(2)
        ready.set()
        other_done.wait(10)
        seen.append(torch.get_num_threads())

    thread = threading.Thread(target=training_thread)
    thread.start()
    ready.wait(10)
    other = threading.Thread(target=lambda: set_thread_count(1))
    other.start()
    other.join()
    other_done.set()
    thread.join()
    assert seen == [2]


def test_by_default_the_optimiser_steps_on_the_gradients_backward_made():
    """No clip unless asked: on 28×28 images the gradient norm is well above the 10 an earlier
    default clipped to, and Adam steps on the gradients as they came."""
    from latentexplorer.data.sprites import make_sprites

    images = make_sprites(512, size=28, seed=1)
    config = RunConfig(model=ModelConfig(latent_dim=8, hidden=(128,), architecture="mlp", image_shape=(1, 28, 28)),
                       train=TrainConfig(epochs=1, batch_size=64, device="cpu"), data=DataConfig(name="sprites"))
    trainer = prepare_training(config, None, images=images)
    params = [p for p in trainer.model.parameters() if p.requires_grad]
    made, stepped = [], []
    for p in params:
        p.register_post_accumulate_grad_hook(lambda p: made.append((id(p), p.grad.norm().item())))
    trainer.optimizer.register_step_pre_hook(
        lambda *_: stepped.extend((id(p), p.grad.norm().item()) for p in params))
    trainer.fit()
    assert len(stepped) == len(params) * trainer.step
    assert sorted(made) == sorted(stepped)
    step_norms = np.array([v for _, v in stepped]).reshape(trainer.step, len(params))
    assert np.sqrt((step_norms**2).sum(axis=1)).max() > 10


def test_gradients_are_clipped_to_the_configured_norm(digits):
    """The last step's gradients (left on the parameters) have the norm the clip allows."""
    config = digits_config(epochs=1)
    config = replace(config, train=replace(config.train, grad_clip=0.5))
    trainer = prepare_training(config, None, images=digits)
    trainer.fit()
    norm = torch.nn.utils.get_total_norm([p.grad for p in trainer.model.parameters()])
    assert 0.45 < float(norm) <= 0.5 + 1e-4
