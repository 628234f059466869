"""`latentexplorer sweep`: one run per β (per β and seed with `--seeds`), then the table and
plot of the trade-off, each figure a mean ± 95 % interval over the seeds.

It takes `train`'s data, model and training options (the same parser actions and the same
`config_from_args`), so a sweep's runs are exactly what `train` would make. Its settings
are saved in the sweep folder: a rerun with only `--out` (or nothing, for runs/sweep)
continues it; `--epochs`, `--beta`, `--seeds` and `--jobs` may change on a rerun, the rest may not.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import fields, replace
from pathlib import Path

from latentexplorer.cli import train
from latentexplorer.errors import UserError

RERUN_MAY_CHANGE = {("train", "epochs"), ("train", "threads"), ("train", "device"), ("model", "beta")}


def add_parser(sub: argparse._SubParsersAction, train_parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The `sweep` sub-command, sharing `train_parser`'s data/model/training options (but β)."""
    sweep = sub.add_parser("sweep", help="train one run per beta and plot reconstruction, KL and MIG")
    sweep.add_argument("--config", type=Path, help="JSON file with model/train/data sections")
    for group in train_parser._action_groups:
        if group.title not in train.SHARED_GROUPS:
            continue
        target = sweep.add_argument_group(group.title)
        for action in group._group_actions:
            if action.dest != "beta":
                target._add_action(action)
    sweep.add_argument("--beta", type=float, nargs="+", metavar="BETA",
                       help="the betas, e.g. --beta 1 2 4 8 (needed for a new sweep)")
    sweep.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                       help="train each β once per seed, e.g. --seeds 0 1 2: every figure is then a "
                            "mean ± 95%% Student-t interval over seeds (default: one run, --seed)")
    sweep.add_argument("--out", type=Path, default=Path("runs/sweep"),
                       help="sweep folder, one run folder beta-<β> per β (default runs/sweep)")
    sweep.add_argument("--jobs", type=int, help="runs trained at once, each on cores/jobs threads (default 1)")
    sweep.add_argument("--eval-items", type=int, help="validation items each run is scored on (default 2000)")
    return sweep


def _default_args() -> argparse.Namespace:
    """What a bare `sweep` parses to: a rerun's options are compared with it to tell which
    ones the user gave."""
    parser = argparse.ArgumentParser(prog="latentexplorer")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub, train.add_parser(sub))
    return parser.parse_args(["sweep"])


def sweep_config_from_args(args: argparse.Namespace):
    """The sweep to run: a new one from the options, or the one saved in --out with the
    options a rerun may change applied to it."""
    from latentexplorer.errors import ConfigError
    from latentexplorer.training.sweep_config import SweepConfig, read_sweep_config

    saved = read_sweep_config(args.out)
    line = _run_config(args)
    if saved is None:
        if not args.beta:
            raise UserError(f"{args.out} holds no sweep yet: give the betas, e.g. --beta 1 2 4 8")
        return SweepConfig(run=line, betas=tuple(args.beta), jobs=_given(args.jobs, 1),
                           eval_items=_given(args.eval_items, 2000),
                           seeds=None if args.seeds is None else tuple(args.seeds))
    defaults = _run_config(_default_args())
    run_config = saved.run
    for section in ("model", "data", "train"):
        given, default, kept = (getattr(c, section) for c in (line, defaults, run_config))
        changes = {f.name: getattr(given, f.name) for f in fields(given)
                   if getattr(given, f.name) != getattr(default, f.name)
                   and getattr(given, f.name) != getattr(kept, f.name)}
        refused = sorted(name for name in changes if (section, name) not in RERUN_MAY_CHANGE)
        if refused:
            raise ConfigError(
                f"{args.out} holds a sweep made with other {section} settings ({', '.join(refused)}); "
                "rerun it without those options, or choose another --out"
            )
        run_config = replace(run_config, **{section: replace(kept, **changes)})
    return SweepConfig(
        run=run_config, betas=tuple(args.beta) if args.beta else saved.betas,
        jobs=_given(args.jobs, saved.jobs), eval_items=_given(args.eval_items, saved.eval_items),
        eval_k=saved.eval_k, seeds=tuple(args.seeds) if args.seeds else saved.seeds,
    )


def _given(value, default):
    return default if value is None else value


def _run_config(args: argparse.Namespace):
    """`train`'s configuration from the options; a β-VAE unless --model or --config says otherwise."""
    config = train.config_from_args(argparse.Namespace(**{**vars(args), "beta": None}))
    if args.model is None and args.config is None:
        config = replace(config, model=replace(config.model, kind="betavae"))
    return config


def run(args: argparse.Namespace) -> int:
    from latentexplorer.training.sweep import run_sweep
    from latentexplorer.training.sweep_results import (
        RESULTS_CSV,
        RESULTS_JSON,
        RESULTS_SVG,
        RUNS_CSV,
    )
    from latentexplorer.training.sweep_stats import summarise

    config = sweep_config_from_args(args)
    cancel = threading.Event()

    def interrupt(signum, frame) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nstopping after this batch (Ctrl-C again to abort)...", file=sys.stderr)

    def on_epoch(beta: float, m) -> None:
        print(f"β = {beta:g}: epoch {m.epoch}/{m.epochs}  val loss {m.val_total:.3f}  "
              f"val KL {m.val_kl:.3f}  {m.samples_per_s:,.0f} samples/s", flush=True)

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        result = run_sweep(config, args.out, cancel=cancel, on_event=lambda m: print(m, flush=True),
                           on_epoch=on_epoch)
    finally:
        signal.signal(signal.SIGINT, previous)
    if result.status == "cancelled":
        print(f"stopped; complete epochs are kept. `latentexplorer sweep --out {args.out}` continues the sweep")
        return 0
    if result.status == "failed":
        for outcome in result.outcomes:
            if outcome.status == "diverged":
                print(f"{outcome.label}: {outcome.message}", file=sys.stderr)
        return 1
    points = summarise(result.rows)
    print(f"{'β':>6} {'seeds':>5} {'recon':>17} {'KL':>15} {'ELBO':>17} {'MIG':>13} {'active':>11}")
    for p in points:
        figures = (p.estimate("recon").text(), p.estimate("kl").text(), p.estimate("elbo").text(),
                   p.estimate("mig").text(3), p.estimate("active_units").text(1))
        cells = " ".join(f"{f:>{w}}" for f, w in zip(figures, (17, 15, 17, 13, 11)))
        print(f"{p.beta:>6g} {p.seeds:>5} {cells}")
    if all(p.seeds < 2 for p in points):
        print("one run per β: no intervals (train several seeds with --seeds 0 1 2)")
    else:
        print("mean ± half-width of the 95% Student-t interval over the seeds")
    print(f"wrote {args.out / RESULTS_CSV} (per β), {args.out / RUNS_CSV} (per run), "
          f"{args.out / RESULTS_JSON} and {args.out / RESULTS_SVG}")
    return 0
