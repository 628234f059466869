"""How soon the app shows its first picture, against the floor of importing what it is made of.

Alternates, in fresh processes:
  - the floor: `python -c "import torch, PySide6.QtWidgets, pyqtgraph"`: the time until the
    imports are done (the ratio uses this; its wall time to exit, teardown included, is shown);
  - the app as a user starts it (`latentexplorer`, no arguments: the bundled digits VAE),
    offscreen, with LATENTEXPLORER_REPORT_READY=1: the time from launch until the window has
    painted its scatter with the model's points ("ready"), and until the GMM colours are
    painted ("coloured"); the app then quits.
Both are measured from just before the process is spawned. Target: ready ≤ 1.15 × the floor (both with their bytecode cached, as installed).

    python benchmarks/startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 1.15
FLOOR_CODE = "import torch, PySide6.QtWidgets, pyqtgraph"


def app_command() -> list[str]:
    """`latentexplorer` beside this interpreter (the console script a user runs), else -m."""
    script = Path(sys.executable).with_name("latentexplorer")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "latentexplorer"]


def quiet_env(home: Path) -> dict[str, str]:
    """Offscreen Qt, and settings and logs in a scratch folder (the user's stay untouched).

    Bytecode is cached (in the scratch folder) for both sides, as an installed app has it: a
    shell with PYTHONDONTWRITEBYTECODE=1 would otherwise recompile our ~100 modules on every
    start and time the compiler, not the start-up (the warm-up runs fill the cache)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
        "LATENTEXPLORER_LOG_DIR": str(home / "log"),
        "PYTHONPYCACHEPREFIX": str(home / "pycache"),
    })
    return env


def first_start(env: dict[str, str]) -> None:
    """Every start a first start: no saved window geometry, so the window opens at its default
    size (a saved one is clamped to the offscreen screen, and the app then uses less memory)."""
    shutil.rmtree(env["XDG_CONFIG_HOME"], ignore_errors=True)


def floor_times(env: dict[str, str]) -> tuple[float, float]:
    """(seconds until the imports are done, seconds until the process has exited)."""
    code = f"{FLOOR_CODE}; import time; print(time.time(), flush=True)"
    started = time.time()
    result = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                            capture_output=True, text=True)
    exited = time.time()
    return float(result.stdout.split()[-1]) - started, exited - started


def app_times(env: dict[str, str], timeout: float) -> tuple[float, float, int]:
    """(seconds to ready, seconds to coloured, peak RSS bytes) of one start of the app."""
    first_start(env)
    env = {**env, "LATENTEXPLORER_REPORT_READY": "1"}
    started = time.time()
    result = subprocess.run(app_command(), env=env, capture_output=True, text=True, timeout=timeout)
    events = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in ("ready", "coloured"):
            events[parts[0]] = parts[1:]
    if result.returncode != 0 or set(events) != {"ready", "coloured"}:
        raise RuntimeError(f"the app did not report ready and coloured (exit {result.returncode}):\n"
                           f"{result.stdout}\n{result.stderr[-2000:]}")
    ready = float(events["ready"][0]) - started
    coloured = float(events["coloured"][0]) - started
    return ready, coloured, int(events["coloured"][1])


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="alternating pairs (default 5)")
    parser.add_argument("--timeout", type=float, default=180, help="seconds per app start")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="latentexplorer-startup-"))
    try:
        env = quiet_env(home)
        floor_times(env)  # warm the file cache and compile the bytecode, for both
        app_times(env, args.timeout)
        floors, exits, readies, colours = [], [], [], []
        for i in range(args.repeats):
            imported, exited = floor_times(env)
            floors.append(imported)
            exits.append(exited)
            ready, coloured, peak = app_times(env, args.timeout)
            readies.append(ready)
            colours.append(coloured)
            print(f"  run {i + 1}: floor {imported:.2f} s (exit {exited:.2f} s) | app ready {ready:.2f} s, "
                  f"coloured {coloured:.2f} s, peak RSS {peak / 2**20:.0f} MiB", flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    floor, exit_time, ready, coloured = (statistics.median(v) for v in (floors, exits, readies, colours))
    # The verdict pairs each start with the floor measured just before it: this machine's speed
    # drifts between starts (the floor alone spread 1.44–1.81 s in one run), a pair sees one speed.
    pairs = [r / f for r, f in zip(readies, floors)]
    ratio = statistics.median(pairs)
    print(f"floor `python -c \"{FLOOR_CODE}\"`: imports done {floor:.2f} s, exited "
          f"{exit_time:.2f} s (medians of {args.repeats})")
    print(f"app `{' '.join(Path(c).name for c in app_command())}` → window painted with the "
          f"bundled model's points: {ready:.2f} s (median)")
    print(f"GMM colours painted (fitted in a worker after the first picture): {coloured:.2f} s "
          f"(median), {coloured - ready:.2f} s after the first picture")
    print(f"ratio {ratio:.2f}× the floor's imports, median of {len(pairs)} paired ratios "
          f"({', '.join(f'{r:.2f}' for r in pairs)}; ratio of the medians {ready / floor:.2f}) "
          f"(target ≤ {TARGET_RATIO}× {mark(ratio <= TARGET_RATIO)}); {ready / exit_time:.2f}× its wall time to exit")


if __name__ == "__main__":
    main()
