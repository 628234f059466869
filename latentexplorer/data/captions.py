"""Captions for sprites, generated from their factors, and a word-level tokenizer.

A caption names what a person would see ("a small heart at the top left, turned
left"): scale, position and orientation are quantised into a few words, and a few
templates and synonyms make the captions vary. The vocabulary is closed (every
word the templates can produce), so an unknown word in a search is reported
rather than silently dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

import numpy as np
import torch

from latentexplorer.data.base import ImageSet
from latentexplorer.errors import DataError

PAD, UNK = "<pad>", "<unk>"
MAX_TOKENS = 14

SHAPE_WORDS = (("square", "box"), ("ellipse", "oval"), ("heart",))
SIZE_WORDS = (("small", "little", "tiny"), ("medium", "mid-sized"), ("large", "big"))
HORIZONTAL = ("left", "centre", "right")
VERTICAL = ("top", "middle", "bottom")
ORIENTATION_WORDS = (("upright",), ("turned left",), ("upside down",), ("turned right",))
ATTRIBUTES = ("shape", "size", "x", "y", "turn")
"""The quantised attributes a caption can name, in this order in an attribute row."""

_FULL_TEMPLATES = (
    "{a} {size} {shape} {pos}",
    "{size} {shape} {pos}, {turn}",
    "{a} {shape} {pos}, {size} and {turn}",
)
_PARTIAL_TEMPLATES = ("{a} {shape}", "{a} {size} {shape}", "{a} {shape} {pos}")
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)?")


class UnknownWords(DataError):
    """Words outside the vocabulary; the message lists them."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        super().__init__(f"unknown word(s): {', '.join(repr(w) for w in words)}; "
                         "captions use words such as 'small heart at the top left'")


