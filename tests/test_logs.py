"""Errors the GUI reports land in a rotating log file in the user's log folder."""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler

from latentexplorer.logs import get_logger, log_dir, setup_logging


def test_errors_are_written_to_a_rotating_log(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTEXPLORER_LOG_DIR", str(tmp_path))
    logger = logging.getLogger("latentexplorer")
    saved = list(logger.handlers)
    logger.handlers = [h for h in saved if not isinstance(h, RotatingFileHandler)]
    try:
        path = setup_logging()
        assert path == tmp_path / "latentexplorer.log"
        assert setup_logging() == path  # idempotent: one handler only
        get_logger("gui").error("could not open %s", "/some/run")
        for handler in logger.handlers:
            handler.flush()
        assert "ERROR latentexplorer.gui: could not open /some/run" in path.read_text()
    finally:
        for handler in logger.handlers:
            if handler not in saved:
                handler.close()
        logger.handlers = saved


def test_default_log_folder_is_per_user(monkeypatch, tmp_path):
    monkeypatch.delenv("LATENTEXPLORER_LOG_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert str(log_dir()).startswith(str(tmp_path))
