"""`latentexplorer train`: train a model (or fit PCA / factor analysis) into a run folder.

Its data, model and training option groups are shared with `sweep`, which copies them and
builds each run's configuration with `config_from_args`, so a sweep's runs are exactly
what `train` would make.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

from latentexplorer.cli.common import int_list
from latentexplorer.errors import UserError

SHARED_GROUPS = ("data", "model", "training")
"""The option groups `sweep` takes over from `train`."""


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    # Deferred: `--version` and `--help` of other sub-commands need no configuration module.
    from latentexplorer.config import (
        ARCHITECTURES,
        BINARIZE_MODES,
        DEVICES,
        LIKELIHOODS,
        MODEL_KINDS,
        PRECISIONS,
        SPLITS,
    )
    from latentexplorer.data import DATASETS

    train = sub.add_parser("train", help="train an autoencoder, VAE or beta-VAE")
    train.add_argument("--config", type=Path, help="JSON file with model/train/data sections")
    data = train.add_argument_group("data")
    data.add_argument("--dataset", choices=DATASETS, help="data source (default: digits)")
    data.add_argument("--data-root", help="folder of the torchvision files / images, or the .npz file")
    data.add_argument("--items", type=int, help="number of items (a seeded subset; sprites: how many to generate)")
    data.add_argument("--size", type=int, help="image size for sprites and image folders")
    data.add_argument("--rgb", action="store_true", help="keep colour when reading an image folder")
    data.add_argument("--full-grid", action="store_true", help="sprites: the full grid of 737,280 images")
    data.add_argument("--val-fraction", type=float, help="share held out for validation (default 0.1)")
    data.add_argument("--binarize", choices=BINARIZE_MODES,
                      help="grey images as 0/1 pixels drawn from their grey level: dynamic (a new draw "
                           "each epoch, Burda et al. 2016), static (one seeded draw), off (default)")
    data.add_argument("--split", choices=SPLITS,
                      help="seeded: hold out --val-fraction (default); standard: the dataset's own "
                           "train/test files (the default for MNIST-family data with --binarize)")
    model = train.add_argument_group("model")
    model.add_argument("--model", choices=MODEL_KINDS, help="ae, vae, betavae, or the linear pca, fa (default: vae)")
    model.add_argument("--arch", choices=ARCHITECTURES, help="network (auto: conv from 16 px up)")
    model.add_argument("--latent-dim", type=int, help="latent dimensions, 1..128 (default 2)")
    model.add_argument("--hidden", type=int_list, help="MLP widths, e.g. 512,256")
    model.add_argument("--channels", type=int_list, help="conv channels per level, e.g. 32,64,64")
    model.add_argument("--likelihood", choices=LIKELIHOODS, help="p(x|z) (default bernoulli)")
    model.add_argument("--sigma", type=float, help="Gaussian likelihood's sigma (initial if learned)")
    model.add_argument("--beta", type=float, help="KL weight (default 1; 4 for betavae)")
    model.add_argument("--warmup", type=float, help="epochs over which the KL weight ramps 0 -> beta")
    model.add_argument("--capacity", type=float, help="target KL in nats (Burgess et al.); 0 = off")
    model.add_argument("--capacity-epochs", type=float, help="epochs over which the capacity grows")
    model.add_argument("--free-bits", type=float, help="KL floor per dimension in nats")
    opt = train.add_argument_group("training")
    opt.add_argument("--epochs", type=int, help="default 20")
    opt.add_argument("--batch-size", type=int, help="default 128")
    opt.add_argument("--lr", type=float, help="Adam learning rate (default 1e-3)")
    opt.add_argument("--grad-clip", type=float, help="clip the gradients' global norm to this value (default 0: no clipping)")
    opt.add_argument("--seed", type=int, help="seed for data split, init and sampling (default 0)")
    opt.add_argument("--device", choices=DEVICES, help="default auto")
    opt.add_argument("--threads", type=int, help="torch CPU threads")
    opt.add_argument(
        "--precision", choices=PRECISIONS,
        help="auto (default): bf16 autocast where a short timed probe (cached per machine and model "
        "shape) finds it at least 1.15x faster than fp32, else fp32; bf16 or fp32 skip the probe",
    )
    train.add_argument("--out", type=Path, help="run folder (default runs/<dataset>-<model>)")
    mode = train.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the run in --out")
    mode.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--no-tensorboard", dest="tensorboard", action="store_false",
                       help="write no TensorBoard events to RUN/tb (written when tensorboard is installed)")
    return train


def config_from_args(args: argparse.Namespace):
    """A RunConfig: defaults, then the --config file, then the options given on the line."""
    from latentexplorer.config import DataConfig, ModelConfig, RunConfig, TrainConfig, kind_defaults
    from latentexplorer.errors import ConfigError

    if args.config is not None:
        if not args.config.is_file():
            raise ConfigError(f"config file not found: {args.config}")
        base = RunConfig.from_json(args.config.read_text(encoding="utf-8"))
    else:
        base = RunConfig()
    model_opts = {
        "kind": args.model, "architecture": args.arch, "latent_dim": args.latent_dim,
        "hidden": args.hidden, "channels": args.channels, "likelihood": args.likelihood,
        "sigma": args.sigma, "beta": args.beta, "warmup_epochs": args.warmup,
        "capacity": args.capacity, "capacity_epochs": args.capacity_epochs, "free_bits": args.free_bits,
    }
    if args.model == "betavae" and args.beta is None and base.model.beta == 1.0:
        model_opts["beta"] = 4.0
    model_opts.update(kind_defaults(args.model or base.model.kind, base.model, model_opts))
    root = args.data_root
    if root is not None and args.dataset in ("folder", "npz", "strokes-npz", None):
        root = str(Path(root).expanduser().resolve())
    data_opts = {
        "name": args.dataset, "root": root, "n": args.items, "size": args.size,
        "grayscale": False if args.rgb else None, "full": True if args.full_grid else None,
        "val_fraction": args.val_fraction, "seed": args.seed,
        "binarize": args.binarize, "split": protocol_split(args.split, args.dataset or base.data.name, args.binarize),
    }
    train_opts = {
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "grad_clip": args.grad_clip, "seed": args.seed, "device": args.device, "threads": args.threads,
        "precision": args.precision,
    }

    def merged(section, cls: type, opts: dict):
        return cls(**{**section.__dict__, **{k: v for k, v in opts.items() if v is not None}})

    return replace(
        base,
        model=merged(base.model, ModelConfig, model_opts),
        data=merged(base.data, DataConfig, data_opts),
        train=merged(base.train, TrainConfig, train_opts),
    )


def protocol_split(split: str | None, dataset: str, binarize: str | None) -> str | None:
    """The split given, else `standard` where --binarize asks for the likelihood papers'
    protocol on data that has its own test set (MNIST: 60,000 to train on, 10,000 to test)."""
    from latentexplorer.data import STANDARD_SPLIT_SETS

    if split is None and binarize in ("static", "dynamic") and dataset in STANDARD_SPLIT_SETS:
        return "standard"
    return split


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from latentexplorer.training import NonFiniteLoss, prepare_training
    from latentexplorer.training.distributed import init_distributed, shutdown_distributed

    config = None if args.resume else config_from_args(args)
    out = args.out
    if out is None:
        if args.resume:
            raise UserError("--resume needs --out RUN_FOLDER")
        out = Path("runs") / f"{config.data.name}-{config.model.kind}"
    if config is not None and config.model.is_linear:
        return fit_linear(config, out, args)
    dist = init_distributed(args.device or "auto")
    cancel = threading.Event()
    bar: tqdm | None = None

    def on_step(m) -> None:
        nonlocal bar
        if not dist.is_main or args.quiet:
            return
        if bar is None:
            bar = tqdm(total=m.epochs * m.steps_per_epoch, unit="step", dynamic_ncols=True)
        bar.update(max(0, m.step - bar.n))
        bar.set_postfix(epoch=m.epoch + 1, loss=f"{m.total:.2f}", kl=f"{m.kl:.2f}", refresh=False)

    def on_epoch(m) -> None:
        if dist.is_main:
            if bar is not None:
                bar.update(max(0, m.step - bar.n))
            line = (
                f"epoch {m.epoch}/{m.epochs}: train loss {m.train_total:.3f}  val loss {m.val_total:.3f}  "
                f"val KL {m.val_kl:.3f}  {m.samples_per_s:,.0f} samples/s"
            )
            (tqdm.write if bar is not None else print)(line)

    def interrupt(signum, frame) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nstopping after this batch (Ctrl-C again to abort)...", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, interrupt)
    fitted = False
    try:
        trainer = prepare_training(
            config, out, resume=args.resume, overwrite=args.overwrite,
            epochs=args.epochs if args.resume else None, on_step=on_step, on_epoch=on_epoch,
            cancel=cancel, dist=dist, tensorboard=args.tensorboard,
            on_note=lambda text: print(text, file=sys.stderr),
        )
        if dist.is_main:
            from latentexplorer.data import describe

            print(
                f"training {trainer.config.model.kind} on {describe(trainer.train_set)} "
                f"({trainer.device.type}, {trainer.precision}) -> {out}"
            )
        try:
            result = trainer.fit()
        except NonFiniteLoss as exc:
            raise UserError(str(exc)) from None
        fitted = True
    finally:
        signal.signal(signal.SIGINT, previous)
        if bar is not None:
            bar.close()
        shutdown_distributed(dist, together=fitted)
    if dist.is_main:
        print(f"{result.status}: {result.message}; run folder {out}")
    return 0 if result.status != "diverged" else 1


def fit_linear(config, out: Path, args: argparse.Namespace) -> int:
    """PCA / factor analysis: one closed-form fit instead of epochs, into a normal run folder."""
    from latentexplorer.models.linear import LINEAR_MODELS
    from latentexplorer.training.linear_fit import fit_linear_run

    fit = fit_linear_run(config, out, overwrite=args.overwrite)
    model = fit.model
    print(f"fitted {LINEAR_MODELS[config.model.kind].__name__} ({config.model.latent_dim}-d) on "
          f"{config.data.name}: {model.summary()}; val reconstruction "
          f"{-fit.row.get('val_recon', float('nan')):.3f} nats; run folder {out}")
    return 0
