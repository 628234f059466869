"""Click → preview on a user's own model (wrapped by `latentexplorer.wrap`) against the same
network as one of ours.

The bundled sprites β-VAE (MLP 1024-400-200-8) on N generated 32×32 sprites. The "user's"
model is a plain `nn.Module` written as users write one (its layers in `nn.Sequential`,
encode → (mu, logvar), decode → a flat N×1024 row), with our network's weights copied in: the
same arithmetic on both sides, so any difference is the wrapper's. Two variants: decode
returning logits, and returning probabilities (a sigmoid, as the PyTorch-examples VAE does),
which the wrapper turns into logits for the likelihood but shows as they are. One main window (offscreen Qt) on the same codes
and mixture colours, its model swapped every round (`Session.use_model`; in turn, the order
alternated), since two windows on one model differ by ~10 % (the first window created clicks
faster); after a swap two untimed clicks rebuild the picking caches, then clicks as
`interaction.py` makes them (the pointer rests on a point, then the press, until the
reconstruction tile has painted). Also timed without the app: one `mean(z)` on each side.

    QT_QPA_PLATFORM=offscreen python benchmarks/wrapped_click.py [--n 70000] [--rounds 20] [--clicks 8]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from interaction import (  # noqa: E402
    PaintProbe,
    click_times,
    settle,
    summary,
    visible_points,
)
from PySide6.QtWidgets import QApplication  # noqa: E402
from torch import nn  # noqa: E402

TARGET = 1.2  # wrapped / ours, click → preview median


class UsersVAE(nn.Module):
    """A VAE as a user writes it: Sequential stacks, flat rows in and out."""

    def __init__(self, encoder: nn.Sequential, decoder: nn.Sequential, latent: int,
                 probabilities: bool) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.latent, self.probabilities = latent, probabilities

    def encode(self, x):
        h = self.encoder(x.view(len(x), -1))
        return h[:, :self.latent], h[:, self.latent:]

    def decode(self, z):
        out = self.decoder(z)
        return torch.sigmoid(out) if self.probabilities else out


def wrapped_run(ours, probabilities: bool):
    """Our run's network as the user's module, wrapped, in an in-memory run as `open` makes."""
    from latentexplorer.checkpoint import Run
    from latentexplorer.config import RunConfig
    from latentexplorer.models import wrap

    module = UsersVAE(copy.deepcopy(ours.model.encoder.net), copy.deepcopy(ours.model.decoder.net),
                      ours.config.model.latent_dim, probabilities)
    model = wrap(module, image_shape=ours.config.model.image_shape)
    expected = "means" if probabilities else "logits"
    if model.output != expected or model.input_layout != "image":
        raise RuntimeError(f"the probe read {model.output}/{model.input_layout}, not {expected}/image")
    name = f"wrapped-{'probabilities' if probabilities else 'logits'}"
    return Run(folder=Path(name), config=RunConfig(model=model.config, data=ours.config.data, name=name),
               model=model, state={"user_model": name})


def open_window(app, run, images, codes):
    """The main window on `run`, its mixture fitted (in a worker, as for any large set)."""
    from latentexplorer.gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1480, 900)
    window.show()
    window.session.use_model(run, images, codes)
    started = time.perf_counter()
    while window.session.colouring.mixture is None:
        app.processEvents()
        time.sleep(0.01)
        if time.perf_counter() - started > 300:
            raise TimeoutError("the mixture was not fitted")
    window.session.shutdown()
    settle(app, window)
    return window


def swap(app, window, run, images, codes, fits) -> None:
    """Show `run` on the same codes, with the same mixture (no refit)."""
    window.session.use_model(run, images, codes, fit=False)
    window.session.colouring.apply_fit(fits)
    settle(app, window)


@torch.no_grad()
def decode_times(models: dict[str, nn.Module], z: torch.Tensor, rounds: int = 300) -> dict[str, float]:
    """Median µs of one `mean(z)` (what a click decodes) per model, interleaved."""
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            started = time.perf_counter()
            model.mean(z)
            times[name].append((time.perf_counter() - started) * 1e6)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=70_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--clicks", type=int, default=8, help="timed clicks per model per round")
    args = parser.parse_args()

    from latentexplorer.analysis.evaluation import encode_all
    from latentexplorer.bundled import bundled_run
    from latentexplorer.checkpoint import load_run
    from latentexplorer.data.sprites import make_sprites
    from latentexplorer.models.base import eval_copy

    ours = load_run(bundled_run("sprites-betavae"))
    runs = {"ours": ours, "wrapped, logits": wrapped_run(ours, False),
            "wrapped, probabilities": wrapped_run(ours, True)}
    z = torch.randn(9, ours.config.model.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = ours.model.eval().mean(z)
        for name, run in runs.items():  # the same network: the same images (to the logit round trip)
            if not torch.allclose(run.model.eval().mean(z), reference, atol=1e-4):
                raise RuntimeError(f"{name} does not decode as ours")
    images = make_sprites(args.n, size=32, seed=1)
    codes = encode_all(ours.model.eval(), images, batch_size=4096)
    app = QApplication.instance() or QApplication([])
    window = open_window(app, ours, images, codes)
    colouring = window.session.colouring
    fits = (colouring.mixture, colouring.kmeans, colouring.bic)
    probe = PaintProbe(window.preview.tiles[1].picture)
    print(f"{args.n:,} sprites 32×32, the bundled sprites β-VAE's MLP (1024-400-200-8) as ours and "
          f"as a user's module wrapped; window 1480×900, {args.rounds} rounds × {args.clicks} clicks "
          "per model, the model swapped between them")

    rng = np.random.default_rng(0)
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        points = visible_points(window, rng, args.clicks + 2)
        for name in (names if r % 2 == 0 else names[::-1]):
            swap(app, window, runs[name], images, codes, fits)
            if not np.allclose(window.session.opened.mu, codes[0]):
                raise RuntimeError("the window does not show the same codes")
            times[name] += click_times(app, window, probe, points)[2:]  # two clicks fill the caches
    base = statistics.median(times["ours"])
    verdicts = []
    for name in names:
        ratio = statistics.median(times[name]) / base
        line = f"click → preview painted, {name:<22}: {summary(times[name])}"
        if name != "ours":
            ok = ratio <= TARGET
            verdicts.append(ok)
            line += f"   {ratio:.2f}× ours   target ≤ {TARGET}× {'✓' if ok else '✗'}"
        print(line)
    micro = decode_times({name: eval_copy(run.model) for name, run in runs.items()}, z[:1])
    print("one mean(z) without the app: " + ", ".join(f"{name} {us:.0f} µs" for name, us in micro.items()))
    window.close()
    print("wrapped click target met" if all(verdicts) else "wrapped click target missed")


if __name__ == "__main__":
    main()
