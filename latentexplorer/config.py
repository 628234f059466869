"""Configuration records: the one source of truth for a model's shape and a run's settings.

They are frozen dataclasses that round-trip through JSON, so a run folder's
`config.json` is enough to rebuild its model without extra flags.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from typing import Any

from latentexplorer.errors import ConfigError

FORMAT_VERSION = 1
"""Version of the run-folder format; a newer one is refused with a clear message."""

MODEL_KINDS = ("ae", "vae", "betavae", "pca", "fa", "seqvae", "clip")
LINEAR_KINDS = ("pca", "fa")
"""Linear latent models fitted in closed form by scikit-learn rather than trained by epochs."""
SEQUENCE_KINDS = ("seqvae",)
"""Models of pen trajectories: their `image_shape` is (1, max length, coordinates + present)."""
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "seqvae": {"hidden": (128,), "likelihood": "gaussian-learned", "warmup_epochs": 5.0},
    "clip": {"latent_dim": 32},
}
"""Defaults that differ by kind, applied where a run is configured (CLI, Training tab): a
sequence VAE has one GRU width, predicts its pen's σ per step, and ramps the KL in over 5
epochs, without which its decoder learns to ignore z (posterior collapse); a CLIP embedding
space needs more than the 2 dimensions of the default latent."""
ARCHITECTURES = ("auto", "mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian", "gaussian-learned")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
SPLITS = ("seeded", "standard")
BINARIZE_MODES = ("off", "static", "dynamic")


@dataclass(frozen=True)
class ModelConfig:
    """What a model is: its family, network, likelihood and objective.

    The objective (β, warm-up, capacity, free bits) lives here rather than in the
    training settings because evaluation must use the same objective the model
    was trained with.

    A sequence VAE (`seqvae`) reads its shapes from the same fields: `image_shape` is
    (1, T_max, F), the padded layout of its data (F = coordinates + a present flag), and
    `hidden[0]` is the width of its GRUs.
    """

    kind: str = "vae"
    image_shape: tuple[int, int, int] = (1, 28, 28)
    latent_dim: int = 2
    architecture: str = "auto"
    hidden: tuple[int, ...] = (512, 256)
    channels: tuple[int, ...] = (32, 64, 64)
    likelihood: str = "bernoulli"
    sigma: float = 0.1
    beta: float = 1.0
    warmup_epochs: float = 0.0
    capacity: float = 0.0
    capacity_epochs: float = 0.0
    free_bits: float = 0.0
    vocab_size: int = 0
    """clip: words in the caption vocabulary (saved beside the weights as vocab.json)."""
    max_tokens: int = 14
    """clip: caption length in tokens (longer captions are cut)."""
    text_width: int = 64
    """clip: the text encoder's word embedding and GRU width."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        _check(self.kind in MODEL_KINDS, f"model kind must be one of {MODEL_KINDS}, got {self.kind!r}")
        _check(
            self.architecture in ARCHITECTURES,
            f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}",
        )
        _check(
            self.likelihood in LIKELIHOODS,
            f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}",
        )
        _check(len(self.image_shape) == 3, "image_shape must be (channels, height, width)")
        c, h, w = self.image_shape
        if self.is_sequence:
            _check(c == 1 and h >= 2 and w >= 3, f"sequences must be (1, length >= 2, coordinates + present "
                   f">= 3), got {self.image_shape}")
            _check(self.likelihood != "bernoulli", "a sequence VAE models pen positions with a Gaussian: "
                   "choose likelihood gaussian (fixed sigma) or gaussian-learned")
        else:
            _check(c in (1, 3) and h >= 4 and w >= 4, f"unsupported image shape {self.image_shape}")
        _check(1 <= self.latent_dim <= 128, f"latent dimension must be 1..128, got {self.latent_dim}")
        _check(len(self.hidden) >= 1 and min(self.hidden) >= 1, "hidden widths must be positive")
        _check(len(self.channels) >= 1 and min(self.channels) >= 1, "conv channels must be positive")
        _check(self.sigma > 0, f"sigma must be positive, got {self.sigma}")
        _check(self.beta >= 0, f"beta must be >= 0, got {self.beta}")
        for name in ("warmup_epochs", "capacity", "capacity_epochs", "free_bits"):
            _check(getattr(self, name) >= 0, f"{name} must be >= 0")
        _check(self.max_tokens >= 1 and self.text_width >= 1, "max_tokens and text_width must be positive")

    @property
    def resolved_architecture(self) -> str:
        """`auto` picks conv for images of 16 px and more (where convolutions pay), else MLP."""
        if self.architecture != "auto":
            return self.architecture
        return "conv" if min(self.image_shape[1:]) >= 16 else "mlp"

    @property
    def is_variational(self) -> bool:
        """A posterior with variance (VAEs, factor analysis); AE and PCA codes are points."""
        return self.kind not in ("ae", "pca", "clip")

    @property
    def has_decoder(self) -> bool:
        """Embedding models (CLIP) have none: nothing can be decoded from their codes."""
        return self.kind != "clip"

    @property
    def is_sequence(self) -> bool:
        return self.kind in SEQUENCE_KINDS

    @property
    def is_linear(self) -> bool:
        return self.kind in LINEAR_KINDS


