"""The command line: `latentexplorer [gui|train|sweep|evaluate|encode] ...`.

With no sub-command it opens the GUI on the bundled model. User errors print one
line and exit with status 2; no tracebacks.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path

from latentexplorer import __version__
from latentexplorer.errors import UserError

EXIT_USER_ERROR = 2


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def build_parser() -> argparse.ArgumentParser:
    from latentexplorer.config import ARCHITECTURES, DEVICES, LIKELIHOODS, MODEL_KINDS, PRECISIONS
    from latentexplorer.data import DATASETS

    parser = argparse.ArgumentParser(
        prog="latentexplorer",
        description="Train and explore the latent spaces of autoencoders, VAEs and beta-VAEs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = sub.add_parser("gui", help="open the explorer window (the default)")
    gui.add_argument("run", nargs="?", help="run folder to open (default: the bundled digits VAE)")

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
    model = train.add_argument_group("model")
    model.add_argument("--model", choices=MODEL_KINDS, help="ae, vae, betavae, or the linear pca, fa (default: vae)")
    model.add_argument("--arch", choices=ARCHITECTURES, help="network (auto: conv from 16 px up)")
    model.add_argument("--latent-dim", type=int, help="latent dimensions, 1..128 (default 2)")
    model.add_argument("--hidden", type=_int_list, help="MLP widths, e.g. 512,256")
    model.add_argument("--channels", type=_int_list, help="conv channels per level, e.g. 32,64,64")
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
        help="auto (default): bf16 autocast where the CPU/GPU has native bf16, else fp32",
    )
    train.add_argument("--out", type=Path, help="run folder (default runs/<dataset>-<model>)")
    mode = train.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the run in --out")
    mode.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    evaluate = sub.add_parser("evaluate", help="ELBO, IWAE bound, KL per dimension, MIG of a run")
    evaluate.add_argument("run", help="run folder")
    evaluate.add_argument("--n", type=int, default=2000, help="validation items (default 2000)")
    evaluate.add_argument("--k", type=int, default=100, help="importance samples (default 100)")
    evaluate.add_argument("--ks", type=_int_list, default=(1, 10, 100, 1000),
                          help="importance samples of the IWAE curve, each dividing the largest "
                               "(default 1,10,100,1000)")
    evaluate.add_argument("--curve-n", type=int, default=500,
                          help="items for the IWAE curve, at most --n (default 500)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--candidates", type=int, default=100,
                          help="CLIP runs: captions/images each query ranks (default 100)")
    evaluate.add_argument("--data-root", help="where the run's data live on this machine")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")

    encode = sub.add_parser("encode", help="write mu, log-variance and labels of every item")
    encode.add_argument("run", help="run folder")
    encode.add_argument("--out", type=Path, required=True, help="output .npz")
    encode.add_argument("--data-root", help="where the run's data live on this machine")

    from latentexplorer.sweep_cli import add_sweep_parser

    add_sweep_parser(sub, train)

    desktop = sub.add_parser(
        "install-desktop", help="add LatentExplorer to the desktop menu (Linux, current user)"
    )
    desktop.add_argument("--uninstall", action="store_true", help="remove what install-desktop wrote")
    desktop.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command or "gui"
    try:
        if command == "gui":
            from latentexplorer.gui.app import main as gui_main

            return gui_main(getattr(args, "run", None))
        from latentexplorer.sweep_cli import cmd_sweep

        return {
            "train": cmd_train, "sweep": cmd_sweep, "evaluate": cmd_evaluate, "encode": cmd_encode,
            "install-desktop": cmd_install_desktop,
        }[command](args)
    except UserError as exc:
        print(f"latentexplorer: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


# --- train ---------------------------------------------------------------------------------


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


def cmd_train(args: argparse.Namespace) -> int:
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
        return cmd_fit_linear(config, out, args)
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
            cancel=cancel, dist=dist,
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


def cmd_fit_linear(config, out: Path, args: argparse.Namespace) -> int:
    """PCA / factor analysis: one closed-form fit instead of epochs, into a normal run folder."""
    from latentexplorer.models.linear import LINEAR_MODELS
    from latentexplorer.training.linear_fit import fit_linear_run

    fit = fit_linear_run(config, out, overwrite=args.overwrite)
    model = fit.model
    print(f"fitted {LINEAR_MODELS[config.model.kind].__name__} ({config.model.latent_dim}-d) on "
          f"{config.data.name}: {model.summary()}; val reconstruction "
          f"{-fit.row.get('val_recon', float('nan')):.3f} nats; run folder {out}")
    return 0


# --- evaluate / encode ---------------------------------------------------------------------


def _open_run_and_data(run: str, data_root: str | None):
    from latentexplorer.checkpoint import load_run
    from latentexplorer.data import load_dataset

    opened = load_run(run)
    config = opened.config
    if data_root is not None:
        config = replace(config, data=replace(config.data, root=data_root))
    images = load_dataset(config.data)
    if images.image_shape != config.model.image_shape:
        from latentexplorer.errors import DataError

        raise DataError(
            f"the data have images of shape {images.image_shape}; the model expects "
            f"{config.model.image_shape}"
        )
    return opened, replace(opened.config, data=config.data), images


def cmd_evaluate(args: argparse.Namespace) -> int:
    from latentexplorer.analysis.evaluation import check_ks, evaluate
    from latentexplorer.training.run import split_data

    if args.n < 1 or args.k < 1 or args.curve_n < 1:
        raise UserError("--n, --k and --curve-n must be at least 1")
    ks = check_ks(args.ks)
    run, config, images = _open_run_and_data(args.run, args.data_root)
    _, val = split_data(config, images)
    if config.model.kind == "clip":
        from latentexplorer.analysis.retrieval import print_clip_evaluation

        return print_clip_evaluation(run, val if val is not None else images, args)
    result = evaluate(run.model, val if val is not None else images, n=args.n, k=args.k, seed=args.seed,
                      ks=ks, curve_n=args.curve_n)
    if args.json:
        print(json.dumps({"run": str(run.folder), **result.to_dict()}, indent=2))
    else:
        print(f"run {run.name}: {config.model.kind}, {config.model.latent_dim}-d latent, {config.data.name}")
        print(result.format_table())
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    import numpy as np

    from latentexplorer.analysis.evaluation import encode_all
    from latentexplorer.checkpoint import atomic_write_bytes

    run, _, images = _open_run_and_data(args.run, args.data_root)
    mu, logvar = encode_all(run.model, images)
    arrays = {"mu": mu, "logvar": logvar}
    if images.labels is not None:
        arrays["labels"] = images.labels
    if images.factors is not None:
        arrays["factors"] = images.factors.indices
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    out = args.out if args.out.suffix == ".npz" else args.out.with_suffix(".npz")
    if not out.parent.is_dir():
        raise UserError(f"output folder does not exist: {out.parent}")
    atomic_write_bytes(out, buffer.getvalue())
    print(f"wrote {len(mu)} codes ({mu.shape[1]}-d) to {out}")
    return 0


# --- install-desktop -----------------------------------------------------------------------


def cmd_install_desktop(args: argparse.Namespace) -> int:
    from latentexplorer.desktop import data_home, install_desktop, uninstall_desktop

    data = args.data_dir if args.data_dir is not None else data_home()
    if args.uninstall:
        removed = uninstall_desktop(data)
        for path in removed:
            print(f"removed {path}")
        print("LatentExplorer is no longer in the desktop menu." if removed
              else f"nothing to remove: no LatentExplorer desktop files under {data}")
        return 0
    for path in install_desktop(data):
        print(f"wrote {path}")
    print("LatentExplorer is now in the desktop menu (log out and in if it does not show yet); "
          "`latentexplorer install-desktop --uninstall` removes it.")
    return 0


def gui_main() -> int:
    """Entry point of `latentexplorer-gui` (no console window on Windows): `gui [RUN]`."""
    return main(["gui", *sys.argv[1:2]])


if __name__ == "__main__":
    raise SystemExit(main())
