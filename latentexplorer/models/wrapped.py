"""A user's own PyTorch VAE or autoencoder, seen through the model protocol (`base.py`).

What the explorer needs of a model is small: `encode(x)` → Posterior(mu, logvar), `decode(z)`
→ likelihood parameters, `mean(z)` → an image in [0, 1], `latent_dim` and the image shape.
`wrap` adapts a plain `nn.Module` that has

    encode(x) → (mu, logvar), or one tensor of 2·d (mu and logvar side by side),
                or one tensor of d (a deterministic encoder: an autoencoder)
    decode(z) → Bernoulli logits or probabilities, or Gaussian means,
                shaped N×C×H×W or N×(C·H·W)

such as the PyTorch-examples VAE (which reads flat N×784 inputs and returns probabilities).
Whatever it cannot infer from a probe of the module the user says: the input layout, the
likelihood, whether decode returns logits or means. Every mismatch is a `ModelError` that
names its cause, raised at `wrap`, before the explorer shows anything."""

from __future__ import annotations

import math

import torch
from torch import nn

from latentexplorer.config import ModelConfig
from latentexplorer.errors import UserError
from latentexplorer.models.base import LOGVAR_MAX, LOGVAR_MIN, LatentModel, LossTerms, Posterior
from latentexplorer.models.likelihoods import Bernoulli, Gaussian

INPUTS = ("auto", "image", "flat")
OUTPUTS = ("auto", "logits", "means")
LIKELIHOODS = ("bernoulli", "gaussian")
PROBE_ITEMS = 4
PROBABILITY_EPS = 1e-6  # probabilities become logits within [eps, 1 − eps]


class ModelError(UserError):
    """A user's model that does not fit the protocol (shapes, outputs, values)."""


def last_line(exc: BaseException) -> str:
    """An exception in one line: its type and the last line of its message."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[-1] if text else ''}".rstrip(": ")


class WrappedModel(LatentModel):
    """The protocol around a user's module; it owns the module (its weights are the user's)."""

    def __init__(self, module: nn.Module, image_shape: tuple[int, int, int], latent_dim: int,
                 variational: bool, likelihood: str, sigma: float, input_layout: str,
                 output: str) -> None:
        nn.Module.__init__(self)  # no networks of ours: the user's module is the model
        self.module = module
        self.input_layout, self.output = input_layout, output
        self.config = ModelConfig(kind="vae" if variational else "ae", image_shape=image_shape,
                                  latent_dim=latent_dim, architecture="mlp",
                                  likelihood="bernoulli" if likelihood == "bernoulli" else "gaussian",
                                  sigma=sigma)
        self.likelihood = Bernoulli() if likelihood == "bernoulli" else Gaussian(sigma, learned=False)

    @property
    def device(self) -> torch.device:
        parameter = next(self.module.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) if self.input_layout == "flat" else x

    def encode(self, x: torch.Tensor) -> Posterior:
        mu, logvar = split_codes(self.module.encode(self._input(x)), self.config.latent_dim)
        if logvar is None:
            return Posterior(mu, torch.full_like(mu, float("-inf")))
        return Posterior(mu, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Likelihood parameters N×C×H×W: logits for a Bernoulli likelihood (probabilities are
        turned into logits), means for a Gaussian."""
        out = self.module.decode(z)
        if not isinstance(out, torch.Tensor):
            raise ModelError(f"decode returned {type(out).__name__}, not a tensor")
        out = out.reshape(len(z), *self.config.image_shape)
        if self.output == "means" and isinstance(self.likelihood, Bernoulli):
            p = out.clamp(PROBABILITY_EPS, 1.0 - PROBABILITY_EPS)
            return torch.log(p) - torch.log1p(-p)
        return out

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """The image at z: a decoder that returns means (probabilities) is shown as it returns
        them, exactly, without the round trip through logits that `decode` makes for the
        likelihood (~20 of 80 µs in a one-image decode of benchmarks/wrapped_click.py's MLP)."""
        if self.output != "means":
            return super().mean(z)
        return self.module.decode(z).reshape(len(z), *self.config.image_shape).clamp(0.0, 1.0)

    def forward(self, x: torch.Tensor, progress: float | None = None) -> LossTerms:
        """The negative ELBO with one sample (β = 1): what evaluation reports for the model."""
        posterior = self.encode(x)
        variational = self.config.is_variational
        z = posterior.rsample() if variational else posterior.mu
        recon = -self.log_likelihood(x, self.decode(z)).mean()
        if not variational:
            zero = recon.new_zeros(())
            return LossTerms(recon, zero, z.new_zeros(z.shape[-1]), zero, recon)
        kl_per_dim = posterior.kl_per_dim().mean(0)
        kl = kl_per_dim.sum()
        return LossTerms(recon=recon, kl=kl, kl_per_dim=kl_per_dim, reg=kl, total=recon + kl)


