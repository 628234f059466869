"""Does the GUI stay responsive while it trains, and does training in the app keep up with the CLI?

Trains the MLP VAE 784-400-20 (batch 128) on 60,000 synthetic 28×28 images in the real main
window's training tab (offscreen Qt, "follow training" on, as a user would) for about 30 s,
while a 10 ms QTimer heartbeat in the GUI thread records how late it fires. Then runs
`latentexplorer train` on the same configuration and threads in a subprocess, before and
after (the baseline).

    python benchmarks/gui_training.py [--seconds 30] [--threads 2]

Diagnostics: FOLLOW=0 turns "follow training" off; NOPLOT=1 stops the loss plot's redraw timer.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from train_throughput import synthetic_images  # noqa: E402

TRAIN_ARGS = ["--dataset", "npz", "--val-fraction", "0.05", "--model", "vae", "--arch", "mlp",
              "--hidden", "400", "--latent-dim", "20", "--batch-size", "128", "--lr", "1e-3"]


def cli_rate(data: Path, threads: int, epochs: int, tmp: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-m", "latentexplorer", "train", *TRAIN_ARGS, "--data-root", str(data),
         "--epochs", str(epochs), "--threads", str(threads), "--device", "cpu", "--quiet",
         "--out", str(tmp / "cli")],
        capture_output=True, text=True, check=True,
    )
    rates = [float(r.replace(",", "")) for r in re.findall(r"([\d,]+) samples/s", result.stdout)]
    return statistics.mean(rates)


def app_run(data: Path, threads: int, seconds: float, tmp: Path) -> tuple[list[float], list[float]]:
    import torch
    from PySide6.QtCore import QCoreApplication, QElapsedTimer, QTimer

    from latentexplorer.gui.app import create_app, start_window

    torch.set_num_threads(threads)
    app = create_app()
    QCoreApplication.setOrganizationName("LatentExplorerBenchmark")
    window = start_window()  # as the app starts: the bundled run, the heap frozen
    tab = window.training
    tab.warmed_up.wait(60)  # as for a user who opens the app, then fills the form
    tab.follow.setChecked(os.environ.get("FOLLOW", "1") == "1")
    if os.environ.get("NOPLOT"):
        tab.loss_plot.timer.stop()
    form = tab.form
    form.dataset.setCurrentText("npz")
    form.root.setText(str(data))
    form.kind.setCurrentIndex(form.kind.findData("vae"))
    form.arch.setCurrentText("mlp")
    form.hidden.setText("400")
    form.latent.setValue(20)
    form.batch.setValue(128)
    form.lr.setValue(1e-3)
    form.epochs.setValue(1000)
    form.out.setText(str(tmp / "app"))
    rates: list[float] = []
    tab.run = None
    late: list[float] = []
    clock = QElapsedTimer()
    heartbeat = QTimer(interval=10)

    started = time.perf_counter()
    stalls: list[tuple[float, float]] = []
    epoch_times: list[float] = []

    def beat() -> None:
        delay = max(0.0, clock.restart() - heartbeat.interval())
        late.append(delay)
        if delay > 50:
            stalls.append((time.perf_counter() - started, delay))

    heartbeat.timeout.connect(beat)
    assert tab.start(), tab.message.text()
    tab.run.worker.epoch.connect(lambda m, _snapshot: rates.append(m.samples_per_s))
    tab.run.worker.epoch.connect(lambda m, _snapshot: epoch_times.append(time.perf_counter() - started))
    tab.run.worker.started.connect(lambda _c: print(f"worker ready at {time.perf_counter() - started:.2f} s"))
    clock.start()
    heartbeat.start()
    def finish() -> None:
        heartbeat.stop()
        tab.shutdown()  # stop the run first: quitting with a run going asks for confirmation
        app.quit()

    QTimer.singleShot(int(seconds * 1000), finish)
    app.exec()  # the real event loop, as in the app
    print("stalls over 50 ms (s, ms):", [(round(t, 2), round(d)) for t, d in stalls])
    print("epochs ended at (s):", [round(t, 2) for t in epoch_times])
    window.close()
    return late[1:], rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        data = tmp / "synthetic.npz"
        np.savez(data, images=synthetic_images(60_000))
        # The CLI runs before and after the app, so drift in the machine's load hits both.
        epochs = max(2, round(args.seconds / 8))
        before = cli_rate(data, args.threads, epochs, tmp / "before")
        late, rates = app_run(data, args.threads, args.seconds, tmp)
        after = cli_rate(data, args.threads, epochs, tmp / "after")
        baseline = (before + after) / 2
    late_ms = np.asarray(late)
    print(f"{args.seconds:.0f} s of training in the app, {len(late_ms)} heartbeats (10 ms timer)")
    p99, worst = np.percentile(late_ms, 99), late_ms.max()
    print(f"heartbeat stall: median {np.median(late_ms):.1f} ms, p99 {p99:.1f} ms, worst {worst:.1f} ms "
          f"(targets: p99 ≤ 50, worst ≤ 150) {'✓' if p99 <= 50 and worst <= 150 else '✗'}")
    app_rate = statistics.mean(rates) if rates else float("nan")
    print(f"latentexplorer train (CLI) : {baseline:10,.0f} samples/s (before {before:,.0f}, after {after:,.0f})")
    print(f"training tab (app)         : {app_rate:10,.0f} samples/s over {len(rates)} epochs")
    ratio = app_rate / baseline
    print(f"ratio app / CLI            : {ratio:10.2f} (target ≥ 0.85) {'✓' if ratio >= 0.85 else '✗'}")


if __name__ == "__main__":
    main()
