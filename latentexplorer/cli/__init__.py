"""The command line: `latentexplorer [gui|open|train|sweep|evaluate|encode|export-projector|install-desktop]`.

One module per sub-command, each with `add_parser` and `run`; this module only assembles
them, so no sub-command imports another through it. With no sub-command it opens the GUI
on the bundled model. User errors print one line and exit with status 2; no tracebacks.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from latentexplorer.cli import (
    encode,
    evaluate,
    export_projector,
    gui,
    install_desktop,
    open_model,
    sweep,
    train,
)
from latentexplorer.errors import UserError
from latentexplorer.version import __version__

EXIT_USER_ERROR = 2

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "gui": gui.run, "train": train.run, "sweep": sweep.run, "evaluate": evaluate.run,
    "encode": encode.run, "install-desktop": install_desktop.run, "open": open_model.run,
    "export-projector": export_projector.run,
}


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; sub-commands appear in `--help` in this order."""
    parser = argparse.ArgumentParser(
        prog="latentexplorer",
        description="Train and explore the latent spaces of autoencoders, VAEs and beta-VAEs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    gui.add_parser(sub)
    open_model.add_parser(sub)
    train_parser = train.add_parser(sub)
    evaluate.add_parser(sub)
    encode.add_parser(sub)
    export_projector.add_parser(sub)
    sweep.add_parser(sub, train_parser)
    install_desktop.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `latentexplorer` and `python -m latentexplorer`; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command or "gui"](args)
    except UserError as exc:
        print(f"latentexplorer: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


def gui_main() -> int:
    """Entry point of `latentexplorer-gui` (no console window on Windows): `gui [RUN]`."""
    return main(["gui", *sys.argv[1:2]])
