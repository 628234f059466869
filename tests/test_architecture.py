"""Rules that keep the project's shape: the core never imports Qt."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "latentexplorer.config", "latentexplorer.checkpoint", "latentexplorer.data",
    "latentexplorer.models", "latentexplorer.analysis.metrics", "latentexplorer.analysis.evaluation",
    "latentexplorer.analysis.paths", "latentexplorer.training", "latentexplorer.cli",
    "latentexplorer.bundled", "latentexplorer.logs",
]


def test_core_never_imports_qt():
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in CORE)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'superqt'))\n"
        + "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
