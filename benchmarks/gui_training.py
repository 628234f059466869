"""Does the GUI stay responsive while it trains, and does training in the app keep up with the CLI?

Trains the MLP VAE 784-400-20 (batch 128) on 60,000 synthetic 28×28 images in the real main
window's training tab (offscreen Qt, "follow training" on, as a user would) for about 40 s of
training, while a 10 ms QTimer heartbeat in the GUI thread records how late it fires. The
baseline, `latentexplorer train` on the same configuration and threads in a subprocess, runs
between the app's epochs: every second epoch the app's run is paused (its Pause button) while
a 2-epoch CLI run takes the machine, then resumes. This machine's slow spells last tens of
seconds, so a CLI run before and one after the app compared different machines; interleaved,
they hit both sides. Steady-state rates on both sides: the CLI's second epoch, and the app's
epochs other than its first and those a pause fell into. The verdict is the median over the CLI
runs of each one's paired ratio, the mean of the app's steady epochs just before and just after
it over its rate: the machine's speed drifts within a run, and a pair sees one speed. The
medians of the two pools are printed too. Heartbeats count while the app trains.

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
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from train_throughput import synthetic_images  # noqa: E402

TRAIN_ARGS = ["--dataset", "npz", "--model", "vae", "--arch", "mlp",
              "--hidden", "400", "--latent-dim", "20", "--batch-size", "128", "--lr", "1e-3"]


CLI_EVERY = 2  # app epochs between CLI runs (each steady app epoch serves two pairs)


def cli_command(data: Path, threads: int, out: Path) -> list[str]:
    """`latentexplorer train` for 2 epochs: the second one's rate is the baseline."""
    return ["-m", "latentexplorer", "train", *TRAIN_ARGS, "--data-root", str(data), "--epochs", "2",
            "--threads", str(threads), "--device", "cpu", "--quiet", "--overwrite", "--out", str(out)]


