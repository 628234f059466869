"""`latentexplorer encode RUN --out FILE.npz` (or `--model … --weights …`, a user's own model):
mu, log-variance (and labels, factors) of every item, for analysis outside the app."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from latentexplorer.cli.open_model import add_model_arguments, open_run_or_model
from latentexplorer.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    encode = sub.add_parser("encode", help="write mu, log-variance and labels of every item")
    encode.add_argument("run", nargs="?", help="run folder (or give your own model with --model)")
    encode.add_argument("--out", type=Path, required=True, help="output .npz")
    add_model_arguments(encode)
    return encode


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from latentexplorer.analysis.evaluation import encode_all
    from latentexplorer.checkpoint import atomic_write_bytes

    out = args.out if args.out.suffix == ".npz" else args.out.with_suffix(".npz")
    if not out.parent.is_dir():
        raise UserError(f"output folder does not exist: {out.parent}")
    opened, _, images = open_run_or_model(args)
    for note in getattr(opened.model, "notes", []):
        print(note)
    mu, logvar = encode_all(opened.model, images)
    arrays = {"mu": mu, "logvar": logvar}
    if images.labels is not None:
        arrays["labels"] = images.labels
    if images.factors is not None:
        arrays["factors"] = images.factors.indices
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(out, buffer.getvalue())
    print(f"wrote {len(mu)} codes ({mu.shape[1]}-d) to {out}")
    return 0
