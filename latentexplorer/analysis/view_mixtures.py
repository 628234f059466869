"""The mixtures the explorer colours its points by: a GMM fitted by EM (K by BIC when
asked) and k-means with the same K, fitted in the full latent space. Runs in any thread."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from latentexplorer.analysis import mixture as mix


class MixtureFits(NamedTuple):
    gmm: mix.MixtureFit
    kmeans: mix.MixtureFit
    bic: dict[int, float]  # K → BIC, when K was chosen by BIC; else empty


def fit_mixtures(codes: np.ndarray, k: int, auto_k: bool, native_threads: int | None = None) -> MixtureFits:
    """GMM and k-means of `codes` with K components (or the K of lowest BIC).

    `native_threads` caps scikit-learn's OpenMP/BLAS threads: 1 while a model trains, so the
    fit takes no core from the training loop or the GUI thread (on 2 cores its 2 extra threads
    stalled the window)."""
    if native_threads is None:
        return _fit(codes, k, auto_k)
    # scikit-learn (imported on first use) loads its own OpenMP and scipy's OpenBLAS: load them
    # before the limit is set, or it misses them and a 0.06 s fit sometimes took 2 s.
    import sklearn.cluster  # noqa: F401
    import sklearn.mixture  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=native_threads):
        return _fit(codes, k, auto_k)


def _fit(codes: np.ndarray, k: int, auto_k: bool) -> MixtureFits:
    bic: dict[int, float] = {}
    if auto_k:
        k, bic = mix.choose_k(codes, range(1, min(15, len(codes)) + 1))
    k = max(1, min(int(k), len(codes)))
    return MixtureFits(mix.fit_gmm(codes, k, max_fit=mix.FIT_SUBSET),
                       mix.fit_kmeans(codes, k, max_fit=mix.FIT_SUBSET), bic)
