"""How well a CLIP model matches images and captions it has not seen.

Retrieval: held-out items are cut into groups of `candidates` pairs; within a group each
image ranks all the group's captions (image→text) and each caption all its images
(text→image). Top-k is the share whose own partner ranks within the first k; chance
is k / candidates. Captions name quantised attributes, so several items of a group may
share a description: the "semantic" top-1 counts a retrieved partner with the same
attributes as a hit, the exact top-1 does not.

Zero-shot classification: one caption per class ("a heart", "a square", …, or for a
position the mean embedding of captions naming it), each image assigned the most
similar class; chance is the share of the most frequent class.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from latentexplorer.data.base import ImageSet
from latentexplorer.data.captions import (
    HORIZONTAL,
    SHAPE_WORDS,
    SIZE_WORDS,
    VERTICAL,
    attributes,
    full_captions,
    position_phrase,
)
from latentexplorer.errors import DataError
from latentexplorer.models.clip import CLIPModel


@dataclass(frozen=True)
class RetrievalResult:
    candidates: int
    items: int
    image_to_text: dict[int, float]
    text_to_image: dict[int, float]
    semantic_image_to_text: float
    semantic_text_to_image: float
    zero_shot: dict[str, tuple[float, float]] = field(default_factory=dict)
    """attribute → (accuracy, chance)."""

    def chance(self, k: int) -> float:
        return k / self.candidates

    def to_dict(self) -> dict:
        return asdict(self)

    def format_table(self) -> str:
        lines = [f"retrieval among {self.candidates} candidates, {self.items} held-out items "
                 f"(chance top-1 {self.chance(1):.1%}, top-5 {self.chance(5):.1%})"]
        for name, scores, semantic in (("image→text", self.image_to_text, self.semantic_image_to_text),
                                       ("text→image", self.text_to_image, self.semantic_text_to_image)):
            lines.append(f"  {name}: top-1 {scores[1]:.1%}  top-5 {scores[5]:.1%}  "
                         f"same-description top-1 {semantic:.1%}")
        for name, (accuracy, chance) in self.zero_shot.items():
            lines.append(f"zero-shot {name}: {accuracy:.1%} (chance {chance:.1%})")
        return "\n".join(lines)


@torch.no_grad()
def embed_images(model: CLIPModel, images: ImageSet, batch_size: int = 1024) -> np.ndarray:
    """Normalised image embeddings of a whole set (N×d)."""
    model.eval()
    out = [model.embed_images(images.float_batch(slice(i, i + batch_size)).to(model.device)).cpu()
           for i in range(0, len(images), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros((0, model.latent_dim), np.float32)


@torch.no_grad()
def embed_texts(model: CLIPModel, texts: list[str], batch_size: int = 4096) -> np.ndarray:
    model.eval()
    return torch.cat([model.encode_text(texts[i : i + batch_size]).cpu()
                      for i in range(0, len(texts), batch_size)]).numpy()


def _check_sprites(images: ImageSet) -> np.ndarray:
    if images.factors is None or images.factors.names[:1] != ("shape",):
        raise DataError("retrieval is measured on sprites, whose factors give the captions")
    return attributes(images.factors.indices)


def retrieval(model: CLIPModel, images: ImageSet, candidates: int = 100, n: int = 1000,
              seed: int = 0) -> RetrievalResult:
    """Top-1/top-5 image→text and text→image retrieval on `n` items, in groups of `candidates`."""
    attrs = _check_sprites(images)
    n = min(n, len(images)) // candidates * candidates
    if n < candidates or candidates < 5:
        raise DataError(f"need at least {max(candidates, 5)} items for retrieval among {candidates}")
    index = np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))
    image_emb = embed_images(model, images.subset(index))
    text_emb = embed_texts(model, full_captions(attrs[index], seed=seed))
    attrs = attrs[index]
    hits = {"i2t": np.zeros(2), "t2i": np.zeros(2)}
    semantic = {"i2t": 0, "t2i": 0}
    for start in range(0, n, candidates):
        group = slice(start, start + candidates)
        sim = image_emb[group] @ text_emb[group].T
        same = (attrs[group][:, None, :] == attrs[group][None, :, :]).all(-1)
        for key, s in (("i2t", sim), ("t2i", sim.T)):
            own = np.diag(s)
            rank = (s > own[:, None]).sum(1)  # partners scoring strictly higher
            hits[key] += [(rank < 1).sum(), (rank < 5).sum()]
            semantic[key] += int(same[np.arange(candidates), s.argmax(1)].sum())
    return RetrievalResult(
        candidates=candidates, items=n,
        image_to_text={1: hits["i2t"][0] / n, 5: hits["i2t"][1] / n},
        text_to_image={1: hits["t2i"][0] / n, 5: hits["t2i"][1] / n},
        semantic_image_to_text=semantic["i2t"] / n, semantic_text_to_image=semantic["t2i"] / n,
    )


def class_prompts(attribute: str) -> list[list[str]]:
    """Per class of `attribute`, the captions whose mean embedding stands for it."""
    shapes = [words[0] for words in SHAPE_WORDS]

    def a(word: str) -> str:
        return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"

    if attribute == "shape":
        return [[a(s)] for s in shapes]
    if attribute == "size":
        return [[f"{a(words[0])} {s}" for s in shapes] for words in SIZE_WORDS]
    if attribute == "x":
        return [[f"{a(s)} {position_phrase(x, y)}" for s in shapes for y in range(3)]
                for x in range(len(HORIZONTAL))]
    if attribute == "y":
        return [[f"{a(s)} {position_phrase(x, y)}" for s in shapes for x in range(3)]
                for y in range(len(VERTICAL))]
    raise DataError(f"zero-shot classes are defined for shape, size, x and y, not {attribute!r}")


def zero_shot(model: CLIPModel, images: ImageSet, attribute: str = "shape",
              image_emb: np.ndarray | None = None) -> tuple[float, float]:
    """Accuracy of classifying `attribute` by caption similarity alone, and the chance level."""
    attrs = _check_sprites(images)
    prompts_per_class = class_prompts(attribute)
    truth = attrs[:, ("shape", "size", "x", "y").index(attribute)]
    classes = []
    for prompts in prompts_per_class:
        mean = embed_texts(model, prompts).mean(0)
        classes.append(mean / np.linalg.norm(mean))
    emb = embed_images(model, images) if image_emb is None else image_emb
    predicted = (emb @ np.stack(classes).T).argmax(1)
    chance = np.bincount(truth, minlength=len(classes)).max() / len(truth)
    return float((predicted == truth).mean()), float(chance)


def evaluate_clip(model: CLIPModel, images: ImageSet, candidates: int = 100, n: int = 1000,
                  seed: int = 0) -> RetrievalResult:
    """Retrieval plus zero-shot shape, size and position on held-out `images`."""
    result = retrieval(model, images, candidates, n, seed)
    emb = embed_images(model, images)
    scores = {name: zero_shot(model, images, name, emb) for name in ("shape", "size", "x", "y")}
    return RetrievalResult(**{**asdict(result), "zero_shot": scores})


def print_clip_evaluation(run, images: ImageSet, args) -> int:
    """`latentexplorer evaluate` for a CLIP run: retrieval and zero-shot on the held-out items."""
    import json
    import time

    from latentexplorer.provenance import run_provenance

    started = time.perf_counter()
    result = evaluate_clip(run.model, images, candidates=args.candidates, n=args.n, seed=args.seed)
    if args.json:
        block = run_provenance(run, estimator="retrieval", items=result.items, split="validation",
                               seed=args.seed, wall_time_s=time.perf_counter() - started,
                               candidates=result.candidates)
        print(json.dumps({"run": str(run.folder), **result.to_dict(), "provenance": block}, indent=2))
    else:
        cfg = run.config
        print(f"run {run.name}: clip, {cfg.model.latent_dim}-d embedding, {cfg.data.name}, "
              f"temperature {run.model.temperature:.4f}")
        print(result.format_table())
    return 0
