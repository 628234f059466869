"""Where one training step of the MLP VAE spends its time, fp32 against bf16 autocast.

The Trainer's own step (forward under autocast with its fp32 islands, the loss read back,
backward, fused Adam) on one batch of 128 synthetic 28×28 images, timed (best of 7 blocks of
50 steps, the two sides alternated) and then profiled with `torch.profiler` (self CPU time per op over 50 steps), and the
two linear layers that dominate it alone in each dtype: what a bf16 matmul saves against what
the casts around it cost.

    python benchmarks/train_profile.py [--threads 2] [--rows 14]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.nn import functional as F
from torch.profiler import ProfilerActivity, profile
from train_throughput import BATCH, cpu_name, mlp_model, mm_peak, synthetic_images

from latentexplorer.config import DataConfig, RunConfig, TrainConfig
from latentexplorer.data.base import ImageSet
from latentexplorer.training import prepare_training
from latentexplorer.training.precision import autocast, fp32_islands


def trainer_step(precision: str, threads: int):
    """A Trainer in `precision` and a function that runs one of its training steps."""
    config = RunConfig(
        model=mlp_model(), data=DataConfig(name="npz"),
        train=TrainConfig(epochs=1, batch_size=BATCH, device="cpu", threads=threads, precision=precision),
    )
    trainer = prepare_training(config, None, images=ImageSet(synthetic_images(2 * BATCH), "synthetic"))
    x = trainer.train_set.float_batch(np.arange(BATCH))

    def step() -> None:
        with autocast(trainer.device, trainer.precision):
            terms = trainer.engine(x, 0.5)
        torch.stack([terms.total, terms.recon, terms.kl, terms.reg]).detach().double().cpu().numpy()
        trainer.optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        trainer.optimizer.step()

    return trainer, step


def best_ms(step, blocks: int = 7, steps: int = 50) -> float:
    times = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - start) / steps)
    return min(times) * 1e3


def linear_us(n: int, k: int, m: int, dtype: torch.dtype) -> float:
    x, w = torch.randn(n, k).to(dtype), torch.randn(m, k).to(dtype)
    for _ in range(20):
        F.linear(x, w)
    start = time.perf_counter()
    for _ in range(200):
        F.linear(x, w)
    return (time.perf_counter() - start) / 200 * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", type=int, default=14)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fp32_peak, bf16_peak = mm_peak(torch.float32), mm_peak(torch.bfloat16)
    print(f"torch {torch.__version__}, {cpu_name()}, {args.threads} threads; torch.mm 1024³ peak: fp32 "
          f"{fp32_peak:,.0f}, bf16 {bf16_peak:,.0f} GFLOP/s ({bf16_peak / fp32_peak:.1f}×)")
    steps = {precision: trainer_step(precision, args.threads) for precision in ("fp32", "bf16")}
    best = dict.fromkeys(steps, float("inf"))
    for block in range(8):  # the two sides' blocks alternated: a busy spell hits both alike
        for precision, (trainer, step) in steps.items() if block % 2 else reversed(steps.items()):
            with fp32_islands(trainer.model, precision):
                best[precision] = min(best[precision], best_ms(step, blocks=1) if block else best_ms(step, 1, 20))
    for precision, (trainer, step) in steps.items():
        with fp32_islands(trainer.model, precision), profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(50):
                step()
        print(f"\n{precision}: {best[precision]:.2f} ms per step (best of 7 blocks of 50, alternated); "
              "top ops over 50 steps:")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=32))
    ms = best
    print(f"bf16 step speed-up: {ms['fp32'] / ms['bf16']:.2f}×")
    for n, k, m in ((BATCH, 784, 400), (BATCH, 400, 784)):
        a, b = linear_us(n, k, m, torch.float32), linear_us(n, k, m, torch.bfloat16)
        print(f"linear {n}×{k} → {m}: fp32 {a:.0f} µs, bf16 {b:.0f} µs ({a / b:.1f}×)")


if __name__ == "__main__":
    main()