def split_codes(out: object, latent_dim: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(mu, logvar) from what a user's encode returned; logvar None for a deterministic one.
    One tensor is mu alone, unless it has 2·d columns for a known d (mu and logvar)."""
    if isinstance(out, (tuple, list)) and len(out) >= 2 and all(isinstance(t, torch.Tensor) for t in out[:2]):
        mu, logvar = out[0], out[1]
        if mu.shape != logvar.shape or mu.dim() != 2:
            raise ModelError(f"encode returned mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)}: "
                             "both must be N×d")
        return mu, logvar
    if isinstance(out, torch.Tensor):
        if out.dim() != 2:
            raise ModelError(f"encode returned a tensor of shape {tuple(out.shape)}: it must be N×d "
                             "(codes), N×2d (mu and logvar side by side) or a tuple (mu, logvar)")
        if latent_dim is not None and out.shape[1] == 2 * latent_dim:
            return out[:, :latent_dim], out[:, latent_dim:]
        return out, None
    raise ModelError(f"encode returned {type(out).__name__}: it must return a tensor or (mu, logvar)")


def wrap(module: nn.Module, *, image_shape: tuple[int, int, int], likelihood: str = "bernoulli",
         input: str = "auto", output: str = "auto", latent_dim: int | None = None,
         sigma: float = 0.1) -> WrappedModel:
    """Adapt a plain `nn.Module` with `encode` and `decode` to the explorer's protocol.

    `input`: "image" feeds N×C×H×W, "flat" N×(C·H·W) (the PyTorch-examples VAE), "auto" tries
    image then flat. `output`: whether decode returns "logits" or "means" (probabilities for a
    Bernoulli likelihood); "auto" decides from a probe (all values in [0, 1]: means).
    `latent_dim` only when an encoder returns one tensor of 2·d. The choices made are in the
    wrapped model's `notes`."""
    if isinstance(module, LatentModel):
        return module  # already one of ours (or wrapped)
    for name in ("encode", "decode"):
        if not callable(getattr(module, name, None)):
            raise ModelError(f"{type(module).__name__} has no {name}() method: the explorer needs "
                             "encode(x) → (mu, logvar) and decode(z) → image parameters")
    _check_choice("input", input, INPUTS)
    _check_choice("output", output, OUTPUTS)
    _check_choice("likelihood", likelihood, LIKELIHOODS)
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ModelError(f"image shape must be C,H,W, got {image_shape}")
    module = module.cpu().eval()
    notes: list[str] = []
    layout, codes = _probe_encoder(module, image_shape, input, notes)
    mu, logvar = split_codes(codes, latent_dim)
    if logvar is None and latent_dim is None and mu.shape[1] % 2 == 0 and not _decodes(module, mu.shape[1]) \
            and _decodes(module, mu.shape[1] // 2):
        mu, logvar = split_codes(codes, mu.shape[1] // 2)  # 2·d outputs, and decode takes d
        notes.append(f"encode: {2 * mu.shape[1]} outputs read as mu and logvar, decode takes {mu.shape[1]}")
    d = mu.shape[1]
    wrapped = WrappedModel(module, image_shape, d, logvar is not None, likelihood, sigma, layout,
                           "logits")
    wrapped.output = _probe_decoder(wrapped, output, likelihood, notes)
    wrapped.notes = notes
    return wrapped


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ModelError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


@torch.no_grad()
def _probe_encoder(module: nn.Module, image_shape: tuple[int, int, int], input: str,
                   notes: list[str]) -> tuple[str, object]:
    """Which input layout the encoder reads, and what it returns for a probe batch."""
    x = torch.rand(PROBE_ITEMS, *image_shape, generator=torch.Generator().manual_seed(0))
    layouts = ("image", "flat") if input == "auto" else (input,)
    failures = []
    for layout in layouts:
        try:
            out = module.encode(x.flatten(1) if layout == "flat" else x)
            split_codes(out)
        except ModelError:
            raise
        except Exception as exc:  # the module's own error: try the next layout, report if none
            read_as = f"N×{math.prod(image_shape)}" if layout == "flat" else "N×C×H×W"
            failures.append(f"{layout} input ({read_as}): {last_line(exc)}")
            continue
        mu = out[0] if isinstance(out, (tuple, list)) else out
        if len(mu) != PROBE_ITEMS:
            failures.append(f"{layout} input: encode returned {len(mu)} rows for {PROBE_ITEMS} items")
            continue
        if not all(torch.isfinite(t).all() for t in (out if isinstance(out, (tuple, list)) else (out,))[:2]):
            raise ModelError("encode returned NaN or infinite values for images in [0, 1]")
        if input == "auto":
            notes.append(f"input: {layout} ({'N×C×H×W' if layout == 'image' else 'N×C·H·W, flattened'}), "
                         "the first layout the encoder accepted")
        return layout, out
    raise ModelError("the encoder does not read images of shape "
                     f"{'×'.join(map(str, image_shape))}: " + "; ".join(failures))


@torch.no_grad()
def _decodes(module: nn.Module, d: int) -> bool:
    """Whether the decoder accepts codes of d dimensions."""
    try:
        module.decode(torch.zeros(PROBE_ITEMS, d))
    except Exception:
        return False
    return True


@torch.no_grad()
def _probe_decoder(wrapped: WrappedModel, output: str, likelihood: str, notes: list[str]) -> str:
    """Check decode's shape and values on z ~ N(0, I); decide logits or means when asked."""
    z = torch.randn(PROBE_ITEMS, wrapped.latent_dim, generator=torch.Generator().manual_seed(0))
    try:
        raw = wrapped.module.decode(z)
    except Exception as exc:
        raise ModelError(f"decode fails on codes of {wrapped.latent_dim} dimensions (what encode "
                         f"returns): {last_line(exc)}") from exc
    if not isinstance(raw, torch.Tensor):
        raise ModelError(f"decode returned {type(raw).__name__}, not a tensor")
    shape = wrapped.config.image_shape
    if raw.numel() != PROBE_ITEMS * math.prod(shape):
        raise ModelError(f"decode returned {tuple(raw.shape)} for {PROBE_ITEMS} codes, which does not "
                         f"fit images of shape {'×'.join(map(str, shape))}")
    if not torch.isfinite(raw).all():
        raise ModelError("decode returned NaN or infinite values for z ~ N(0, I)")
    if output != "auto":
        return output
    if likelihood == "gaussian":
        notes.append("output: means (a Gaussian likelihood)")
        return "means"
    chosen = "means" if bool(((raw >= 0) & (raw <= 1)).all()) else "logits"
    notes.append(f"output: {chosen} ({'every value in [0, 1]' if chosen == 'means' else 'values outside [0, 1]'})")
    return chosen
