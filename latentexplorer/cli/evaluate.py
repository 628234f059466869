"""`latentexplorer evaluate RUN` (or `--model … --weights …`, a user's own model): ELBO, IWAE
bound, KL per dimension and MIG (retrieval scores for a CLIP run), on a validation split."""

from __future__ import annotations

import argparse
import json
import time

from latentexplorer.cli import nll
from latentexplorer.cli.common import int_list
from latentexplorer.cli.open_model import add_model_arguments, open_run_or_model
from latentexplorer.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    evaluate = sub.add_parser("evaluate", help="ELBO, IWAE bound, KL per dimension, MIG of a run or your model")
    evaluate.add_argument("run", nargs="?", help="run folder (or give your own model with --model)")
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
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    nll.add_arguments(evaluate)
    add_model_arguments(evaluate)
    return evaluate


def run(args: argparse.Namespace) -> int:
    from latentexplorer.analysis.evaluation import check_ks, evaluate
    from latentexplorer.training.run import split_data

    if args.n < 1 or args.k < 1 or args.curve_n < 1:
        raise UserError("--n, --k and --curve-n must be at least 1")
    ks = check_ks(args.ks)
    opened, config, images = open_run_or_model(args)
    if nll.wanted(args):  # --iwae-k / --test: −log p(x), the likelihood papers' protocol
        return nll.run(args, opened, config, images)
    # A user's model is split as a run on the same data would be (same seed, same fraction), so
    # its figures compare with our runs'; but it was not trained on our split, so it may have
    # seen these items: the output says so.
    _, val = split_data(config, images)
    items = val if val is not None else images
    if config.model.kind == "clip":
        from latentexplorer.analysis.retrieval import print_clip_evaluation

        return print_clip_evaluation(opened, items, args)
    started = time.perf_counter()
    result = evaluate(opened.model, items, n=args.n, k=args.k, seed=args.seed, ks=ks, curve_n=args.curve_n)
    user = "user_model" in opened.state
    subset = (f"a seeded {config.data.val_fraction:.0%} subset of {config.data.name} (seed "
              f"{config.data.seed}, {len(items):,} of {len(images):,} items, as a run's validation split; "
              "your model has no training split of ours, so it may have seen them)")
    if args.json:
        source = {"run": str(opened.folder)}
        if user:
            source = {"model": args.model, "model_file": args.model_file and str(args.model_file.resolve()),
                      "weights": opened.state["user_model"], "data": config.data.name, "subset": subset}
        from latentexplorer.provenance import run_provenance

        block = run_provenance(opened, estimator="iwae" if result.variational else "reconstruction",
                               k=result.k or None, items=result.n, split="validation" if val is not None else "all",
                               seed=args.seed, wall_time_s=time.perf_counter() - started)
        print(json.dumps({**source, **result.to_dict(), "provenance": block}, indent=2))
        return 0
    if user:
        for note in getattr(opened.model, "notes", []):
            print(note)
        print(f"model {args.model} (weights {args.weights}): {config.model.kind}, "
              f"{config.model.latent_dim}-d latent, {config.data.name}")
        print(f"items: {subset}")
    else:
        print(f"run {opened.name}: {config.model.kind}, {config.model.latent_dim}-d latent, {config.data.name}")
    print(result.format_table())
    return 0