def last_epoch_rate(output: str) -> float | None:
    rates = [float(r.replace(",", "")) for r in re.findall(r"([\d,]+) samples/s", output)]
    return rates[-1] if rates else None


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by each thread of this process, keyed "tid name" (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    usage: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else []:
        try:
            name = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        usage[f"{tid} {name}"] = (int(fields[11]) + int(fields[12])) / ticks
    return usage


def paired_ratios(app: dict[int, float], cli: dict[int, float]) -> list[float]:
    """For each CLI run (keyed by the app epoch after which it started): the mean rate of the
    app's steady epochs right before and right after it (the one the pause fell into is not
    steady), over the CLI's rate."""
    ratios = []
    for epoch, rate in sorted(cli.items()):
        around = [app[e] for e in (epoch, epoch + 2) if e in app]
        if around:
            ratios.append(statistics.fmean(around) / rate)
    return ratios


def app_run(data: Path, threads: int, seconds: float, tmp: Path) -> tuple[list[float], dict, dict]:
    """Heartbeat delays (ms) while the app trains, the app's steady-state epoch rates, and the
    CLI's rates measured between them (both keyed by app epoch: the CLI's by the epoch after
    which it ran)."""
    import torch
    from PySide6.QtCore import QCoreApplication, QElapsedTimer, QObject, QTimer, Slot

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
    # The rest as the CLI has them by default: the form starts from the last run's settings.
    form.items.setValue(0)
    form.beta.setValue(1.0)
    form.warmup.setValue(0.0)
    form.capacity.setValue(0.0)
    form.likelihood.setCurrentText("bernoulli")
    form.clip.setValue(0.0)
    form.seed.setValue(0)
    form.epochs.setValue(1000)
    form.out.setText(str(tmp / "app"))
    tab.run = None
    late: list[float] = []
    clock = QElapsedTimer()
    heartbeat = QTimer(interval=10)
    started = time.perf_counter()
    stalls: list[tuple[float, float]] = []
    epoch_times: list[float] = []
    app_rates: dict[int, float] = {}
    cli_rates: dict[int, float] = {}
    disturbed = {1}  # app epochs whose rate is not steady: the first, and those a pause fell into
    state = {"paused": False, "trained": 0.0, "since": started}
    cli: dict[str, Any] = {}  # the running CLI process, and the app epoch it ran after
    poll = QTimer(interval=100)  # a subprocess, polled: QProcess never reported the child's exit here

    def beat() -> None:
        delay = max(0.0, clock.restart() - heartbeat.interval())
        if state["paused"]:
            return
        late.append(delay)
        if delay > 50:
            stalls.append((time.perf_counter() - started, delay))

    def finish() -> None:
        cpu.update({k: v - cpu_before.get(k, 0.0) for k, v in thread_cpu_seconds().items()})
        heartbeat.stop()
        tab.shutdown()  # stop the run first: quitting with a run going asks for confirmation
        app.quit()

    def on_epoch(m, _snapshot) -> None:
        now = time.perf_counter()
        epoch_times.append(now - started)
        if m.epoch not in disturbed:
            app_rates[m.epoch] = m.samples_per_s
        state["trained"] += now - state["since"]
        state["since"] = now
        if state["trained"] >= seconds:
            finish()
        elif m.epoch % CLI_EVERY == 0:
            disturbed.add(m.epoch + 1)  # the next epoch has begun; the pause falls into it
            cli["after"] = m.epoch
            state["paused"] = True
            tab.pause_button.click()
            cli["run"] = subprocess.Popen([sys.executable, *cli_command(data, threads, tmp / "cli")],
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            poll.start()

    def cli_done() -> None:
        run = cli["run"]
        if run.poll() is None:
            return
        poll.stop()
        output = run.stdout.read()
        run.stdout.close()
        rate = last_epoch_rate(output)
        if rate is None:
            print("the CLI run failed:", run.returncode, output[-2000:])
        else:
            cli_rates[cli["after"]] = rate
        state["paused"] = False
        state["since"] = time.perf_counter()
        clock.restart()
        tab.pause_button.click()

    poll.timeout.connect(cli_done)
    heartbeat.timeout.connect(beat)
    cpu: dict[str, float] = {}
    from latentexplorer.gui.tasks import TaskContext

    training_threads: list[int] = []
    send = TaskContext.send

    training_tid: list[int] = []

    def send_counting_threads(context, record) -> None:  # in the training thread, as it sends
        if record[0] == "step":
            training_threads.append(torch.get_num_threads())
            if not training_tid:
                training_tid.append(threading.get_native_id())
        send(context, record)

    TaskContext.send = send_counting_threads
    assert tab.start(), tab.message.text()

    class Relay(QObject):  # a receiver in the GUI thread: the records are queued to it
        @Slot(object)
        def record(self, record) -> None:
            kind, value = record
            if kind == "epoch":
                on_epoch(*value)
            elif kind == "started":
                print(f"worker ready at {time.perf_counter() - started:.2f} s")

    relay = Relay()
    tab.run.yielded.connect(relay.record)
    cpu_before = thread_cpu_seconds()
    clock.start()
    heartbeat.start()
    app.exec()  # the real event loop, as in the app
    print_cpu_split(cpu, threading.get_native_id(), training_tid[0] if training_tid else -1,
                    state["trained"], time.perf_counter() - started)
    print("torch threads in the training thread:", sorted(set(training_threads)))
    print("stalls over 50 ms (s, ms):", [(round(t, 2), round(d)) for t, d in stalls])
    print("epochs ended at (s):", [round(t, 2) for t in epoch_times])
    print("app epochs (samples/s):", {e: round(r) for e, r in app_rates.items()},
          " CLI runs (after app epoch):", {e: round(r) for e, r in cli_rates.items()})
    window.close()
    check_same_configuration(tmp / "app", tmp / "cli")
    return late[1:], app_rates, cli_rates


def print_cpu_split(cpu: dict[str, float], gui_tid: int, training_tid: int, trained_s: float,
                    wall_s: float) -> None:
    """CPU seconds of each thread over the app's run, named by role: the GUI thread, the
    training thread, the OpenMP workers it started (named after it), everything else."""
    def tid(key: str) -> int:
        return int(key.split(" ", 1)[0])

    training_name = next((k.split(" ", 1)[1] for k in cpu if tid(k) == training_tid), None)
    gui = sum(v for k, v in cpu.items() if tid(k) == gui_tid)
    training = sum(v for k, v in cpu.items() if tid(k) == training_tid)
    workers = sum(v for k, v in cpu.items() if tid(k) not in (gui_tid, training_tid)
                  and training_name is not None and k.split(" ", 1)[1] == training_name and v > 0.5)
    other = sum(cpu.values()) - gui - training - workers
    print(f"CPU seconds by thread over the app's {wall_s:.0f} s ({trained_s:.0f} s training, the rest paused "
          f"for the CLI runs): GUI thread {gui:.2f} ({100 * gui / wall_s:.1f} % of a core), training thread "
          f"{training:.1f}, its OpenMP workers {workers:.1f}, other threads {other:.2f}")


def check_same_configuration(app: Path, cli: Path) -> None:
    """The app and the CLI trained the same model the same way. Set aside: epochs and names;
    the device (the CLI's `cpu` is what the app's `auto` resolves to here) and threads (the
    CLI's --threads, the app's from its worker count; the script prints the training thread's
    count); the image size, which a .npz ignores."""
    from dataclasses import replace

    from latentexplorer.checkpoint import read_config

    def essentials(config):
        return replace(config, name="", train=replace(config.train, epochs=1, device="cpu", threads=None),
                       data=replace(config.data, size=None))

    a, c = essentials(read_config(app)), essentials(read_config(cli))
    if a != c:
        raise SystemExit(f"the app and the CLI trained different configurations:\n{a}\n{c}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        data = tmp / "synthetic.npz"
        np.savez(data, images=synthetic_images(60_000))
        late, rates, cli_rates = app_run(data, args.threads, args.seconds, tmp)
    late_ms = np.asarray(late)
    print(f"{args.seconds:.0f} s of training in the app, {len(late_ms)} heartbeats (10 ms timer)")
    p99, worst = np.percentile(late_ms, 99), late_ms.max()
    print(f"heartbeat stall: median {np.median(late_ms):.1f} ms, p99 {p99:.1f} ms, worst {worst:.1f} ms "
          f"(targets: p99 ≤ 50, worst ≤ 150) {'✓' if p99 <= 50 and worst <= 150 else '✗'}")
    app_rate = statistics.median(rates.values()) if rates else float("nan")
    baseline = statistics.median(cli_rates.values()) if cli_rates else float("nan")
    print(f"latentexplorer train (CLI) : {baseline:10,.0f} samples/s (median of {len(cli_rates)} runs "
          f"between the app's epochs)")
    print(f"training tab (app)         : {app_rate:10,.0f} samples/s (median of {len(rates)} epochs; "
          f"ratio of the medians {app_rate / baseline:.2f})")
    pairs = paired_ratios(rates, cli_rates)
    ratio = statistics.median(pairs) if pairs else float("nan")
    print(f"ratio app / CLI            : {ratio:10.2f} (median of {len(pairs)} paired ratios: "
          f"{', '.join(f'{r:.2f}' for r in pairs)}; target ≥ 0.90) {'✓' if ratio >= 0.90 else '✗'}")


if __name__ == "__main__":
    main()
