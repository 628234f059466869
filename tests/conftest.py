"""Shared fixtures. Qt runs headless; logs go to a temporary folder.

`run_cli` runs the command line in this process, as `python -m latentexplorer` would run it
(exit status, stdout, stderr); tests keep a subprocess only where the process itself is what
they check (Ctrl-C, torchrun, the `-m` entry point, imports).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# OpenMP threads that wait for work sleep instead of spinning; set before torch loads its
# runtime, and inherited by the command-line subprocesses. On a busy 2-core machine spinning
# threads take the cores from the one that has work: a 5-epoch CLIP run took 20-30 s with
# two spinning threads, 3 s with two sleeping ones.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import contextlib  # noqa: E402
import io  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))
# One probe cache for the session (`--precision auto` times bf16 once per model shape), never
# the user's own.
os.environ.setdefault("LATENTEXPLORER_CACHE_DIR", tempfile.mkdtemp(prefix="latentexplorer-cache-"))


@pytest.fixture(autouse=True)
def _private_log_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LATENTEXPLORER_LOG_DIR", str(tmp_path_factory.mktemp("logs")))


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_blas():
    """BLAS runs single-threaded: scikit-learn's and numpy's many small matrix products (factor
    analysis, mixtures) are ~50× slower on a busy 2-core machine with OpenBLAS's two threads
    waiting on each other (a factor analysis of the digits: 5 s instead of 0.1 s)."""
    import scipy.linalg  # noqa: F401  (its own OpenBLAS, loaded now so that the limit reaches it)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def _python_default_warning_filters() -> None:
    """The filters of a plain `python` process, so that a warning the command would print on
    its stderr is counted here as there (pytest's own filters record, or show, others)."""
    warnings.resetwarnings()
    for category in (ResourceWarning, ImportWarning, PendingDeprecationWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")


@contextlib.contextmanager
def _fd_stderr(sink: io.StringIO):
    """What C code writes to file descriptor 2 meanwhile, appended to `sink`."""
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as capture:
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            sink.write(capture.read().decode("utf-8", "replace"))


def run_cli_in_process(*args: str) -> CliResult:
    """`latentexplorer ARGS` as `raise SystemExit(main())` runs it: its exit status (argparse's
    and --version's SystemExit included), what it printed, and on stderr as well any warning
    or logged warning a plain interpreter would show there. An exception that `main` lets out
    is raised here, failing the test as a traceback would. torch's thread count (--threads)
    is put back afterwards."""
    from latentexplorer.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    threads = torch.get_num_threads()
    handler = logging.StreamHandler(stderr)  # stands in for logging's last-resort handler
    handler.setLevel(logging.WARNING)
    logging.getLogger().addHandler(handler)
    try:
        with (warnings.catch_warnings(record=True) as caught, _fd_stderr(stderr),
              contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr)):
            _python_default_warning_filters()
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=stderr)
            code = 1
    finally:
        logging.getLogger().removeHandler(handler)
        torch.set_num_threads(threads)
    for w in caught:
        stderr.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))
    return CliResult(code, stdout.getvalue(), stderr.getvalue())


@pytest.fixture(scope="session")
def run_cli():
    """`run_cli_in_process`, for tests and fixtures of any scope."""
    return run_cli_in_process


USER_VAE_SOURCE = textwrap.dedent('''
    import torch
    import torch.nn.functional as F
    from torch import nn


    class VAE(nn.Module):
        """pytorch/examples vae/main.py at 8×8 (scikit-learn's digits)."""

        def __init__(self, hidden=32, latent=3):
            super().__init__()
            self.fc1 = nn.Linear(64, hidden)
            self.fc21 = nn.Linear(hidden, latent)
            self.fc22 = nn.Linear(hidden, latent)
            self.fc3 = nn.Linear(latent, hidden)
            self.fc4 = nn.Linear(hidden, 64)

        def encode(self, x):
            h1 = F.relu(self.fc1(x.view(-1, 64)))
            return self.fc21(h1), self.fc22(h1)

        def decode(self, z):
            return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))
''')