def tokenize(text: str) -> list[str]:
    """Lower-case words; punctuation separates words and is dropped."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class Vocabulary:
    """Words ↔ ids; id 0 pads, id 1 stands for an unknown word."""

    words: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.words[:2] != (PAD, UNK):
            raise DataError("a vocabulary starts with the padding and unknown tokens")

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def unknown(self, text: str) -> list[str]:
        index = self.index
        return [w for w in tokenize(text) if w not in index]

    def encode(self, texts: list[str] | str, length: int = MAX_TOKENS) -> np.ndarray:
        """Token ids N×length, padded with 0; raises UnknownWords naming words outside the vocabulary."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        index = self.index
        out = np.zeros((len(texts), length), dtype=np.int64)
        for row, text in enumerate(texts):
            words = tokenize(text)
            missing = [w for w in words if w not in index]
            if missing:
                raise UnknownWords(missing)
            if not words:
                raise DataError("the caption is empty")
            ids = [index[w] for w in words][:length]
            out[row, : len(ids)] = ids
        return out

    def decode(self, ids: np.ndarray) -> list[str]:
        """Captions from token ids (padding dropped), words joined by spaces."""
        ids = np.atleast_2d(np.asarray(ids))
        return [" ".join(self.words[i] for i in row if i != 0) for row in ids]

    def to_json(self) -> str:
        return json.dumps({"words": list(self.words)}, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        try:
            words = json.loads(text)["words"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise DataError("the vocabulary file is not valid (expected {\"words\": [...]})") from None
        return cls(tuple(str(w) for w in words))


def sprite_vocabulary() -> Vocabulary:
    """Every word the sprite caption templates can produce, in a fixed order."""
    words: list[str] = []
    phrases = [*_FULL_TEMPLATES, *_PARTIAL_TEMPLATES, "a an in on at the"]
    for group in (*SHAPE_WORDS, *SIZE_WORDS, HORIZONTAL, VERTICAL, *ORIENTATION_WORDS):
        phrases += list(group)
    for phrase in phrases:
        for w in tokenize(re.sub(r"\{[a-z]+\}", " ", phrase)):
            if w not in words:
                words.append(w)
    return Vocabulary((PAD, UNK, *words))


def attributes(factor_indices: np.ndarray) -> np.ndarray:
    """Quantised attributes (shape, size, x, y, turn) of sprite factor indices N×5, as N×5 ints.

    Scale's 6 steps become small/medium/large, each position's 32 steps thirds, and the
    40 orientations (0..2π) the nearest quarter turn.
    """
    from latentexplorer.data.sprites import GRID_SHAPE, ORIENTATIONS

    f = np.asarray(factor_indices, dtype=np.int64)
    turn = np.rint(ORIENTATIONS[f[:, 2]] / (np.pi / 2)).astype(np.int64) % 4
    return np.stack(
        [f[:, 0], f[:, 1] * 3 // GRID_SHAPE[1], f[:, 3] * 3 // GRID_SHAPE[3], f[:, 4] * 3 // GRID_SHAPE[4], turn],
        axis=1,
    )


def position_phrase(x: int, y: int) -> str:
    if y == 1 and x == 1:
        return "in the centre"
    if y == 1:
        return f"on the {HORIZONTAL[x]}"
    if x == 1:
        return f"at the {VERTICAL[y]}"
    return f"at the {VERTICAL[y]} {HORIZONTAL[x]}"


def caption(attrs: np.ndarray, template: str, rng: np.random.Generator | None = None) -> str:
    """One caption of quantised attributes (shape, size, x, y, turn); `rng` picks synonyms."""
    pick = (lambda words: words[rng.integers(len(words))]) if rng is not None else (lambda words: words[0])
    shape, size, x, y, turn = (int(v) for v in attrs)
    shape_word = pick(SHAPE_WORDS[shape])
    size_word = pick(SIZE_WORDS[size])
    first = size_word if "{a} {size}" in template else shape_word
    article = "an" if first[0] in "aeiou" else "a"
    return template.format(
        a=article, size=size_word, shape=shape_word, pos=position_phrase(x, y),
        turn=ORIENTATION_WORDS[turn][0],
    )


def full_captions(attrs: np.ndarray, seed: int = 0) -> list[str]:
    """A caption naming every attribute for each row, template and synonyms drawn with `seed`."""
    rng = np.random.default_rng(seed)
    return [caption(a, _FULL_TEMPLATES[rng.integers(len(_FULL_TEMPLATES))], rng) for a in attrs]


def training_captions(attrs: np.ndarray, seed: int = 0, partial: float = 0.25) -> list[str]:
    """Captions for training: mostly full descriptions, a share `partial` naming fewer attributes
    (so that short queries such as "a heart" are in the model's language)."""
    rng = np.random.default_rng(seed)
    out = []
    for a in attrs:
        pool = _PARTIAL_TEMPLATES if rng.random() < partial else _FULL_TEMPLATES
        out.append(caption(a, pool[rng.integers(len(pool))], rng))
    return out


def candidate_captions() -> tuple[list[str], np.ndarray]:
    """One canonical full caption per attribute combination (3·3·3·3·4 = 324), with the attributes:
    the texts the explorer ranks for a clicked image."""
    grid = np.stack(np.meshgrid(*[np.arange(k) for k in (3, 3, 3, 3, 4)], indexing="ij"), -1).reshape(-1, 5)
    return [caption(a, _FULL_TEMPLATES[1]) for a in grid], grid


@dataclass(frozen=True)
class CaptionBatch:
    """Images and their captions' token ids, the structured batch a CLIP model trains on."""

    images: torch.Tensor
    tokens: torch.Tensor

    def __len__(self) -> int:
        return len(self.images)

    def to(self, device: torch.device | str) -> CaptionBatch:
        return CaptionBatch(self.images.to(device), self.tokens.to(device))


@dataclass(frozen=True)
class CaptionedSet(ImageSet):
    """An ImageSet whose items also carry a caption (token ids N×L, and the text)."""

    tokens: np.ndarray | None = None
    captions: tuple[str, ...] = ()

    def subset(self, index: np.ndarray | slice, name: str | None = None) -> CaptionedSet:
        index = np.arange(len(self))[index] if isinstance(index, slice) else np.asarray(index)
        base = super().subset(index, name)
        return replace(base, tokens=self.tokens[index], captions=tuple(self.captions[i] for i in index))

    def structured_batch(self, index: torch.Tensor, images: torch.Tensor) -> CaptionBatch:
        """The trainer's hook: a batch of images (already float) becomes images + token ids."""
        tokens = torch.from_numpy(self.tokens[index.cpu().numpy()]).to(images.device)
        return CaptionBatch(images, tokens)


def caption_images(images: ImageSet, seed: int = 0, vocabulary: Vocabulary | None = None) -> CaptionedSet:
    """Sprites with a generated caption per item (seeded, so a run reloads the same captions)."""
    if isinstance(images, CaptionedSet):
        return images
    if images.factors is None or images.factors.names[:1] != ("shape",) or images.name != "sprites":
        raise DataError(f"captions are generated from sprite factors; {images.name!r} has none "
                        "(train CLIP with --dataset sprites)")
    vocabulary = vocabulary or sprite_vocabulary()
    texts = training_captions(attributes(images.factors.indices), seed=seed)
    return CaptionedSet(**{f: getattr(images, f) for f in ("images", "name", "labels", "class_names",
                                                            "factors", "meta")},
                        tokens=vocabulary.encode(texts), captions=tuple(texts))
