"""Every benchmark, one after the other, then each target with ✓ or ✗.

Each script measures its own baseline in the same run (these machines are noisy); this only
runs them in turn, on a quiet machine, and gathers the lines that carry a verdict.

    python benchmarks/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent

SCRIPTS: list[tuple[str, list[str], list[str]]] = [  # script, arguments, --quick arguments
    ("train_throughput.py", [], ["--quick"]),
    ("interaction.py", ["--million"], ["--repeats", "10"]),
    ("scatter_scale.py", ["--baseline-repeats", "1"], ["--sizes", "70000", "1000000", "--repeats", "3",
                                                       "--baseline-repeats", "1"]),
    ("startup.py", [], []),
    ("memory.py", [], []),
    ("gui_training.py", ["--seconds", "40"], ["--seconds", "20"]),
    ("lasso.py", [], []),
    ("wrapped_click.py", [], []),
    ("atlas.py", [], []),
    ("latent_layers.py", [], []),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--only", nargs="*", help="run only these scripts")
    args = parser.parse_args()
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    verdicts: list[tuple[str, str]] = []
    started = time.perf_counter()
    for script, normal, quick in SCRIPTS:
        if args.only and script not in args.only:
            continue
        if not (HERE / script).exists():
            verdicts.append((script, "✗ missing"))
            continue
        command = [sys.executable, str(HERE / script), *(quick if args.quick else normal)]
        print(f"\n=== {' '.join(command[1:])}", flush=True)
        t = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        assert process.stdout is not None
        for line in process.stdout:
            if "Warning" in line or line.startswith(("  if ", "  elif ")) or "does not support" in line:
                continue  # Qt's offscreen notices and numpy's cast warnings in pyqtgraph
            print(line, end="", flush=True)
            if "✓" in line or "✗" in line:
                verdicts.append((script, line.strip()))
        if process.wait() != 0:
            verdicts.append((script, f"✗ exited with status {process.returncode}"))
        print(f"--- {script}: {time.perf_counter() - t:.0f} s", flush=True)
    print(f"\n=== summary ({time.perf_counter() - started:.0f} s)")
    for script, line in verdicts:
        print(f"{script:22s} {line}")
    missed = sum("✗" in line for _, line in verdicts)
    print(f"{len(verdicts) - missed} met, {missed} missed")


if __name__ == "__main__":
    main()
