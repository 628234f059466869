"""`latentexplorer open --model MODULE:CLASS --weights FILE [...]`: the explorer on a user's
own PyTorch VAE or autoencoder, with data we have or theirs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from latentexplorer.errors import UserError
from latentexplorer.models.wrapped import INPUTS, LIKELIHOODS


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from latentexplorer.data import DATASETS

    p = sub.add_parser("open", help="open the explorer on your own PyTorch model (encode/decode)")
    p.add_argument("--model", required=True,
                   help="the model's class: PACKAGE.MODULE:CLASS, or MODULE:CLASS with --model-file")
    p.add_argument("--model-file", type=Path, help="the .py file that defines the class")
    p.add_argument("--init", help="the constructor's arguments as JSON, e.g. '{\"latent\": 20}'")
    p.add_argument("--weights", type=Path, required=True,
                   help="its state_dict: .safetensors, or .pt/.pth saved with torch.save(model.state_dict(), …)")
    p.add_argument("--data", choices=DATASETS, help="data source (default: digits, or npz for a .npz --data-root)")
    p.add_argument("--data-root", help="folder of the torchvision files / images, or the .npz file")
    p.add_argument("--size", type=int, help="image size for sprites and image folders")
    p.add_argument("--items", type=int, help="number of items (a seeded subset; sprites: how many to generate)")
    p.add_argument("--image-shape", help="C,H,W the model reads (default: the data's)")
    p.add_argument("--input", choices=INPUTS, default="auto",
                   help="image: N×C×H×W; flat: N×(C·H·W), as the PyTorch-examples VAE; auto: try both")
    p.add_argument("--likelihood", choices=LIKELIHOODS, default="bernoulli",
                   help="what decode's output parameterises (bernoulli: logits or probabilities)")
    p.add_argument("--latent-dim", type=int, help="d, when encode returns one tensor of 2·d (mu, logvar)")
    return p


def image_shape(text: str) -> tuple[int, int, int]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise UserError(f"--image-shape must be C,H,W (e.g. 1,28,28), got {text!r}")
    return shape


def prepare(args: argparse.Namespace):
    """The user's model wrapped, as an in-memory run, and the data it is explored on."""
    from latentexplorer.checkpoint import Run
    from latentexplorer.config import DataConfig, RunConfig
    from latentexplorer.data import load_dataset
    from latentexplorer.errors import DataError
    from latentexplorer.models.user_model import load_user_model

    try:
        init = json.loads(args.init) if args.init else {}
    except json.JSONDecodeError as exc:
        raise UserError(f"--init is not JSON: {exc}") from exc
    if not isinstance(init, dict):
        raise UserError("--init must be a JSON object of keyword arguments, e.g. '{\"latent\": 20}'")
    name = args.data or ("npz" if str(args.data_root or "").endswith((".npz", ".npy")) else "digits")
    data = DataConfig(name=name, root=args.data_root, size=args.size, n=args.items)
    images = load_dataset(data)
    shape = image_shape(args.image_shape) if args.image_shape else images.image_shape
    if tuple(images.image_shape) != tuple(shape):
        raise DataError(f"{images.name} has images of shape {images.image_shape}, but the model is "
                        f"said to read {shape}")
    model = load_user_model(args.model, args.weights, image_shape=shape, model_file=args.model_file,
                            init=init, input=args.input, likelihood=args.likelihood,
                            latent_dim=args.latent_dim)
    weights = Path(args.weights).resolve()
    run = Run(folder=weights.parent, config=RunConfig(model=model.config, data=data, name=weights.stem),
              model=model, state={"user_model": str(weights)})
    return run, images


def run(args: argparse.Namespace) -> int:
    opened = prepare(args)  # every error is said here, before a window opens
    for note in getattr(opened[0].model, "notes", []):
        print(note)
    from latentexplorer.gui.app import main as gui_main

    return gui_main(opened=opened)
