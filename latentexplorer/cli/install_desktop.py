"""`latentexplorer install-desktop [--uninstall]`: the desktop-menu entry (Linux, current user)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    desktop = sub.add_parser(
        "install-desktop", help="add LatentExplorer to the desktop menu (Linux, current user)"
    )
    desktop.add_argument("--uninstall", action="store_true", help="remove what install-desktop wrote")
    desktop.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    return desktop


def run(args: argparse.Namespace) -> int:
    from latentexplorer.desktop import data_home, install_desktop, uninstall_desktop

    data = args.data_dir if args.data_dir is not None else data_home()
    if args.uninstall:
        removed = uninstall_desktop(data)
        for path in removed:
            print(f"removed {path}")
        print("LatentExplorer is no longer in the desktop menu." if removed
              else f"nothing to remove: no LatentExplorer desktop files under {data}")
        return 0
    for path in install_desktop(data):
        print(f"wrote {path}")
    print("LatentExplorer is now in the desktop menu (log out and in if it does not show yet); "
          "`latentexplorer install-desktop --uninstall` removes it.")
    return 0