@pytest.fixture(scope="session")
def user_vae_source() -> str:
    """A user's own VAE file, written as users write it (plain PyTorch, none of our classes)."""
    return USER_VAE_SOURCE


USER_CONV_VAE_SOURCE = textwrap.dedent('''
    import torch
    from torch import nn


    class ConvVAE(nn.Module):
        """A small conv VAE: N×1×H×W images in (H = W = 8 or 28), Bernoulli logits out."""

        def __init__(self, latent=3, size=8):
            super().__init__()
            self.side = size // 4
            self.encoder = nn.Sequential(
                nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                nn.Flatten(),
            )
            self.fc_mu = nn.Linear(32 * self.side ** 2, latent)
            self.fc_logvar = nn.Linear(32 * self.side ** 2, latent)
            self.fc_decode = nn.Linear(latent, 32 * self.side ** 2)
            self.decoder = nn.Sequential(
                nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),
                nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1),
            )

        def encode(self, x):
            h = self.encoder(x)
            return self.fc_mu(h), self.fc_logvar(h)

        def decode(self, z):
            h = torch.relu(self.fc_decode(z)).view(-1, 32, self.side, self.side)
            return self.decoder(h)
''')


@pytest.fixture(scope="session")
def user_conv_vae_source() -> str:
    """A user's own conv VAE file: images in, (mu, logvar) by Linear heads, logits out."""
    return USER_CONV_VAE_SOURCE


@dataclass(frozen=True)
class TrainedUserModel:
    """A user's model file, its weights trained for a moment on the digits and saved with
    `torch.save(model.state_dict(), …)`, and the flags that open it."""

    name: str  # "mlp" (the PyTorch-examples VAE) or "conv"
    folder: Path
    file: Path  # the .py file the user wrote
    spec: str  # the class, as --model takes it with --model-file
    weights: Path
    data_flags: tuple[str, ...]  # the data it reads, as command-line flags
    image_shape: tuple[int, int, int]
    decode_returns: str  # "probabilities" or "logits"

    @property
    def flags(self) -> list[str]:
        """What `open`, `evaluate` and `encode` need for this model and its data."""
        return ["--model", self.spec, "--model-file", str(self.file), "--weights", str(self.weights),
                *self.data_flags]

    def load(self) -> torch.nn.Module:
        """The user's module, built with its defaults and the trained weights, in eval mode."""
        from latentexplorer.models.user_model import load_model_class

        module = load_model_class(self.spec, self.file)()
        module.load_state_dict(torch.load(self.weights, weights_only=True))
        return module.eval()

    @torch.no_grad()
    def images(self, z) -> np.ndarray:
        """The user's own decode of codes z as images in [0, 1], N×C×H×W."""
        module = self.load()
        out = module.decode(torch.as_tensor(np.atleast_2d(z), dtype=torch.float32))
        out = torch.sigmoid(out) if self.decode_returns == "logits" else out
        return out.reshape(-1, *self.image_shape).numpy()


