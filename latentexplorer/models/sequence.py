"""The sequence VAE: a recurrent encoder and decoder for pen trajectories (Bowman et al. 2016).

Items are padded sequences x (1×T×F: coordinates, then a present flag). A bidirectional GRU
reads the present steps only (packed by length) into q(z|x). The decoder is a GRU whose
initial state comes from z and which sees z again at every step beside the previous point
(teacher forcing in training); per step it gives a Gaussian over the pen position (σ
learned per step with `gaussian-learned`, fixed with `gaussian`) and a Bernoulli
end-of-sequence logit. Padded steps are masked out of log p(x|z).

A strong autoregressive decoder can model the data without z, so the KL term alone can
switch every unit off (posterior collapse); KL warm-up, the default for this kind, lets the
decoder learn to use z first. For the explorer, `decode(z)` generates a trajectory step by
step until end-of-sequence, and `mean(z)` draws it, so every view shows trajectories.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from latentexplorer.config import ModelConfig
from latentexplorer.data.strokes import DISPLAY_SIZE, render_strokes
from latentexplorer.models.base import LOGVAR_MAX, LOGVAR_MIN, LossTerms, Posterior
from latentexplorer.models.vae import VAE

LOG_SIGMA_MIN, LOG_SIGMA_MAX = -7.0, 2.0
INPUT_DROPOUT = 0.5
"""In training, the share of steps whose previous point the decoder does not see (Bowman et
al.'s word dropout): it must then read the trajectory from z, which keeps z in use."""
END_THRESHOLD = 0.5
"""Generation stops once the probability that the sequence has ended, the product of the
per-step end probabilities' complements, passes this: the median of the predicted length."""


def sequence_lengths(x: torch.Tensor) -> torch.Tensor:
    """Present steps per item of a batch N×1×T×F (the last feature is the present flag)."""
    return (x[:, 0, :, -1] > 0.5).sum(-1)


class SequenceEncoder(nn.Module):
    """Bidirectional GRU over the present steps → the parameters of q(z|x)."""

    def __init__(self, coords: int, hidden: int, out: int) -> None:
        super().__init__()
        self.gru = nn.GRU(coords, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        points = x[:, 0, :, :-1]
        lengths = sequence_lengths(x).clamp(min=1).cpu()
        packed = pack_padded_sequence(points, lengths, batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)  # 2 × N × hidden: the last state of each direction
        return self.head(torch.cat([h[0], h[1]], dim=-1).float())


class SequenceDecoder(nn.Module):
    """GRU conditioned on z (initial state and every input) → per step μ, log σ, end logit."""

    def __init__(self, latent_dim: int, coords: int, hidden: int) -> None:
        super().__init__()
        self.coords = coords
        self.init = nn.Linear(latent_dim, hidden)
        self.gru = nn.GRU(coords + latent_dim, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2 * coords + 1)

    def initial_state(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.init(z)).unsqueeze(0)

    def forward(
        self, z: torch.Tensor, previous: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs N×T×(2·coords + 1) for the previous points N×T×coords, and the last state."""
        state = self.initial_state(z) if state is None else state
        inputs = torch.cat([previous, z.unsqueeze(1).expand(-1, previous.shape[1], -1)], dim=-1)
        out, state = self.gru(inputs, state)
        return self.head(out).float(), state


class SequenceVAE(VAE):
    """A VAE over padded trajectories; β, warm-up, capacity and free bits as in `VAE`."""

    def __init__(self, config: ModelConfig) -> None:
        nn.Module.__init__(self)
        self.config = config
        _, self.max_length, features = config.image_shape
        self.coords = features - 1
        hidden = config.hidden[0]
        self.encoder = SequenceEncoder(self.coords, hidden, 2 * config.latent_dim)
        self.decoder = SequenceDecoder(config.latent_dim, self.coords, hidden)
        self.register_buffer("fixed_log_sigma", torch.tensor(math.log(config.sigma)))

    def encode(self, x: torch.Tensor) -> Posterior:
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return Posterior(mu, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX))

    def forward(self, x: torch.Tensor, progress: float | None = None) -> LossTerms:
        # fp32 even under bf16 autocast: at these widths the casts around each GRU step cost
        # several times what bf16 saves (an epoch took 7× longer on an AMX CPU).
        with torch.autocast(x.device.type, enabled=False):
            return self._terms(x, progress)

    def _terms(self, x: torch.Tensor, progress: float | None) -> LossTerms:
        posterior = self.encode(x)
        z = posterior.rsample()
        recon = -self.log_px_given_z(x, z).mean()
        kl_per_dim = posterior.kl_per_dim().mean(0)
        kl = kl_per_dim.sum()
        reg = self.regulariser(kl_per_dim, progress)
        return LossTerms(recon=recon, kl=kl, kl_per_dim=kl_per_dim, reg=reg, total=recon + reg)

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per item with teacher forcing: the positions and the end flag of every
        present step, padded steps masked out."""
        seq = x[:, 0]
        points, present = seq[..., :-1], seq[..., -1] > 0.5
        previous = torch.cat([torch.zeros_like(points[:, :1]), points[:, :-1]], dim=1)
        if self.training and INPUT_DROPOUT > 0:
            keep = torch.rand(previous.shape[:2], device=x.device) >= INPUT_DROPOUT
            previous = previous * keep.unsqueeze(-1)
        out, _ = self.decoder(z, previous)
        mu, log_sigma, end_logit = self._split(out)
        per_coord = -0.5 * ((points - mu) * torch.exp(-log_sigma)).pow(2) - log_sigma - 0.5 * math.log(2 * math.pi)
        lengths = present.sum(-1, keepdim=True)
        is_end = (torch.arange(seq.shape[1], device=x.device)[None] == lengths - 1).to(end_logit.dtype)
        end_ll = -nn.functional.binary_cross_entropy_with_logits(end_logit, is_end, reduction="none")
        per_step = per_coord.sum(-1) + end_ll
        return torch.where(present, per_step, torch.zeros_like(per_step)).sum(-1)

    def _split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.coords
        mu, end_logit = out[..., :c], out[..., -1]
        if self.config.likelihood == "gaussian-learned":
            log_sigma = out[..., c : 2 * c].clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX)
        else:
            log_sigma = self.fixed_log_sigma.expand_as(mu)
        return mu, log_sigma, end_logit

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The trajectory generated from z, N×1×T×F like the data: each step feeds its mean
        position to the next, until the end flag fires or T steps are drawn."""
        n = z.shape[0]
        out = torch.zeros(n, self.max_length, self.coords + 1, device=z.device)
        previous = torch.zeros(n, 1, self.coords, device=z.device)
        alive = torch.ones(n, dtype=torch.bool, device=z.device)
        survival = torch.ones(n, device=z.device)
        state = None
        for t in range(self.max_length):
            step, state = self.decoder(z, previous, state)
            mu, _, end_logit = self._split(step[:, 0])
            out[:, t, : self.coords] = torch.where(alive[:, None], mu, out[:, t, : self.coords])
            out[:, t, -1] = alive.float()
            survival = survival * (1.0 - torch.sigmoid(end_logit))
            alive = alive & (survival > END_THRESHOLD)
            if not bool(alive.any()):
                break
            if INPUT_DROPOUT < 1.0:  # an inputless decoder (dropout 1) never sees its points
                previous = mu.unsqueeze(1)
        return out.unsqueeze(1)

    @torch.no_grad()
    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """The generated trajectory drawn as an RGB image N×3×64×64 in [0, 1]."""
        seq = self.decode(z)[:, 0].cpu().numpy()
        lengths = (seq[..., -1] > 0.5).sum(-1)
        return torch.from_numpy(render_strokes(seq[..., :2], lengths, DISPLAY_SIZE)).to(z.device)
