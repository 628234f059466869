"""The one training loop of the project, used by the CLI, the GUI's training tab and the tests.

Data that fit in memory are batched straight from one uint8 tensor with a shuffled
index per epoch (no per-item DataLoader overhead); larger data go through a
DataLoader. A dataset with a `structured_batch` hook (images with captions) turns each
batch of images into the record its model takes. Each epoch reseeds the RNGs from (seed, epoch), so a run resumed after
epoch k continues exactly as an uninterrupted one would. The forward pass runs
under bf16 autocast where a short probe found it faster (see `precision`);
validation always runs in fp32.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from latentexplorer.checkpoint import (
    HISTORY_FILE,
    OPTIMIZER_FILE,
    STEPS_FILE,
    load_optimizer_state,
    read_csv,
    read_state,
    save_run,
)
from latentexplorer.config import RunConfig
from latentexplorer.data.base import ImageSet, to_float
from latentexplorer.data.binarize import redraw_each_epoch
from latentexplorer.errors import CheckpointError
from latentexplorer.models import LatentModel
from latentexplorer.training.distributed import DistContext
from latentexplorer.training.precision import (
    PrecisionChoice,
    autocast,
    choose_precision,
    fp32_islands,
)
from latentexplorer.training.records import EpochMetrics, NonFiniteLoss, StepMetrics, TrainResult
from latentexplorer.training.run_logs import run_logs
from latentexplorer.training.threads import set_thread_count

STEP_LOG_EVERY = 10
"""Steps between step callbacks and rows of steps.csv."""
log = logging.getLogger("latentexplorer.training")


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA, then Apple's MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CheckpointError("--device cuda was asked for, but no CUDA GPU is available")
    if name == "mps" and not torch.backends.mps.is_available():
        raise CheckpointError("--device mps was asked for, but MPS is not available")
    return torch.device(name)


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Adam with the fused kernel where torch has one for the device (CPU included since 2.4):
    one kernel for all parameters instead of a dozen small ops per tensor."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)


def _structured_batch(images: ImageSet) -> Callable[[torch.Tensor, torch.Tensor], Any] | None:
    """A dataset's hook that turns (item indices, float images) into the batch its model takes,
    e.g. images with their captions' token ids; None for plain images."""
    return getattr(images, "structured_batch", None)


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919) % (2**63 - 1)