def kind_defaults(kind: str, base: ModelConfig, given: dict[str, Any]) -> dict[str, Any]:
    """The kind's own defaults (KIND_DEFAULTS) for the options neither `given` (not None) nor
    `base` (left at the generic default) set."""
    generic = ModelConfig()
    return {
        key: value for key, value in KIND_DEFAULTS.get(kind, {}).items()
        if given.get(key) is None and getattr(base, key) == getattr(generic, key)
    }


@dataclass(frozen=True)
class DataConfig:
    """Which dataset a run used, enough to load it again."""

    name: str = "digits"
    root: str | None = None
    size: int | None = None
    n: int | None = None
    grayscale: bool = True
    seed: int = 0
    full: bool = False
    val_fraction: float = 0.1
    split: str = "seeded"
    """seeded: `val_fraction` of the data held out with the seed; standard: the dataset's own
    split (MNIST: train on its 60,000 training images, hold out its 10,000 test images), the
    one papers report likelihoods on."""
    binarize: str = "off"
    """static: each pixel drawn once as 0 or 1 from its grey level (seeded); dynamic: drawn
    anew every epoch (Burda et al. 2016), which regularises. Held-out images: drawn once."""

    def __post_init__(self) -> None:
        _check(self.split in SPLITS, f"split must be one of {SPLITS}, got {self.split!r}")
        _check(self.binarize in BINARIZE_MODES,
               f"binarize must be one of {BINARIZE_MODES}, got {self.binarize!r}")
        _check(0.0 <= self.val_fraction < 1.0, "val_fraction must be in [0, 1)")
        _check(self.n is None or self.n >= 1, "n must be positive")
        _check(self.size is None or self.size >= 4, "image size must be at least 4")


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained. Everything a reproducible run needs, seed included."""

    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 0.0
    """Global gradient-norm clip, 0 for none (the default, as in PyTorch's VAE example). Adam
    already bounds a spike's step per weight (to about 3·lr); a fixed norm sits below the typical
    gradient norm of many models (20–60 for an MLP VAE on 28×28 digits, summed over pixels), where
    it rescales every step instead of guarding spikes, at ~6–10 % of a CPU step."""
    seed: int = 0
    device: str = "auto"
    max_nonfinite: int = 5
    in_memory_limit_mb: int = 4096
    threads: int | None = None
    precision: str = "auto"
    """auto: bf16 autocast where the device multiplies bf16 natively, fp32 elsewhere."""

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        _check(self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}")
        _check(self.lr > 0, f"learning rate must be > 0, got {self.lr}")
        _check(self.grad_clip >= 0, "grad_clip must be >= 0 (0 disables clipping)")
        _check(self.device in DEVICES, f"device must be one of {DEVICES}, got {self.device!r}")
        _check(self.max_nonfinite >= 1, "max_nonfinite must be >= 1")
        _check(
            self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}, got {self.precision!r}"
        )


@dataclass(frozen=True)
class RunConfig:
    """Everything `config.json` holds: format version, model, training and data."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    format_version: int = FORMAT_VERSION
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        if not isinstance(raw, dict):
            raise ConfigError("config must be a JSON object")
        version = raw.get("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ConfigError(
                f"this run was written by a newer LatentExplorer (format {version}; "
                f"this version reads up to {FORMAT_VERSION}); please upgrade"
            )
        return cls(
            model=_build(ModelConfig, raw.get("model", {}), "model"),
            train=_build(TrainConfig, raw.get("train", {}), "train"),
            data=_build(DataConfig, raw.get("data", {}), "data"),
            format_version=version,
            name=str(raw.get("name", "")),
        )

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return cls.from_dict(raw)


def _build(cls: type, raw: Any, section: str) -> Any:
    """Build a config dataclass from a dict, naming unknown keys instead of ignoring them."""
    if not isinstance(raw, dict):
        raise ConfigError(f"config section {section!r} must be an object")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown {section} option(s): {', '.join(unknown)}")
    try:
        return cls(**raw)
    except TypeError as exc:
        raise ConfigError(f"bad {section} option: {exc}") from None


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
