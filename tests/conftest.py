"""Shared fixtures. Qt runs headless; logs go to a temporary folder."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def _private_log_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("LATENTEXPLORER_LOG_DIR", str(tmp_path_factory.mktemp("logs")))
