"""Peak memory of the app: on the bundled model, and with a million points loaded and coloured.

Each figure is the peak resident set size (VmHWM) of the app started as a user starts it,
offscreen, with LATENTEXPLORER_REPORT_READY=1: it reports its peak once the GMM colours are
painted, then quits. Baseline in the same run: the peak of a process that only imports
`torch, PySide6.QtWidgets, pyqtgraph`.
  - `latentexplorer` (the bundled digits VAE, 1,797 points). Target ≤ 800 MiB.
  - `latentexplorer gui RUN` on N sprites (default 1,000,000, 28×28, saved as .npz) with a
    small 2-D MLP VAE trained for the purpose on 20,000 of them; the images' own uint8 bytes
    are subtracted. Target ≤ 1.0 GiB.
Sizes are in MiB / GiB (2^20 / 2^30 bytes), as /proc and getrusage count them.

    python benchmarks/memory.py [--n 1000000] [--repeats 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from startup import app_command, first_start, mark, quiet_env  # noqa: E402

MiB = 2**20
BUNDLED_TARGET = 800 * MiB
MILLION_TARGET = 2**30
SIZE = 28
TRAIN_ITEMS = 20_000
# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent through fork
# and exec, so a child of this (large) process would report the parent's peak.
FLOOR_CODE = (
    "import torch, PySide6.QtWidgets, pyqtgraph; from latentexplorer.gui.app import peak_rss_bytes; "
    "print(peak_rss_bytes())"
)


def floor_peak(env: dict[str, str]) -> int:
    result = subprocess.run([sys.executable, "-c", FLOOR_CODE], env=env, check=True,
                            capture_output=True, text=True)
    return int(result.stdout.split()[-1])


def app_peak(env: dict[str, str], args: list[str], timeout: float) -> tuple[int, float]:
    """(peak RSS bytes once coloured, seconds from launch to coloured) of `latentexplorer ARGS`."""
    first_start(env)
    env = {**env, "LATENTEXPLORER_REPORT_READY": "1"}
    started = time.time()
    result = subprocess.run([*app_command(), *args], env=env, capture_output=True, text=True,
                            timeout=timeout)
    for line in result.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "coloured":
            return int(parts[2]), float(parts[1]) - started
    raise RuntimeError(f"the app did not report its colours (exit {result.returncode}):\n"
                       f"{result.stdout}\n{result.stderr[-2000:]}")


def make_million(folder: Path, n: int) -> tuple[Path, Path, int]:
    """(run folder, .npz of n sprites, bytes of their uint8 images), made once per folder."""
    import numpy as np

    from latentexplorer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from latentexplorer.data.sprites import make_sprites
    from latentexplorer.training import train

    data = folder / f"sprites-{n}.npz"
    run = folder / f"sprites-{n}-vae"
    if not data.is_file():
        print(f"generating {n:,} sprites {SIZE}×{SIZE}…", flush=True)
        sprites = make_sprites(n, size=SIZE, seed=0)
        np.savez(data, images=sprites.images[:, 0], labels=sprites.labels,
                 class_names=np.array(sprites.class_names))
        del sprites
    if not (run / "model.safetensors").is_file():
        print(f"training a 2-D MLP VAE on {TRAIN_ITEMS:,} of them…", flush=True)
        config = RunConfig(
            model=ModelConfig(kind="vae", image_shape=(1, SIZE, SIZE), latent_dim=2,
                              architecture="mlp", hidden=(256, 64)),
            data=DataConfig(name="npz", root=str(data), n=TRAIN_ITEMS, val_fraction=0.05),
            train=TrainConfig(epochs=3, batch_size=128, device="cpu"),
        )
        train(config, run, overwrite=True)
        # The run opens on all n items, as a user's run of the whole file would.
        config_file = run / "config.json"
        saved = json.loads(config_file.read_text(encoding="utf-8"))
        saved["data"]["n"] = None
        config_file.write_text(json.dumps(saved, indent=2), encoding="utf-8")
    return run, data, n * SIZE * SIZE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="points of the large case")
    parser.add_argument("--repeats", type=int, default=2, help="starts of each case (default 2)")
    parser.add_argument("--keep", type=Path, help="folder for the generated data and model, kept "
                        "between runs (default: a temporary folder)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per app start")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="latentexplorer-memory-"))
    work = args.keep or scratch
    work.mkdir(parents=True, exist_ok=True)
    try:
        env = quiet_env(scratch)
        run, _, image_bytes = make_million(work, args.n)
        floors, bundled, million, coloured_s = [], [], [], []
        for i in range(args.repeats):
            floors.append(floor_peak(env))
            bundled.append(app_peak(env, [], args.timeout)[0])
            peak, seconds = app_peak(env, ["gui", str(run)], args.timeout)
            million.append(peak)
            coloured_s.append(seconds)
            print(f"  run {i + 1}: floor {floors[-1] / MiB:.0f} MiB | bundled {bundled[-1] / MiB:.0f} MiB"
                  f" | {args.n:,} points {peak / MiB:.0f} MiB (coloured after {seconds:.0f} s)", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    floor, small, large = (statistics.median(v) for v in (floors, bundled, million))
    net = large - image_bytes
    print(f"floor `import torch, PySide6.QtWidgets, pyqtgraph`: peak {floor / MiB:.0f} MiB")
    print(f"bundled model, window shown and coloured: peak {small / MiB:.0f} MiB, "
          f"{(small - floor) / MiB:.0f} MiB above the floor "
          f"(target ≤ {BUNDLED_TARGET / MiB:.0f} MiB {mark(small <= BUNDLED_TARGET)})")
    print(f"{args.n:,} points loaded and coloured: peak {large / MiB:.0f} MiB; minus the images' "
          f"{image_bytes / MiB:.0f} MiB: {net / MiB:.0f} MiB = {net / 2**30:.3f} GiB "
          f"(target ≤ {MILLION_TARGET / 2**30:.1f} GiB {mark(net <= MILLION_TARGET)})")


if __name__ == "__main__":
    main()
