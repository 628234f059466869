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

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


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
