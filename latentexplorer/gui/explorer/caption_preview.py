"""What the explorer shows for a clicked item of a model without a decoder (CLIP): the
image itself and the captions that match it best, ranked by cosine similarity.

The candidates are one caption per combination of the attributes a caption can name
(shape, size, horizontal and vertical third, quarter turn), so the ranking reads as
the model's description of the image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from latentexplorer.data.captions import attributes, candidate_captions

TOP_CAPTIONS = 5


@dataclass(frozen=True)
class CaptionPreview:
    """A data item seen by an embedding model: its image and its best captions with scores."""

    index: int
    original: np.ndarray
    captions: tuple[str, ...]
    scores: np.ndarray
    label: str
    true_caption: str = ""


_candidates: dict[int, tuple[list[str], np.ndarray]] = {}


def candidate_embeddings(model) -> tuple[list[str], np.ndarray]:
    """The candidate captions and their embeddings (computed once per model)."""
    key = id(model)
    if key not in _candidates:
        texts, _ = candidate_captions()
        with torch.no_grad():
            _candidates.clear()
            _candidates[key] = (texts, model.encode_text(texts).cpu().numpy())
    return _candidates[key]


def best_captions(model, embedding: np.ndarray, k: int = TOP_CAPTIONS) -> tuple[tuple[str, ...], np.ndarray]:
    texts, emb = candidate_embeddings(model)
    scores = emb @ np.asarray(embedding, np.float32)
    order = np.argsort(-scores, kind="stable")[:k]
    return tuple(texts[i] for i in order), scores[order]


def caption_preview(session, index: int) -> CaptionPreview:
    """The preview of item `index` of the session's data (the session's model embeds)."""
    captions, scores = best_captions(session.model, session.mu[index])
    truth = ""
    factors = session.images.factors
    if factors is not None and factors.names[:1] == ("shape",):
        texts, grid = candidate_captions()
        row = attributes(factors.indices[index : index + 1])[0]
        truth = texts[int(np.flatnonzero((grid == row).all(1))[0])]
    return CaptionPreview(index=index, original=session.original(index), captions=captions,
                          scores=scores, label=session.label_of(index), true_caption=truth)
