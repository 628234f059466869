"""Encoder and decoder networks, chosen from the image shape (no hard-coded 784 or 64 px)."""

from __future__ import annotations

import math

import torch
from torch import nn

from latentexplorer.config import ModelConfig


def mlp(widths: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    def __init__(self, image_shape: tuple[int, int, int], hidden: tuple[int, ...], out: int) -> None:
        super().__init__()
        self.net = mlp([math.prod(image_shape), *hidden, out])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(start_dim=1))


class MLPDecoder(nn.Module):
    def __init__(self, latent_dim: int, hidden: tuple[int, ...], image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape = image_shape
        self.net = mlp([latent_dim, *reversed(hidden), math.prod(image_shape)])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).unflatten(-1, self.image_shape)


def conv_sizes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """Spatial sizes after each stride-2 level (kernel 4, padding 1 halves and floors)."""
    sizes = [(height, width)]
    for _ in range(levels):
        h, w = sizes[-1]
        if min(h, w) < 4:
            break
        sizes.append((h // 2, w // 2))
    return sizes


class ConvEncoder(nn.Module):
    def __init__(
        self, image_shape: tuple[int, int, int], channels: tuple[int, ...], hidden: int, out: int
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        sizes = conv_sizes(h, w, len(channels))
        chans = [c, *channels[: len(sizes) - 1]]
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(a, b, 4, stride=2, padding=1), nn.ReLU()]
        self.conv = nn.Sequential(*layers)
        fh, fw = sizes[-1]
        self.head = mlp([chans[-1] * fh * fw, hidden, out])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).flatten(start_dim=1))


class ConvDecoder(nn.Module):
    """Mirror of ConvEncoder; output padding restores odd sizes (28 → 14 → 7 → 3 and back)."""

    def __init__(
        self, latent_dim: int, hidden: int, channels: tuple[int, ...], image_shape: tuple[int, int, int]
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        sizes = conv_sizes(h, w, len(channels))
        chans = [c, *channels[: len(sizes) - 1]]
        self.start = (chans[-1], *sizes[-1])
        self.head = nn.Sequential(mlp([latent_dim, hidden, math.prod(self.start)]), nn.ReLU())
        layers: list[nn.Module] = []
        for level in range(len(sizes) - 1, 0, -1):
            (th, tw), (sh, sw) = sizes[level - 1], sizes[level]
            layers.append(
                nn.ConvTranspose2d(
                    chans[level], chans[level - 1], 4, stride=2, padding=1,
                    output_padding=(th - 2 * sh, tw - 2 * sw),
                )
            )
            if level > 1:
                layers.append(nn.ReLU())
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.head(z).unflatten(-1, self.start))


def build_networks(
    config: ModelConfig, encoder_outputs: int, decoder_channels: int
) -> tuple[nn.Module, nn.Module]:
    """Encoder (image → encoder_outputs features) and decoder (z → decoder_channels×H×W)."""
    c, h, w = config.image_shape
    out_shape = (decoder_channels, h, w)
    if config.resolved_architecture == "conv":
        hidden = config.hidden[0]
        return (
            ConvEncoder(config.image_shape, config.channels, hidden, encoder_outputs),
            ConvDecoder(config.latent_dim, hidden, config.channels, out_shape),
        )
    return (
        MLPEncoder(config.image_shape, config.hidden, encoder_outputs),
        MLPDecoder(config.latent_dim, config.hidden, out_shape),
    )
