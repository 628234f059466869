"""`latentexplorer open --model MODULE:CLASS --weights FILE [...]`: the explorer on a user's
own PyTorch VAE or autoencoder, with data we have or theirs. The model's flags are defined
here once; `evaluate` and `encode` take them too, in place of a run folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from latentexplorer.cli.common import open_run_and_data
from latentexplorer.errors import UserError
from latentexplorer.models.wrapped import INPUTS, LIKELIHOODS


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("open", help="open the explorer on your own PyTorch model (encode/decode)")
    add_model_arguments(p, with_run=False)
    return p


MODEL_ONLY = ("--plugin", "--model-file", "--init", "--weights", "--data", "--size", "--items", "--image-shape",
              "--input", "--likelihood", "--latent-dim")
"""The flags that describe a user's model and its data; a run folder has its own (--data-root
aside, which says where a run's data live on this machine)."""


def add_model_arguments(parser: argparse.ArgumentParser, with_run: bool = True) -> None:
    """The flags that name a user's model, its weights and its data: one definition, so `open`,
    `evaluate` and `encode` read a model the same way (`check_model`, `check_run_or_model`
    say what is missing). `with_run`: the command also takes a run folder instead."""
    from latentexplorer.data import DATASETS

    parser.add_argument("--model",
                        help="your model's class: PACKAGE.MODULE:CLASS, or MODULE:CLASS with --model-file")
    parser.add_argument("--plugin", help="instead of --model and --weights: a model an installed package "
                                         "registers (entry-point group latentexplorer.models)")
    parser.add_argument("--model-file", type=Path, help="the .py file that defines the class")
    parser.add_argument("--init", help="the constructor's arguments as JSON, e.g. '{\"latent\": 20}'")
    parser.add_argument("--weights", type=Path,
                        help="its state_dict: .safetensors, or .pt/.pth saved with torch.save(model.state_dict(), …)")
    parser.add_argument("--data", choices=DATASETS,
                        help="data source (default: digits, or npz for a .npz --data-root)")
    parser.add_argument("--data-root", help="folder of the torchvision files / images, or the .npz file"
                        + ("; with RUN, where the run's data live on this machine" if with_run else ""))
    parser.add_argument("--size", type=int, help="image size for sprites and image folders")
    parser.add_argument("--items", type=int, help="number of items (a seeded subset; sprites: how many to generate)")
    parser.add_argument("--image-shape", help="C,H,W the model reads (default: the data's)")
    parser.add_argument("--input", choices=INPUTS,
                        help="image: N×C×H×W; flat: N×(C·H·W), as the PyTorch-examples VAE; auto "
                             "(default): try both")
    parser.add_argument("--likelihood", choices=LIKELIHOODS,
                        help="what decode's output parameterises (default bernoulli: logits or probabilities)")
    parser.add_argument("--latent-dim", type=int, help="d, when encode returns one tensor of 2·d (mu, logvar)")


def check_run_or_model(args: argparse.Namespace) -> None:
    """Exactly one of a run folder and --model (with its --weights); the model's flags only
    with --model, so a flag is never silently ignored."""
    if args.run and args.model:
        raise UserError(f"give a run folder or --model, not both (got {args.run} and --model {args.model})")
    if not args.run:
        check_model(args)
    stray = [flag for flag in MODEL_ONLY if getattr(args, flag[2:].replace("-", "_")) is not None]
    if args.run and stray:
        raise UserError(f"{', '.join(stray)} only go with --model: a run folder has its own model and data")


def check_model(args: argparse.Namespace) -> None:
    """--model with its --weights, or --plugin, not both."""
    if args.plugin and (args.model or args.weights):
        raise UserError("give --plugin NAME, or --model and --weights, not both")
    if not args.plugin and not args.model:
        run = "" if getattr(args, "command", "") == "open" else "a run folder, or "
        raise UserError(f"give {run}your own model with --model MODULE:CLASS --weights FILE (or --plugin NAME)")
    if args.model and args.weights is None:
        raise UserError("--model needs --weights FILE (the model's state_dict)")


def open_run_or_model(args: argparse.Namespace):
    """(Run, its config with the data used, the data) for `evaluate` and `encode`: a run folder
    as saved, or the user's model wrapped by `prepare` (an in-memory run, `state["user_model"]`
    its weights file)."""
    check_run_or_model(args)
    if args.run:
        return open_run_and_data(args.run, args.data_root)
    run, images = prepare(args)
    return run, run.config, images


def model_spec(args: argparse.Namespace):
    """The flags as the ModelSpec that the dialog and the plugins also open (`opening.py`)."""
    from latentexplorer.opening import ModelSpec, parse_image_shape

    try:
        init = json.loads(args.init) if args.init else {}
    except json.JSONDecodeError as exc:
        raise UserError(f"--init is not JSON: {exc}") from exc
    if not isinstance(init, dict):
        raise UserError("--init must be a JSON object of keyword arguments, e.g. '{\"latent\": 20}'")
    try:
        shape = parse_image_shape(args.image_shape) if args.image_shape else None
    except UserError:
        raise UserError(f"--image-shape must be C,H,W (e.g. 1,28,28), got {args.image_shape!r}") from None
    return ModelSpec(
        model=args.model or "", weights=str(args.weights) if args.weights else "",
        model_file=str(args.model_file) if args.model_file else None, init=init,
        plugin=getattr(args, "plugin", None), data=args.data, data_root=args.data_root, size=args.size,
        items=args.items, image_shape=shape, input=args.input or "auto",
        likelihood=args.likelihood or "bernoulli", latent_dim=args.latent_dim,
    )


def prepare(args: argparse.Namespace):
    """The user's model wrapped, as an in-memory run, and the data it is explored on."""
    from latentexplorer.opening import open_model

    return open_model(model_spec(args))


def run(args: argparse.Namespace) -> int:
    check_model(args)
    opened = prepare(args)  # every error is said here, before a window opens
    for note in getattr(opened[0].model, "notes", []):
        print(note)
    from latentexplorer.gui.app import main as gui_main

    return gui_main(opened=opened)
