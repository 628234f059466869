"""A rotating log file in the user's log folder, for errors the GUI reports.

The folder follows each platform's convention; LATENTEXPLORER_LOG_DIR overrides it
(tests use it to keep the user's folder clean).
"""

from __future__ import annotations

import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOGGER_NAME = "latentexplorer"


def log_dir() -> Path:
    override = os.environ.get("LATENTEXPLORER_LOG_DIR")
    if override:
        return Path(override)
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / "LatentExplorer" / "Logs"
    if sys.platform == "darwin":
        return home / "Library" / "Logs" / "LatentExplorer"
    return Path(os.environ.get("XDG_STATE_HOME", home / ".local" / "state")) / "latentexplorer" / "log"


def setup_logging(level: int = logging.INFO) -> Path | None:
    """Attach a 1 MB × 3 rotating file handler once; returns the log file (None if unwritable)."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in logger.handlers:
        if isinstance(handler, RotatingFileHandler):
            return Path(handler.baseFilename)
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "latentexplorer.log"
        handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    return path


def get_logger(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)
