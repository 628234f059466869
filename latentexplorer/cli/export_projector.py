"""`latentexplorer export-projector RUN --out DIR`: μ of every item, its label, GMM component
and factors, and a sprite of the items, as TensorBoard's Embedding Projector and the
standalone projector load them (`tensorboard --logdir DIR`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from latentexplorer.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from latentexplorer.analysis.projector import MAX_ITEMS

    p = sub.add_parser("export-projector",
                       help="write tensors, metadata and a sprite for TensorBoard's Embedding Projector")
    p.add_argument("run", help="run folder")
    p.add_argument("--out", type=Path, required=True, help="output folder (made when missing)")
    p.add_argument("--data-root", help="where the run's data live on this machine")
    p.add_argument("--items", type=int, default=MAX_ITEMS,
                   help=f"items at most; above it a seeded random subset (default {MAX_ITEMS:,})")
    p.add_argument("--k", type=int, default=10,
                   help="components of the GMM whose assignment is a metadata column, as the "
                        "explorer's K (default 10; 0: K by BIC)")
    return p


def run(args: argparse.Namespace) -> int:
    from latentexplorer.analysis.evaluation import encode_all
    from latentexplorer.analysis.projector import export_projector
    from latentexplorer.analysis.view_mixtures import fit_mixtures
    from latentexplorer.cli.common import open_run_and_data

    if args.items < 1 or args.k < 0:
        raise UserError("--items must be at least 1 and --k at least 0")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} exists and is not a folder")
    opened, _, images = open_run_and_data(args.run, args.data_root)
    # Every item is encoded and the GMM fitted on all of them, as the explorer does, so the
    # exported components are the explorer's colours at this K.
    mu, _ = encode_all(opened.model, images)
    gmm = fit_mixtures(mu, args.k or 1, args.k == 0).gmm
    written = export_projector(args.out, mu, images, gmm.labels, max_items=args.items,
                               tensor_name=opened.name)
    for note in written.notes:
        print(f"note: {note}")
    print(f"{written.summary()} (GMM with K = {gmm.k}); view them with `tensorboard --logdir {args.out}`")
    return 0