class Trainer:
    """Trains `model` on `train_set`, validates on `val_set`, saves to `out` after every epoch.

    Callbacks get plain-float records: `on_step(StepMetrics)` every few steps and
    `on_epoch(EpochMetrics)` after each saved epoch. Setting `cancel` stops within
    one batch (the last complete epoch stays saved); clearing `running` pauses. With a run
    folder, each epoch is also logged to its tb/ (`tensorboard=False`: not) and provenance.json
    is written when the epochs end; `on_note` hears what the user should know once (no TensorBoard).
    """

    def __init__(
        self,
        model: LatentModel,
        config: RunConfig,
        train_set: ImageSet,
        val_set: ImageSet | None = None,
        *,
        out: str | Path | None = None,
        on_step: Callable[[StepMetrics], None] | None = None,
        on_epoch: Callable[[EpochMetrics], None] | None = None,
        cancel: threading.Event | None = None,
        dist: DistContext | None = None,
        tensorboard: bool = True,
        on_note: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.train_set = train_set
        self.val_set = val_set
        self.out = Path(out) if out is not None else None
        self.on_step = on_step
        self.on_epoch = on_epoch
        self.tensorboard, self.on_note = tensorboard, on_note
        self.cancel = cancel or threading.Event()
        self.running = threading.Event()
        self.running.set()
        self.dist = dist or DistContext()
        self.device = resolve_device(config.train.device) if self.dist.device is None else self.dist.device
        self.model = model.to(self.device)
        # The precision in effect, fp32 or bf16 (`auto` measured on this machine), and why.
        self.precision_choice = self._choose_precision()
        self.precision = self.precision_choice.precision
        self._precision_noted = False
        self.engine: nn.Module = self.dist.wrap(self.model)
        self.optimizer = make_optimizer(self.model, config.train.lr, config.train.weight_decay)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.steps_log: list[dict[str, float]] = []

    # -- public -----------------------------------------------------------------------------

    def pause(self) -> None:
        self.running.clear()

    def resume_running(self) -> None:
        self.running.set()

    def restore(self, folder: str | Path) -> None:
        """Continue from a run folder's last complete epoch (weights loaded by the caller)."""
        folder = Path(folder)
        state = read_state(folder)
        self.epoch = int(state.get("epoch", 0))
        self.step = int(state.get("step", 0))
        if self.config.train.precision == "auto" and state.get("precision") in ("fp32", "bf16"):
            # the run goes on as it began, so that the resumed epochs equal uninterrupted ones
            self.precision = state["precision"]
            self.precision_choice = PrecisionChoice(self.precision, "the precision this run began with")
        if (folder / OPTIMIZER_FILE).is_file():
            opt_state, meta = load_optimizer_state(folder / OPTIMIZER_FILE)
            if meta.get("epoch") not in (None, str(self.epoch)):
                raise CheckpointError(
                    f"{folder}: optimizer state is from epoch {meta.get('epoch')}, "
                    f"the run from epoch {self.epoch}; cannot resume exactly"
                )
            try:
                self.optimizer.load_state_dict(opt_state)
            except (ValueError, KeyError) as exc:
                raise CheckpointError(f"{folder}: optimizer state does not fit the model ({exc})") from None
        self.history = [r for r in read_csv(folder / HISTORY_FILE) if r.get("epoch", 0) <= self.epoch]
        self.steps_log = [r for r in read_csv(folder / STEPS_FILE) if r.get("step", 0) <= self.step]

    def fit(self) -> TrainResult:
        """Run the remaining epochs. Raises NonFiniteLoss after too many bad steps in a row."""
        cfg = self.config.train
        if cfg.threads:
            set_thread_count(cfg.threads)
        total_epochs = cfg.epochs
        if self.epoch >= total_epochs:
            return TrainResult("completed", self.epoch, self.step, "nothing to do", self.history)
        batches = self._batcher()
        if self.config.data.binarize == "dynamic":  # a fresh 0/1 draw of every pixel each epoch
            batches = redraw_each_epoch(batches, cfg.seed, self.dist.rank)
        self._note_precision()
        with fp32_islands(self.model, self.precision), run_logs(self, self.tensorboard, self.on_note) as log_epoch:
            while self.epoch < total_epochs:
                metrics = self._train_epoch(batches)
                if metrics is None:
                    return TrainResult(
                        "cancelled", self.epoch, self.step,
                        f"stopped; the last complete epoch ({self.epoch}) is kept", self.history,
                    )
                self.epoch += 1
                self.history.append(metrics.row())
                self._save()
                log_epoch(metrics)
                if self.on_epoch is not None:
                    self.on_epoch(metrics)
        return TrainResult("completed", self.epoch, self.step, "finished", self.history)

    # -- internals --------------------------------------------------------------------------

    def _choose_precision(self) -> PrecisionChoice:
        """The configured precision; `auto` probes one batch's steps each way on a copy of the
        model (see `precision.choose_precision`), and every rank takes bf16 only if all chose it."""
        cfg = self.config.train
        batch = None
        if cfg.precision == "auto" and self.device.type == "cpu" and len(self.train_set):
            if cfg.threads:
                set_thread_count(cfg.threads)  # the probe must time the threads the run will use
            index = np.arange(min(cfg.batch_size, len(self.train_set)))
            batch = self.train_set.float_batch(index).to(self.device)
            if (structured := _structured_batch(self.train_set)) is not None:
                batch = structured(torch.from_numpy(index), batch)
        choice = choose_precision(cfg.precision, self.device, self.model, batch)
        if cfg.precision == "auto" and self.dist.world_size > 1 and not self._all_ranks(choice.precision == "bf16"):
            choice = PrecisionChoice("fp32", "not every rank found bf16 faster")
        return choice

    def _note_precision(self) -> None:
        """Say once, in the run's log, which precision the run trains in and why."""
        if self._precision_noted or not self.dist.is_main:
            return
        self._precision_noted = True
        log.info("%s", self.precision_choice.note())
        if self.on_note is not None:
            self.on_note(self.precision_choice.note())

    def _batcher(self) -> Callable[[int], Iterator[torch.Tensor]]:
        """A function epoch → batches; whole-tensor indexing when the data fit in memory."""
        cfg = self.config.train
        n = len(self.train_set)
        rank, world = self.dist.rank, self.dist.world_size
        structured = _structured_batch(self.train_set)
        if self.train_set.nbytes <= cfg.in_memory_limit_mb * 2**20:
            data = self.train_set.tensor().to(self.device)

            def whole_tensor(epoch: int) -> Iterator[torch.Tensor]:
                generator = torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch))
                order = torch.randperm(n, generator=generator)
                order = order[rank::world][: n // world].to(self.device)
                for start in range(0, len(order), cfg.batch_size):
                    index = order[start : start + cfg.batch_size]
                    # index_select: a plain row gather, an order of magnitude cheaper than data[idx]
                    x = to_float(torch.index_select(data, 0, index))
                    yield x if structured is None else structured(index, x)

            return whole_tensor

        from torch.utils.data import DataLoader, Dataset

        images = self.train_set.images

        class Items(Dataset):
            def __len__(self) -> int:
                return n

            def __getitem__(self, i: int) -> torch.Tensor:
                return torch.from_numpy(np.ascontiguousarray(images[i]))

        def loader(epoch: int) -> Iterator[torch.Tensor]:
            generator = torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch))
            order = torch.randperm(n, generator=generator)[rank::world][: n // world].tolist()
            # Its own generator: the workers' base seed must not consume the global RNG,
            # which drives the reparameterisation noise.
            batches = DataLoader(
                Items(), batch_size=cfg.batch_size, sampler=order, num_workers=2, generator=generator
            )
            for i, batch in enumerate(batches):
                x = to_float(batch.to(self.device))
                if structured is not None:
                    x = structured(torch.tensor(order[i * cfg.batch_size : (i + 1) * cfg.batch_size]), x)
                yield x

        return loader

    def steps_per_epoch(self) -> int:
        per_rank = len(self.train_set) // self.dist.world_size
        return max(1, math.ceil(per_rank / self.config.train.batch_size))

    def _train_epoch(self, batches: Callable[[int], Iterator[torch.Tensor]]) -> EpochMetrics | None:
        cfg = self.config.train
        torch.manual_seed(epoch_seed(cfg.seed, self.epoch) + 1)  # the reparameterisation noise
        self.model.train()
        n_steps = self.steps_per_epoch()
        sums = np.zeros(4)
        window = np.zeros(4)
        window_n = window_items = seen = 0
        bad_in_row = bad_total = 0
        started = window_started = time.perf_counter()
        for i, x in enumerate(batches(self.epoch)):
            if not self._wait_while_paused():
                return None
            progress = self.epoch + i / n_steps
            with autocast(self.device, self.precision):
                terms = self.engine(x, progress)
            # One copy to the host per step: the finiteness check and the running sums share it.
            vals = torch.stack([terms.total, terms.recon, terms.kl, terms.reg]).detach().double().cpu().numpy()
            if not self._all_ranks(bool(np.isfinite(vals).all())):
                bad_in_row += 1
                bad_total += 1
                if bad_in_row >= cfg.max_nonfinite:
                    raise NonFiniteLoss(self._nonfinite_message(bad_in_row))
                continue
            self.optimizer.zero_grad(set_to_none=True)
            terms.total.backward()
            if cfg.grad_clip > 0 and not self._clip_gradients(cfg.grad_clip):
                bad_in_row += 1
                bad_total += 1
                if bad_in_row >= cfg.max_nonfinite:
                    raise NonFiniteLoss(self._nonfinite_message(bad_in_row))
                continue
            self.optimizer.step()
            bad_in_row = 0
            self.step += 1
            sums += vals * len(x)
            seen += len(x)
            window += vals
            window_n += 1
            window_items += len(x)
            if self.step % STEP_LOG_EVERY == 0:
                now = time.perf_counter()
                step = StepMetrics(
                    epoch=self.epoch, step=self.step, progress=progress, total=window[0] / window_n,
                    recon=window[1] / window_n, kl=window[2] / window_n, reg=window[3] / window_n,
                    kl_weight=self._kl_weight(progress),
                    samples_per_s=window_items * self.dist.world_size / max(now - window_started, 1e-9),
                    epochs=cfg.epochs, steps_per_epoch=n_steps,
                )
                self.steps_log.append(step.row())
                if self.on_step is not None:
                    self.on_step(step)
                window[:] = 0
                window_n = window_items = 0
                window_started = now
        seconds = time.perf_counter() - started
        if seen == 0:
            raise NonFiniteLoss(self._nonfinite_message(bad_total))
        train = sums / seen
        val = self.validate()
        return EpochMetrics(
            epoch=self.epoch + 1, step=self.step, train_total=train[0], train_recon=train[1],
            train_kl=train[2], train_reg=train[3], kl_weight=self._kl_weight(self.epoch + 1.0),
            val_total=val["total"], val_recon=val["recon"], val_kl=val["kl"],
            kl_per_dim=val["kl_per_dim"], samples_per_s=seen * self.dist.world_size / max(seconds, 1e-9),
            seconds=seconds, nonfinite_steps=bad_total, epochs=cfg.epochs,
        )

    @torch.no_grad()
    def validate(self, batch_size: int = 1024) -> dict[str, Any]:
        """Loss terms on the validation set (the training set when there is none)."""
        images = self.val_set if self.val_set is not None and len(self.val_set) else self.train_set
        self.model.eval()
        generator_state = torch.get_rng_state()
        torch.manual_seed(epoch_seed(self.config.train.seed, self.epoch) + 2)
        rank, world = self.dist.rank, self.dist.world_size
        index = np.arange(len(images))[rank::world]
        sums = torch.zeros(3, dtype=torch.float64)
        kl_dims = torch.zeros(self.model.latent_dim, dtype=torch.float64)
        count = torch.zeros(1, dtype=torch.float64)
        for start in range(0, len(index), batch_size):
            x = images.float_batch(index[start : start + batch_size]).to(self.device)
            if (structured := _structured_batch(images)) is not None:
                x = structured(torch.from_numpy(index[start : start + batch_size]), x)
            terms = self.model(x, None)
            k = len(x)
            sums += torch.stack([terms.total, terms.recon, terms.kl]).double().cpu() * k
            kl_dims += terms.kl_per_dim.double().cpu() * k
            count += k
        torch.set_rng_state(generator_state)
        sums, kl_dims, count = self.dist.all_reduce_sum(sums, kl_dims, count)
        self.model.train()
        n = max(float(count.item()), 1.0)
        total, recon, kl = (sums / n).tolist()
        return {"total": total, "recon": recon, "kl": kl, "kl_per_dim": (kl_dims / n).numpy()}

    def _wait_while_paused(self) -> bool:
        """Block while paused; False when cancelled."""
        while not self.running.is_set():
            if self.cancel.wait(0.05):
                return False
        return not self.cancel.is_set()

    def _all_ranks(self, ok: bool) -> bool:
        """True when the check passed on every rank: all must skip the same step, or DDP hangs."""
        if self.dist.world_size == 1:
            return ok
        (flag,) = self.dist.all_reduce_min(torch.tensor([float(ok)], dtype=torch.float64))
        return bool(flag.item() > 0)

    def _clip_gradients(self, max_norm: float) -> bool:
        """Scale the gradients down to `max_norm`; False when their norm is not finite.

        The norm is read once on the host for the check, so the scaling pass over
        every gradient is skipped on steps whose norm is already below the limit, and the
        scale is a plain number (`clip_grads_with_norm_`'s tensor arithmetic and grouping
        took ~2.5 % of an MLP step).
        """
        grads = [p.grad for p in self.params if p.grad is not None]
        value = float(nn.utils.get_total_norm(grads, foreach=True))
        if not self._all_ranks(math.isfinite(value)):
            return False
        if value > max_norm:
            scale = max_norm / (value + 1e-6)
            for grad in grads:
                grad.mul_(scale)
        return True

    def _kl_weight(self, progress: float) -> float:
        weight = getattr(self.model, "kl_weight", None)
        return float(weight(progress)) if weight is not None else 0.0

    def _nonfinite_message(self, count: int) -> str:
        cfg = self.config
        hints = [f"lower the learning rate (now {cfg.train.lr:g})"]
        if cfg.model.beta > 1:
            hints.append(f"lower beta (now {cfg.model.beta:g})")
        if cfg.model.likelihood != "bernoulli":
            hints.append("use a fixed-variance or Bernoulli likelihood")
        if cfg.train.grad_clip == 0:
            hints.append("enable gradient clipping (a clip of 10, say)")
        return (
            f"training stopped at epoch {self.epoch + 1}: the loss was NaN or infinite in {count} "
            f"steps in a row. Try to {', or '.join(hints)}. The last complete epoch "
            f"({self.epoch}) is kept."
        )

    def _save(self) -> None:
        if self.out is None or not self.dist.is_main:
            return
        state = {
            "epoch": self.epoch, "step": self.step, "epochs": self.config.train.epochs,
            "precision": self.precision,
        }
        save_run(
            self.out, self.model, self.config, state=state, history=self.history,
            steps=self.steps_log, optimizer=self.optimizer,
        )
