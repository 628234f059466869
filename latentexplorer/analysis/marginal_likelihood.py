"""−log p(x) of every image of a held-out set, the figure likelihood papers report: the
IWAE-k bound (Burda et al. 2016) with k = 5000, whose gap to log p(x) is then small.

k = 5000 over MNIST's 10,000 test images is 50 million decoder passes, so the work is
streamed: a few items at a time, their k samples in sub-batches of at most
`samples_per_pass`, keeping only one number per item. Peak memory is that of one
sub-batch (about 35 MB for an MLP decoder on 28×28 images at 2,048 samples, a few hundred
for the conv one), whatever k and the number of images.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from latentexplorer.analysis.metrics import iwae_bound, log_weights, mean_and_stderr
from latentexplorer.data.base import ImageSet
from latentexplorer.errors import UserError
from latentexplorer.models import LatentModel

PAPER_K = 5000
"""The importance samples of the IWAE paper's test log-likelihoods (its Table 1)."""
SAMPLES_PER_PASS = 2048


@dataclass(frozen=True)
class NllEstimate:
    """Mean −log p(x) over n items in nats, estimated by −IWAE-k (an upper bound on the true
    −log p(x) on average, tightening as k grows), with its standard error over items."""

    nll: float
    nll_se: float
    k: int
    n: int
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def sample_batches(k: int, samples_per_pass: int = SAMPLES_PER_PASS) -> tuple[int, int]:
    """(items per pass, samples per item per pass): one decoder pass holds at most
    `samples_per_pass` samples, several items' k when k is small, part of one item's else."""
    if k < 1 or samples_per_pass < 1:
        raise UserError("the number of importance samples k must be at least 1")
    if k >= samples_per_pass:
        return 1, samples_per_pass
    return samples_per_pass // k, k


@torch.no_grad()
def estimate_nll(
    model: LatentModel,
    images: ImageSet,
    k: int = PAPER_K,
    *,
    seed: int = 0,
    samples_per_pass: int = SAMPLES_PER_PASS,
    progress: Callable[[int, int], None] | None = None,
) -> NllEstimate:
    """−log p(x) of every item of `images` by −IWAE-k, mean and standard error over items.

    Seeded, so a rerun gives the same figure. `progress(items done, items)` is told after each
    pass over a few items (it may raise to stop)."""
    if not model.config.is_variational:
        raise UserError("an autoencoder has no likelihood: its posterior has zero variance")
    if len(images) == 0:
        raise UserError("there are no items to evaluate")
    items, chunk = sample_batches(k, samples_per_pass)
    model.eval()
    torch.manual_seed(seed)
    started = time.perf_counter()
    nll = np.empty(len(images), dtype=np.float64)
    for start in range(0, len(images), items):
        stop = min(start + items, len(images))
        x = images.float_batch(slice(start, stop)).to(model.device)
        log_w, _ = log_weights(model, x, k, chunk)
        nll[start:stop] = (-iwae_bound(log_w.double())).cpu().numpy()
        if progress is not None:
            progress(stop, len(images))
    mean, se = mean_and_stderr(nll)
    if not np.isfinite(mean):
        raise UserError("−log p(x) is not finite: the model gives some images zero likelihood")
    return NllEstimate(nll=mean, nll_se=se, k=k, n=len(images), seconds=time.perf_counter() - started)
