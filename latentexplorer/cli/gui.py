"""`latentexplorer gui [RUN]`: the explorer window (also what no sub-command opens)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    gui = sub.add_parser("gui", help="open the explorer window (the default)")
    gui.add_argument("run", nargs="?", help="run folder to open (default: the bundled digits VAE)")
    return gui


def run(args: argparse.Namespace) -> int:
    # Qt is imported only here, so every other sub-command starts without it.
    from latentexplorer.gui.app import main as gui_main

    return gui_main(getattr(args, "run", None))
