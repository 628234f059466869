"""Training throughput: our Trainer against the canonical PyTorch-examples VAE loop.

Both train the same model (MLP 784-400-20, Bernoulli likelihood, batch 128, Adam 1e-3)
on the same 60,000 synthetic 28×28 images, with the same torch threads, in one process,
alternating so machine noise hits both. Prints samples/s of each and the ratio.

    python benchmarks/train_throughput.py [--epochs 3] [--n 60000] [--threads 2]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from latentexplorer.config import ModelConfig, RunConfig, TrainConfig
from latentexplorer.data.base import ImageSet
from latentexplorer.models import build_model
from latentexplorer.training.trainer import Trainer


def synthetic_images(n: int, seed: int = 0) -> np.ndarray:
    """Blurry random blobs as uint8 images: MNIST-like sparsity without a download."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28]
    cy, cx = rng.uniform(8, 20, (2, n, 1, 1))
    r = rng.uniform(3, 8, (n, 1, 1))
    images = (np.hypot(yy - cy, xx - cx) < r) * 255
    return images.astype(np.uint8)[:, None]


class CanonicalVAE(nn.Module):
    """pytorch/examples vae/main.py, verbatim in structure."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def canonical_epochs(images: np.ndarray, epochs: int) -> float:
    """samples/s of the canonical loop: DataLoader over a TensorDataset, shuffle=True."""
    torch.manual_seed(0)
    model = CanonicalVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(torch.from_numpy(images).float() / 255), batch_size=128, shuffle=True)
    model.train()
    start = time.perf_counter()
    for _ in range(epochs):
        for (data,) in loader:
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            bce = F.binary_cross_entropy(recon, data.view(-1, 784), reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            (bce + kld).backward()
            optimizer.step()
    return len(images) * epochs / (time.perf_counter() - start)


def trainer_epochs(images: np.ndarray, epochs: int) -> float:
    """samples/s of `latentexplorer.training.Trainer` (validation off, as in the canonical loop)."""
    config = RunConfig(
        model=ModelConfig(image_shape=(1, 28, 28), latent_dim=20, hidden=(400,), architecture="mlp"),
        train=TrainConfig(epochs=epochs, batch_size=128, lr=1e-3, device="cpu"),
    )
    torch.manual_seed(0)
    trainer = Trainer(build_model(config.model), config, ImageSet(images, "synthetic"), None)
    trainer.validate = lambda *a, **k: {"total": 0.0, "recon": 0.0, "kl": 0.0, "kl_per_dim": np.zeros(20)}
    start = time.perf_counter()
    trainer.fit()
    return len(images) * epochs / (time.perf_counter() - start)


def cli_epochs(images: np.ndarray, epochs: int, threads: int) -> float:
    """samples/s reported by `latentexplorer train` itself (a subprocess; the .npz source,
    no validation split), averaged over its epochs: what a user of the command line gets."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "synthetic.npz"
        np.savez(data, images=images)
        result = subprocess.run(
            [sys.executable, "-m", "latentexplorer", "train", "--dataset", "npz", "--data-root", str(data),
             "--val-fraction", "0", "--model", "vae", "--arch", "mlp", "--hidden", "400",
             "--latent-dim", "20", "--batch-size", "128", "--lr", "1e-3", "--epochs", str(epochs),
             "--threads", str(threads), "--device", "cpu", "--quiet", "--out", str(Path(tmp) / "run")],
            capture_output=True, text=True, check=True,
        )
    rates = [float(r.replace(",", "")) for r in re.findall(r"([\d,]+) samples/s", result.stdout)]
    return statistics.mean(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n", type=int, default=60_000)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds; medians reported")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = synthetic_images(args.n)
    ours, theirs, cli = [], [], []
    for _ in range(args.repeats):
        theirs.append(canonical_epochs(images, args.epochs))
        ours.append(trainer_epochs(images, args.epochs))
        cli.append(cli_epochs(images, args.epochs, args.threads))
    base, mine, command = statistics.median(theirs), statistics.median(ours), statistics.median(cli)
    print(f"torch {torch.__version__}, {args.threads} threads, {args.n} images 28x28, {args.epochs} epochs")
    print(f"canonical DataLoader loop : {base:10,.0f} samples/s")
    print(f"latentexplorer Trainer    : {mine:10,.0f} samples/s")
    print(f"ratio (Trainer / baseline): {mine / base:10.2f}x")
    print(f"latentexplorer train (CLI): {command:10,.0f} samples/s   ratio {command / base:.2f}x")


if __name__ == "__main__":
    main()
