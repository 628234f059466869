"""Training throughput: our Trainer against the canonical PyTorch-examples VAE loop, and its fast path.

All in one process, the sides alternated (the MLP runs epoch by epoch) so that machine noise
hits every side alike:

1. peaks: `torch.mm` fp32 and bf16 GFLOP/s on this machine, the roofs for what follows;
2. the MLP VAE 784-400-20 (batch 128, Adam 1e-3, 60,000 synthetic 28×28 images, same torch
   threads, 3 epochs): the canonical DataLoader loop (fp32) against our Trainer run as
   `latentexplorer train` runs it (10 % validation split, validation, callbacks and the
   per-epoch save all inside the timed span) in fp32 and with the default precision
   (`auto`: bf16 autocast where a start-up probe finds it ≥ 1.15× faster, else fp32);
   samples/s, ratios (default ≥ 1.5× the canonical loop where the bf16 peak is ≥ 3× the
   fp32 peak, else ≥ 1.1×), and the matmul GFLOP/s each side achieves against the peaks;
3. `torch.compile` of the model, cold compile time counted;
4. quality: the final validation ELBO after 10 epochs, fp32 against bf16, paired by seed
   (3 seeds): the mean gap (target ≤ 0.3 %);
5. the conv VAE on 32×32 images against a plain loop of the same network, with and
   without channels_last.

    python benchmarks/train_throughput.py [--epochs 3] [--n 60000] [--threads 2] [--repeats 3]
                                          [--quality-epochs 10] [--parts mlp,compile,quality,conv] [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from latentexplorer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from latentexplorer.data.base import ImageSet
from latentexplorer.models import build_model
from latentexplorer.training import prepare_training
from latentexplorer.training.precision import native_bf16

TARGET_FP32 = 1.10
TARGET_FAST = 1.50
BF16_PEAK_RATIO = 3.0  # bf16 peak / fp32 peak from which TARGET_FAST applies
TARGET_ELBO = 0.003
BATCH = 128
MLP_WIDTHS = [(784, 400), (400, 40), (20, 400), (400, 784)]
"""In/out of each linear layer of the MLP VAE (the encoder's 40 = μ and log σ² of 20 dims)."""
MLP_TRAIN_FLOPS = 3 * 2 * sum(a * b for a, b in MLP_WIDTHS)
"""Matmul FLOPs per training sample: forward 2·Σ(in·out), backward about twice that."""


def synthetic_images(n: int, seed: int = 0, size: int = 28) -> np.ndarray:
    """Blurry random blobs as uint8 images: MNIST-like sparsity without a download."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    scale = size / 28
    cy, cx = rng.uniform(8 * scale, 20 * scale, (2, n, 1, 1))
    r = rng.uniform(3 * scale, 8 * scale, (n, 1, 1))
    images = (np.hypot(yy - cy, xx - cx) < r) * 255
    return images.astype(np.uint8)[:, None]


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def alternate(sides: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Each side once per round, the order rotated every round, so a busy spell on this shared
    machine does not always fall on the same side."""
    rates: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for round_ in range(repeats):
        for name in names[round_ % len(names):] + names[: round_ % len(names)]:
            rates[name].append(sides[name]())
    return rates


# --- the baseline ------------------------------------------------------------------------


class CanonicalVAE(nn.Module):
    """pytorch/examples vae/main.py, verbatim in structure."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


class CanonicalRun:
    """The canonical loop, one epoch per call: DataLoader over a TensorDataset, shuffle=True."""

    def __init__(self, images: np.ndarray) -> None:
        torch.manual_seed(0)
        self.model = CanonicalVAE()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loader = DataLoader(
            TensorDataset(torch.from_numpy(images).float() / 255), batch_size=BATCH, shuffle=True
        )
        self.items = len(images)

    def epoch(self) -> float:
        """Seconds for one epoch."""
        model, optimizer = self.model, self.optimizer
        model.train()
        start = time.perf_counter()
        for (data,) in self.loader:
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            bce = F.binary_cross_entropy(recon, data.view(-1, 784), reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            (bce + kld).backward()
            optimizer.step()
        return time.perf_counter() - start


# --- ours --------------------------------------------------------------------------------


@dataclass
class Ours:
    samples_per_s: float
    seconds: float
    precision: str
    history: list[dict[str, float]]


def cli_callbacks() -> tuple[Callable, Callable]:
    """Callbacks doing what the CLI's do with each report (formatting a line), minus the terminal."""
    lines: list[str] = []

    def on_step(m) -> None:
        lines.append(f"epoch={m.epoch + 1} loss={m.total:.2f} kl={m.kl:.2f}")

    def on_epoch(m) -> None:
        lines.append(f"epoch {m.epoch}/{m.epochs}: train loss {m.train_total:.3f}  val loss {m.val_total:.3f}")

    return on_step, on_epoch


def run_ours(
    images: np.ndarray, model: ModelConfig, epochs: int, threads: int, precision: str,
    prepare: Callable | None = None, seed: int = 0,
) -> Ours:
    """Train as `latentexplorer train` does (its default validation split, a run folder saved
    every epoch, the progress callbacks); samples/s = training items / wall time of `fit()`,
    `prepare(trainer)` (a compile, a layout change) included."""
    run = TrainerRun(images, model, threads, precision, epochs, seed)
    try:
        start = time.perf_counter()
        if prepare is not None:
            prepare(run.trainer)
        run.trainer.fit()
        seconds = time.perf_counter() - start
    finally:
        run.close()
    return Ours(run.items * epochs / seconds, seconds, run.trainer.precision, run.trainer.history)


class TrainerRun:
    """Our Trainer set up as `latentexplorer train` sets it up, for `epochs` epochs; `epoch()`
    instead runs one more epoch per call (the run's epoch count raised by one each time; each
    epoch reseeds from (seed, epoch), so the epochs are those of one uninterrupted run).
    Validation, callbacks and the save of every epoch are inside the timed span."""

    def __init__(self, images: np.ndarray, model: ModelConfig, threads: int, precision: str,
                 epochs: int = 1, seed: int = 0) -> None:
        self.folder = tempfile.TemporaryDirectory()
        on_step, on_epoch = cli_callbacks()
        config = RunConfig(
            model=model,
            train=TrainConfig(epochs=epochs, batch_size=BATCH, lr=1e-3, device="cpu", threads=threads,
                              precision=precision, seed=seed),
            data=DataConfig(name="npz"),
        )
        self.trainer = prepare_training(
            config, Path(self.folder.name) / "run", images=ImageSet(images, "synthetic"),
            on_step=on_step, on_epoch=on_epoch,
        )
        self.items = len(self.trainer.train_set)

    def epoch(self) -> float:
        """Seconds for one more epoch."""
        trainer = self.trainer
        train = replace(trainer.config.train, epochs=trainer.epoch + 1)
        trainer.config = replace(trainer.config, train=train)
        start = time.perf_counter()
        trainer.fit()
        return time.perf_counter() - start

    def close(self) -> None:
        self.folder.cleanup()


def interleaved(sides: dict[str, Callable[[], Any]], epochs: int, repeats: int) -> dict[str, list[float]]:
    """samples/s of each side per round. Every round starts a fresh run of each side, then runs
    their epochs in turn, one epoch of each, the order rotated every epoch: the slow spells of
    this shared machine last seconds, longer than a 3-epoch block could average out, and here
    they fall on every side's epochs alike."""
    names = list(sides)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        runs = {name: make() for name, make in sides.items()}
        seconds = dict.fromkeys(names, 0.0)
        for epoch in range(epochs):
            turn = (round_ * epochs + epoch) % len(names)
            for name in names[turn:] + names[:turn]:
                seconds[name] += runs[name].epoch()
        for name, run in runs.items():
            rates[name].append(run.items * epochs / seconds[name])
            if hasattr(run, "close"):
                run.close()
    return rates


def mlp_model() -> ModelConfig:
    return ModelConfig(image_shape=(1, 28, 28), latent_dim=20, hidden=(400,), architecture="mlp")


def conv_model(size: int) -> ModelConfig:
    return ModelConfig(image_shape=(1, size, size), latent_dim=10, architecture="conv")


# --- peaks -------------------------------------------------------------------------------


def mm_peak(dtype: torch.dtype, n: int = 1024, seconds: float = 1.0) -> float:
    """Best GFLOP/s of an n×n×n `torch.mm` over about `seconds` (best, not mean: the roof)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    for _ in range(3):
        torch.mm(a, b)
    best, deadline = math.inf, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b)
        best = min(best, (time.perf_counter() - start) / 4)
    return 2 * n**3 / best / 1e9


# --- torch.compile, conv, channels_last --------------------------------------------------


def compile_engine(trainer) -> None:
    trainer.engine = torch.compile(trainer.model)


def channels_last(trainer) -> None:
    """The model's conv weights and every batch in NHWC, the layout oneDNN's kernels prefer."""
    model = trainer.model.to(memory_format=torch.channels_last)
    trainer.engine = lambda x, progress: model(x.contiguous(memory_format=torch.channels_last), progress)


def plain_conv_epochs(images: np.ndarray, model: ModelConfig, epochs: int) -> float:
    """samples/s of a plain loop over the same conv VAE: DataLoader, Adam, `loss.backward()`."""
    torch.manual_seed(0)
    net = build_model(model)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(torch.from_numpy(images).float() / 255), batch_size=BATCH, shuffle=True)
    start = time.perf_counter()
    for _ in range(epochs):
        for (x,) in loader:
            optimizer.zero_grad()
            net(x, None).total.backward()
            optimizer.step()
    return len(images) * epochs / (time.perf_counter() - start)


def fresh_compile_cache() -> tempfile.TemporaryDirectory:
    """An empty inductor cache, so the compile is cold as on a user's first run."""
    cache = tempfile.TemporaryDirectory()
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache.name
    torch._dynamo.reset()
    return cache


# --- main --------------------------------------------------------------------------------


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return "unknown CPU"


def mlp_section(images: np.ndarray, args: argparse.Namespace, default: str) -> tuple[float, float]:
    """Canonical loop, Trainer fp32 and Trainer default in alternating rounds; returns the
    canonical and default rates for the sections after it."""
    fp32_peak, bf16_peak = mm_peak(torch.float32), mm_peak(torch.bfloat16)
    rates = interleaved({
        "canonical": lambda: CanonicalRun(images),
        "fp32": lambda: TrainerRun(images, mlp_model(), args.threads, "fp32"),
        "default": lambda: TrainerRun(images, mlp_model(), args.threads, "auto"),
    }, args.epochs, args.repeats)
    base, fast = statistics.median(rates["canonical"]), statistics.median(rates["default"])
    fp32_ratio, fast_ratio = (
        statistics.median(a / b for a, b in zip(rates[k], rates["canonical"])) for k in ("fp32", "default")
    )
    # The roofs again after the loops, the better of the two: a busy moment lowers a peak.
    fp32_peak, bf16_peak = max(fp32_peak, mm_peak(torch.float32)), max(bf16_peak, mm_peak(torch.bfloat16))
    print(f"peak torch.mm 1024³ (best before/after): fp32 {fp32_peak:,.0f} GFLOP/s, bf16 {bf16_peak:,.0f} GFLOP/s")

    def line(name: str, key: str) -> str:
        rate = statistics.median(rates[key])
        gflops = rate * MLP_TRAIN_FLOPS / 1e9
        rounds = " ".join(f"{r / 1000:.1f}k" for r in rates[key])
        return (f"{name:34s}: {rate:9,.0f} samples/s  {gflops:6.1f} GFLOP/s of matmuls "
                f"= {gflops / fp32_peak:4.0%} of the fp32 peak, {gflops / bf16_peak:4.0%} of the bf16 peak "
                f"(rounds: {rounds})")

    print(f"\nMLP VAE 784-400-20, {args.n:,} images 28x28, batch {BATCH}, {args.epochs} epochs, "
          f"medians of {args.repeats} rounds, the sides' epochs interleaved (ratios: medians of each "
          f"round's ratio)")
    print(line("canonical DataLoader loop (fp32)", "canonical"))
    print(line("Trainer, fp32", "fp32"))
    print(line(f"Trainer, default ({default})", "default"))
    print(f"  {mark(fp32_ratio >= TARGET_FP32)} Trainer fp32 / canonical     {fp32_ratio:5.2f}x "
          f"(target ≥ {TARGET_FP32:.2f}x)")
    # bf16 can only pay where its matmuls are much faster than fp32's: the target applies where
    # the bf16 peak is ≥ 3× the fp32 peak; elsewhere the default (fp32 by the probe) must keep
    # the fp32 Trainer's lead.
    target = TARGET_FAST if bf16_peak >= BF16_PEAK_RATIO * fp32_peak else TARGET_FP32
    print(f"  {mark(fast_ratio >= target)} Trainer default / canonical  {fast_ratio:5.2f}x "
          f"(target ≥ {target:.2f}x: bf16 peak {bf16_peak / fp32_peak:.1f}× fp32's)")
    return base, fast


def compile_section(images: np.ndarray, args: argparse.Namespace, base: float, fast: float) -> None:
    cache = fresh_compile_cache()
    try:
        compiled = run_ours(images, mlp_model(), args.epochs, args.threads, "auto", prepare=compile_engine)
        print(f"torch.compile, default precision, cold compile counted: {compiled.samples_per_s:9,.0f} "
              f"samples/s in {compiled.seconds:.1f} s; {compiled.samples_per_s / base:.2f}x canonical, "
              f"{compiled.samples_per_s / fast:.2f}x the eager default")
    except Exception as exc:  # noqa: BLE001 - any compiler failure is reported, not fatal
        print(f"torch.compile: skipped ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
    finally:
        cache.cleanup()


def quality_section(images: np.ndarray, args: argparse.Namespace, default: str) -> None:
    """The condition for bf16 where the probe picks it: the same final validation ELBO as fp32
    (bf16 asked for explicitly, whatever `auto` picks here). One seed's gap is mostly the two
    runs' different trajectories (the fp32 ELBO itself moves ~6 % from seed to seed), so the
    verdict is the mean gap over seeds, each seed's runs paired."""
    if not native_bf16(torch.device("cpu")):
        run = run_ours(images, mlp_model(), args.quality_epochs, args.threads, "fp32")
        print(f"\nquality: no native bf16 on this machine (val ELBO {run.history[-1]['val_elbo']:.3f}); "
              "nothing to compare")
        return
    gaps, lines = [], []
    for seed in range(args.quality_seeds):
        elbo = {precision: run_ours(images, mlp_model(), args.quality_epochs, args.threads, precision,
                                    seed=seed).history[-1]["val_elbo"] for precision in ("fp32", "bf16")}
        gaps.append((elbo["fp32"] - elbo["bf16"]) / abs(elbo["fp32"]))  # > 0: bf16 worse
        lines.append(f"seed {seed}: fp32 {elbo['fp32']:.3f}, bf16 {elbo['bf16']:.3f} ({gaps[-1]:+.2%})")
    mean = statistics.fmean(gaps)
    print(f"\nquality: val ELBO after {args.quality_epochs} epochs ({len(images):,} images): " + "; ".join(lines))
    print(f"  {mark(mean <= TARGET_ELBO)} bf16's ELBO gap, mean of {len(gaps)} seeds: {mean:+.2%} "
          f"(target ≤ {TARGET_ELBO:.1%})")


def conv_section(args: argparse.Namespace, default: str, size: int = 32, epochs: int = 2) -> None:
    images = synthetic_images(args.conv_n, seed=2, size=size)
    rates = alternate({
        "plain": lambda: plain_conv_epochs(images, conv_model(size), epochs),
        "default": lambda: run_ours(images, conv_model(size), epochs, args.threads, "auto").samples_per_s,
        "channels_last": lambda: run_ours(
            images, conv_model(size), epochs, args.threads, "auto", prepare=channels_last
        ).samples_per_s,
    }, args.repeats)
    plain, ours, nhwc = (statistics.median(rates[k]) for k in ("plain", "default", "channels_last"))
    ours_ratio, nhwc_ratio, layout_ratio = (
        statistics.median(a / b for a, b in zip(rates[x], rates[y]))
        for x, y in (("default", "plain"), ("channels_last", "plain"), ("channels_last", "default"))
    )
    print(f"\nconv VAE {size}x{size} (channels 32,64,64), {args.conv_n:,} images, {epochs} epochs")
    print(f"{'plain loop over the same net (fp32)':38s}: {plain:9,.0f} samples/s")
    print(f"{'Trainer, default (' + default + ')':38s}: {ours:9,.0f} samples/s  "
          f"{mark(ours_ratio >= 1.0)} {ours_ratio:.2f}x the plain loop (target ≥ 1.00x)")
    print(f"{'Trainer, default + channels_last':38s}: {nhwc:9,.0f} samples/s  "
          f"{nhwc_ratio:.2f}x the plain loop, {layout_ratio:.2f}x without channels_last")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n", type=int, default=60_000)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds; medians reported")
    parser.add_argument("--quality-epochs", type=int, default=10)
    parser.add_argument("--quality-seeds", type=int, default=3, help="paired fp32/bf16 runs, one per seed")
    parser.add_argument("--quality-n", type=int, help="items for the quality check (default: --n)")
    parser.add_argument("--conv-n", type=int, default=12_800, help="32×32 items for the conv VAE")
    parser.add_argument(
        "--parts", help="comma-separated parts to run: mlp, compile, quality, conv (default all; "
        "--quick leaves out compile, which takes about a minute)",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: small sets, one round (its figures are not the targets')")
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeats, args.quality_n, args.conv_n, args.quality_epochs = 6_000, 1, 3_000, 1_500, 3
        args.quality_seeds = 1
    torch.set_num_threads(args.threads)
    from latentexplorer.training.precision import PROBES_KEPT

    for _ in range(PROBES_KEPT):  # a user's first runs probe; the timed ones are the runs after
        probe = TrainerRun(synthetic_images(2 * BATCH), mlp_model(), args.threads, "auto")
        probe.close()
    default = probe.trainer.precision
    print(f"torch {torch.__version__}, {cpu_name()}, {args.threads} threads; default (auto) for the MLP "
          f"here: {probe.trainer.precision_choice.note()}")
    parts = set((args.parts or ("mlp,quality,conv" if args.quick else "mlp,compile,quality,conv")).split(","))
    images = synthetic_images(args.n)
    if parts & {"mlp", "compile"}:
        base, fast = mlp_section(images, args, default)
        if "compile" in parts:
            compile_section(images, args, base, fast)
    if "quality" in parts:
        quality_n = args.quality_n or args.n
        quality_section(images if quality_n == args.n else synthetic_images(quality_n), args, default)
    if "conv" in parts:
        conv_section(args, default)


if __name__ == "__main__":
    main()
