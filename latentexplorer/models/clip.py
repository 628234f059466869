"""A small CLIP (Radford et al. 2021): images and captions embedded in one space, learned contrastively.

Each encoder ends in a linear projection to d dimensions and an L2 normalisation, so
a dot product is a cosine similarity. The loss is the symmetric InfoNCE: in a batch
of N pairs, each image must pick its own caption among the N (cross-entropy over the
rows of the similarity matrix scaled by a learned temperature) and each caption its
own image (the same over the columns).

For the explorer the model follows the latent protocol where it can: `encode(x)` is a
point posterior at the image embedding. It has no decoder (`has_decoder` is False),
so decode/mean/sample raise a clear error rather than return garbage.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from latentexplorer.config import ModelConfig
from latentexplorer.data.captions import CaptionBatch, Vocabulary, sprite_vocabulary
from latentexplorer.errors import CheckpointError, DataError
from latentexplorer.models.base import LatentModel, LossTerms, Posterior
from latentexplorer.models.networks import ConvEncoder, MLPEncoder

VOCAB_FILE = "vocab.json"
NO_DECODER = "a CLIP model has no decoder: it embeds images and captions, it does not draw them"
LOGIT_SCALE_INIT = math.log(1 / 0.07)
LOGIT_SCALE_MAX = math.log(100.0)
"""CLIP's clamp: the temperature never drops below 1/100, which keeps the loss stable."""


def info_nce(image: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE of normalised embeddings: the mean of image→text and text→image
    cross-entropies, the matching pair of each row on the diagonal."""
    logits = logit_scale.exp() * image @ text.T
    target = torch.arange(len(image), device=image.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


class TextEncoder(nn.Module):
    """Word embeddings, a GRU over the caption, its state after the last real word, a projection."""

    def __init__(self, vocab_size: int, width: int, out: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, width, padding_idx=0)
        self.gru = nn.GRU(width, width, batch_first=True)
        self.head = nn.Linear(width, out)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(self.embed(tokens))
        last = (tokens != 0).sum(1).clamp(min=1) - 1
        return self.head(states[torch.arange(len(tokens), device=tokens.device), last])


class CLIPModel(LatentModel):
    """Image and text encoders into one L2-normalised d-dim space (d = `latent_dim`)."""

    has_decoder = False

    def __init__(self, config: ModelConfig, vocabulary: Vocabulary | None = None) -> None:
        nn.Module.__init__(self)
        self.config = config
        self.vocabulary = vocabulary or sprite_vocabulary()
        if config.vocab_size and config.vocab_size != len(self.vocabulary):
            raise CheckpointError(
                f"the vocabulary has {len(self.vocabulary)} words, the config {config.vocab_size}"
            )
        d = config.latent_dim
        if config.resolved_architecture == "conv":
            self.encoder = ConvEncoder(config.image_shape, config.channels, config.hidden[0], d)
        else:
            self.encoder = MLPEncoder(config.image_shape, config.hidden, d)
        self.text_encoder = TextEncoder(len(self.vocabulary), config.text_width, d)
        self.logit_scale = nn.Parameter(torch.tensor(LOGIT_SCALE_INIT))

    # -- embeddings -------------------------------------------------------------------------

    def embed_images(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.encoder(x), dim=-1)

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_encoder(tokens), dim=-1)

    def tokens(self, texts: list[str]) -> torch.Tensor:
        """Token ids of captions; raises UnknownWords (a DataError) naming words it does not know."""
        return torch.from_numpy(self.vocabulary.encode(texts, self.config.max_tokens)).to(self.device)

    @torch.no_grad()
    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """Normalised embeddings of captions (N×d)."""
        return self.embed_tokens(self.tokens(texts))

    @torch.no_grad()
    def similarity(self, images: torch.Tensor, texts: list[str]) -> torch.Tensor:
        """Cosine similarities, images × texts."""
        return self.embed_images(images) @ self.encode_text(texts).T

    @property
    def temperature(self) -> float:
        return float(1.0 / self.clamped_scale().detach().exp())

    def clamped_scale(self) -> torch.Tensor:
        return self.logit_scale.clamp(max=LOGIT_SCALE_MAX)

    # -- latent protocol --------------------------------------------------------------------

    def encode(self, x: torch.Tensor) -> Posterior:
        mu = self.embed_images(x)
        return Posterior(mu, torch.full_like(mu, float("-inf")))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise DataError(NO_DECODER)

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        raise DataError(NO_DECODER)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise DataError(NO_DECODER)

    def forward(self, batch: CaptionBatch, progress: float | None = None) -> LossTerms:
        """The symmetric InfoNCE loss, reported as `recon` (KL and regulariser are zero)."""
        if not isinstance(batch, CaptionBatch):
            raise DataError("a CLIP model trains on images with captions (a CaptionBatch)")
        loss = info_nce(self.embed_images(batch.images), self.embed_tokens(batch.tokens), self.clamped_scale())
        zero = loss.new_zeros(())
        return LossTerms(recon=loss, kl=zero, kl_per_dim=loss.new_zeros(self.latent_dim), reg=zero, total=loss)

    # -- run folder -------------------------------------------------------------------------

    def run_files(self) -> dict[str, str]:
        """Files saved beside the weights: the vocabulary, so a run reads its captions as trained."""
        return {VOCAB_FILE: self.vocabulary.to_json()}

    @classmethod
    def from_folder(cls, config: ModelConfig, folder: str | Path) -> CLIPModel:
        path = Path(folder) / VOCAB_FILE
        if not path.is_file():
            raise CheckpointError(f"CLIP run folder {folder} has no {VOCAB_FILE}")
        try:
            vocabulary = Vocabulary.from_json(path.read_text(encoding="utf-8"))
        except DataError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
        return cls(config, vocabulary)
