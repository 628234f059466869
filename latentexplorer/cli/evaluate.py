"""`latentexplorer evaluate RUN`: ELBO, IWAE bound, KL per dimension and MIG of a run
(retrieval scores for a CLIP run), on its validation split."""

from __future__ import annotations

import argparse
import json

from latentexplorer.cli.common import int_list, open_run_and_data
from latentexplorer.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    evaluate = sub.add_parser("evaluate", help="ELBO, IWAE bound, KL per dimension, MIG of a run")
    evaluate.add_argument("run", help="run folder")
    evaluate.add_argument("--n", type=int, default=2000, help="validation items (default 2000)")
    evaluate.add_argument("--k", type=int, default=100, help="importance samples (default 100)")
    evaluate.add_argument("--ks", type=int_list, default=(1, 10, 100, 1000),
                          help="importance samples of the IWAE curve, each dividing the largest "
                               "(default 1,10,100,1000)")
    evaluate.add_argument("--curve-n", type=int, default=500,
                          help="items for the IWAE curve, at most --n (default 500)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--candidates", type=int, default=100,
                          help="CLIP runs: captions/images each query ranks (default 100)")
    evaluate.add_argument("--data-root", help="where the run's data live on this machine")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    return evaluate


def run(args: argparse.Namespace) -> int:
    from latentexplorer.analysis.evaluation import check_ks, evaluate
    from latentexplorer.training.run import split_data

    if args.n < 1 or args.k < 1 or args.curve_n < 1:
        raise UserError("--n, --k and --curve-n must be at least 1")
    ks = check_ks(args.ks)
    opened, config, images = open_run_and_data(args.run, args.data_root)
    _, val = split_data(config, images)
    if config.model.kind == "clip":
        from latentexplorer.analysis.retrieval import print_clip_evaluation

        return print_clip_evaluation(opened, val if val is not None else images, args)
    result = evaluate(opened.model, val if val is not None else images, n=args.n, k=args.k,
                      seed=args.seed, ks=ks, curve_n=args.curve_n)
    if args.json:
        print(json.dumps({"run": str(opened.folder), **result.to_dict()}, indent=2))
    else:
        print(f"run {opened.name}: {config.model.kind}, {config.model.latent_dim}-d latent, {config.data.name}")
        print(result.format_table())
    return 0