def _train_for_a_moment(module: torch.nn.Module, x: torch.Tensor, logits: bool, steps: int = 150) -> None:
    """The users' own loop (PyTorch's VAE example): Adam, BCE plus the closed-form KL."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits if logits else torch.nn.functional.binary_cross_entropy
    optimiser = torch.optim.Adam(module.parameters(), lr=1e-2)
    torch.manual_seed(0)
    for _ in range(steps):
        batch = x[torch.randint(0, len(x), (64,))]
        mu, logvar = module.encode(batch)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        recon = bce(module.decode(z).reshape(batch.shape), batch, reduction="sum")
        loss = (recon - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())) / len(batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


@pytest.fixture(scope="session")
def trained_user_models(tmp_path_factory, user_vae_source, user_conv_vae_source) -> dict[str, TrainedUserModel]:
    """{"mlp": the PyTorch-examples VAE, "conv": a conv VAE}, both as users write them, trained
    on the digits (8×8, bundled) for 150 steps (about a second each) and saved as state_dicts
    in one folder: my_vae.py / vae.pt and my_conv_vae.py / conv_vae.pt."""
    from latentexplorer.config import DataConfig
    from latentexplorer.data import load_dataset
    from latentexplorer.models.user_model import load_model_class

    folder = tmp_path_factory.mktemp("user_models")
    x = load_dataset(DataConfig(name="digits")).float_batch(np.arange(1797))
    models = {}
    for name, source, stem, cls, returns in (("mlp", user_vae_source, "vae", "VAE", "probabilities"),
                                              ("conv", user_conv_vae_source, "conv_vae", "ConvVAE", "logits")):
        file = folder / f"my_{stem}.py"
        file.write_text(source)
        spec = f"my_{stem}:{cls}"
        torch.manual_seed(0)
        module = load_model_class(spec, file)()
        _train_for_a_moment(module, x, logits=returns == "logits")
        torch.save(module.state_dict(), folder / f"{stem}.pt")
        models[name] = TrainedUserModel(name, folder, file, spec, folder / f"{stem}.pt", ("--data", "digits"),
                                        (1, 8, 8), returns)
    return models


PLUGIN_SOURCE = '''
import torch
from torch import nn

import latentexplorer


class TinyVAE(nn.Module):
    def __init__(self, latent=3, side=8):
        super().__init__()
        self.side = side
        self.enc = nn.Linear(side * side, 2 * latent)
        self.dec = nn.Linear(latent, side * side)

    def encode(self, x):
        return self.enc(x.flatten(1)).chunk(2, dim=1)

    def decode(self, z):
        return self.dec(z).view(-1, 1, self.side, self.side)


def tiny_vae():
    torch.manual_seed(1)
    return latentexplorer.wrap(TinyVAE(), image_shape=(1, 8, 8))


def plain_module():
    return TinyVAE(latent=4)


MAPPED = {"model": TinyVAE, "weights": "tiny.pt", "image_shape": (1, 8, 8), "data": "digits",
          "init": {"latent": 5}}
SPRITES_16 = {"model": TinyVAE, "weights": "tiny16.pt", "image_shape": (1, 16, 16), "data": "sprites",
              "init": {"side": 16}}
NO_WEIGHTS = {"model": TinyVAE}
NOT_A_MODEL = 3


def broken():
    raise RuntimeError("no GPU here")
'''

ENTRY_POINTS = """[latentexplorer.models]
tiny-factory = lex_plugin_pkg:tiny_vae
tiny-plain = lex_plugin_pkg:plain_module
tiny-mapped = lex_plugin_pkg:MAPPED
sprites-16 = lex_plugin_pkg:SPRITES_16
no-weights = lex_plugin_pkg:NO_WEIGHTS
not-a-model = lex_plugin_pkg:NOT_A_MODEL
broken = lex_plugin_pkg:broken
missing-module = lex_no_such_pkg:thing
"""


def install_plugin(folder, monkeypatch) -> None:
    """A package `lex-plugin` with its model module, weights and entry points, importable."""
    package = folder / "lex_plugin_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(PLUGIN_SOURCE)
    info = folder / "lex_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lex-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(folder))
    import lex_plugin_pkg

    torch.manual_seed(2)
    torch.save(lex_plugin_pkg.TinyVAE(latent=5).state_dict(), package / "tiny.pt")
    torch.save(lex_plugin_pkg.TinyVAE(side=16).state_dict(), package / "tiny16.pt")


@pytest.fixture
def model_plugin(tmp_path, monkeypatch):
    """A package `lex-plugin` registering models under `latentexplorer.models` (a factory, a
    plain module, a class with weights, and broken ones), installed as a .dist-info on sys.path."""
    install_plugin(tmp_path, monkeypatch)
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("lex_plugin_pkg")]:
        del sys.modules[name]
