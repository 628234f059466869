"""`latentexplorer evaluate RUN --iwae-k K [--test]`: −log p(x) as likelihood papers report it.

With `--test`, on the dataset's own test images (MNIST's 10,000), binarised once with
`--seed` when the run was trained on binarised images: the IWAE paper's protocol (Burda et
al. 2016: a 1-layer VAE scores 86.76 nats at k = 5000, a 2-layer one 85.33). Without it, on
the run's validation items, as the rest of `evaluate`.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from latentexplorer.errors import UserError

if TYPE_CHECKING:
    from latentexplorer.checkpoint import Run
    from latentexplorer.config import RunConfig
    from latentexplorer.data import ImageSet


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The likelihood flags of `evaluate`."""
    parser.add_argument("--iwae-k", type=int, metavar="K",
                        help="report -log p(x) by the IWAE bound with K importance samples per image "
                             "(5000 in the IWAE paper; the default with --test)")
    parser.add_argument("--test", action="store_true",
                        help="score every image of the dataset's own test set (MNIST: 10,000), "
                             "binarised with --seed for a run trained with --binarize")


def wanted(args: argparse.Namespace) -> bool:
    return args.test or args.iwae_k is not None


def held_out_images(args: argparse.Namespace, config: RunConfig, images: ImageSet) -> tuple[ImageSet, str]:
    """(the images to score, how to name them): the test set, binarised as the run's own
    held-out images were, or the run's validation items (at most --n)."""
    from latentexplorer.analysis.evaluation import evaluation_subset
    from latentexplorer.data import load_dataset
    from latentexplorer.data.binarize import binarize_static, check_binarizable
    from latentexplorer.errors import DataError
    from latentexplorer.training.run import split_data

    binarized = config.data.binarize != "off"
    if not args.test:
        _, val = split_data(config, images)
        items = evaluation_subset(val if val is not None else images, args.n, args.seed)
        held_out = "test" if config.data.split == "standard" else "validation"
        drawn = f", binarised with seed {config.data.seed}" if binarized else ""
        return items, f"{len(items):,} {held_out} images{drawn}"
    test = load_dataset(config.data, test=True)
    if test.image_shape != config.model.image_shape:
        raise DataError(f"the test images are {test.image_shape}; the model expects {config.model.image_shape}")
    if not binarized:
        return test, f"{len(test):,} test images, grey (not binarised)"
    check_binarizable(test)
    return binarize_static(test, args.seed), f"{len(test):,} test images, binarised with seed {args.seed}"


def run(args: argparse.Namespace, opened: Run, config: RunConfig, images: ImageSet) -> int:
    """Score the images and print the figure (or, with --json, a record of it)."""
    import torch
    from tqdm import tqdm

    from latentexplorer.analysis.marginal_likelihood import PAPER_K, estimate_nll

    k = args.iwae_k if args.iwae_k is not None else PAPER_K
    if k < 1:
        raise UserError("--iwae-k must be at least 1")
    if not config.model.is_variational:
        raise UserError(f"a {config.model.kind} model has no likelihood: its codes are points")
    items, described = held_out_images(args, config, images)
    model = opened.model
    if torch.cuda.is_available():
        model = model.to("cuda")  # 50 million decoder passes at k = 5000: the GPU when there is one
    with tqdm(total=len(items), unit="image", desc=f"IWAE-{k}", dynamic_ncols=True, mininterval=2.0) as bar:
        estimate = estimate_nll(model, items, k, seed=args.seed,
                                progress=lambda done, total: bar.update(done - bar.n))
    line = f"−log p(x) = {estimate.nll:.2f} ± {estimate.nll_se:.2f} nats (IWAE-{k}, {described})"
    if args.json:
        from latentexplorer.provenance import run_provenance

        split = "test" if args.test or config.data.split == "standard" else "validation"
        drawn = args.seed if args.test else config.data.seed
        binarized_seed = drawn if config.data.binarize != "off" else None
        block = run_provenance(opened, estimator="iwae", model=model, k=k, items=estimate.n, split=split,
                               seed=args.seed, wall_time_s=estimate.seconds, binarized_seed=binarized_seed)
        record = {"run": str(opened.folder) if opened.folder else None, **estimate.to_dict(),
                  "items": split, "binarized_seed": binarized_seed, "summary": line, "provenance": block}
        print(json.dumps(record, indent=2))
        return 0
    print(f"run {opened.name}: {config.model.kind}, {config.model.latent_dim}-d latent, {config.data.name}")
    print(line)
    if args.test and config.data.binarize == "off":
        print("note: the run was trained on grey images; published MNIST likelihoods are of binarised "
              "images (train with --binarize dynamic), so this figure does not compare with them")
    return 0
