"""What an embedding model without a decoder (CLIP) says about an image: the candidate
captions ranked by cosine similarity, and the image–caption similarity matrix.

The candidates are one caption per combination of the attributes a caption can name
(shape, size, horizontal and vertical third, quarter turn), so the ranking reads as
the model's description of the image."""

from __future__ import annotations

import weakref

import numpy as np
import torch

from latentexplorer.data.base import ImageSet
from latentexplorer.data.captions import attributes, candidate_captions, full_captions
from latentexplorer.errors import DataError

TOP_CAPTIONS = 5

# Keyed by the model itself, weakly: an id() could be reused by a new model once the old one
# is freed, and the new model would be shown the old one's embeddings.
_candidates: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def candidate_embeddings(model: torch.nn.Module) -> tuple[list[str], np.ndarray]:
    """The candidate captions and their embeddings (computed once per model)."""
    cached = _candidates.get(model)
    if cached is None:
        texts, _ = candidate_captions()
        with torch.no_grad():
            cached = (texts, model.encode_text(texts).cpu().numpy())
        _candidates[model] = cached
    return cached


def best_captions(model: torch.nn.Module, embedding: np.ndarray,
                  k: int = TOP_CAPTIONS) -> tuple[tuple[str, ...], np.ndarray]:
    """The k candidate captions most similar to an image embedding, and their scores."""
    texts, emb = candidate_embeddings(model)
    scores = emb @ np.asarray(embedding, np.float32)
    order = np.argsort(-scores, kind="stable")[:k]
    return tuple(texts[i] for i in order), scores[order]


def true_caption(images: ImageSet, index: int) -> str:
    """The candidate caption that the item's ground-truth factors describe ("" without them)."""
    factors = images.factors
    if factors is None or factors.names[:1] != ("shape",):
        return ""
    texts, grid = candidate_captions()
    row = attributes(factors.indices[index : index + 1])[0]
    return texts[int(np.flatnonzero((grid == row).all(1))[0])]


def similarity_batch(model: torch.nn.Module, codes: np.ndarray, images: ImageSet, n: int = 16,
                     seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(item indices, their full captions, images × captions cosine similarities) for n seeded items."""
    factors = images.factors
    if factors is None or factors.names[:1] != ("shape",):
        raise DataError("the similarity matrix needs sprites, whose factors give the captions")
    n = min(n, len(images))
    index = np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))
    captions = full_captions(attributes(factors.indices[index]), seed=seed)
    with torch.no_grad():
        text = model.encode_text(captions).cpu().numpy()
    return index, captions, codes[index] @ text.T
