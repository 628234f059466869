"""Install a freedesktop menu entry and hicolor icons for the current user (Linux).

`install_desktop()` writes

    <data>/applications/latentexplorer.desktop
    <data>/icons/hicolor/<N>x<N>/apps/latentexplorer.png   (N = 16, 32, 48, 64, 128, 256)
    <data>/icons/hicolor/scalable/apps/latentexplorer.svg

where <data> is `$XDG_DATA_HOME` or `~/.local/share`; `uninstall_desktop()` removes
exactly those files and nothing else. Pure Python: no Qt, no torch.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from latentexplorer.bundled import bundled_path
from latentexplorer.errors import UserError
from latentexplorer.fileio import atomic_write_bytes

APP_ID = "latentexplorer"
ICON_SIZES = (16, 32, 48, 64, 128, 256)
REFRESH_TIMEOUT_S = 20

# Characters that force an Exec argument to be quoted (Desktop Entry spec, "The Exec key").
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
# Characters that must be backslash-escaped inside a quoted Exec argument.
_ESCAPED_IN_QUOTES = set('"`$\\')


def _check_platform() -> None:
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd", "dragonfly")):
        return
    if sys.platform.startswith("win"):
        hint = "on Windows, start the `latentexplorer-gui` launcher in your Python Scripts folder"
    elif sys.platform == "darwin":
        hint = "on macOS, start the `latentexplorer-gui` launcher (e.g. from a Dock alias)"
    else:
        hint = "start the `latentexplorer-gui` launcher instead"
    raise UserError(f"install-desktop is for Linux desktops; {hint}")


def data_home() -> Path:
    """`$XDG_DATA_HOME` when set to an absolute path (per the XDG spec), else `~/.local/share`."""
    value = os.environ.get("XDG_DATA_HOME", "")
    if value and Path(value).is_absolute():
        return Path(value)
    return Path.home() / ".local" / "share"


def _exec_arg(text: str) -> str:
    """One Exec argument, quoted by the Desktop Entry spec's rules where needed.

    Also doubles `%` (field codes). The key-file level escaping of the whole value
    (backslashes, newlines) is left to `_keyfile_value`.
    """
    if any(ch in _RESERVED for ch in text):
        inner = "".join("\\" + ch if ch in _ESCAPED_IN_QUOTES else ch for ch in text)
        text = f'"{inner}"'
    return text.replace("%", "%%")


def _keyfile_value(text: str) -> str:
    """Escape a string value for a key file: backslash, newline, tab, carriage return."""
    return (
        text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )


def launcher_command() -> str:
    """The command that starts the GUI, as an Exec value (without the `%f`).

    The `latentexplorer-gui` script beside the running interpreter when there is one,
    else `latentexplorer gui` there, else `<python> -m latentexplorer gui`.
    """
    if not sys.executable:
        raise UserError("cannot tell which Python runs LatentExplorer (sys.executable is empty)")
    python = Path(sys.executable).absolute()  # not resolve(): a venv's python is a symlink
    gui_script = python.parent / "latentexplorer-gui"
    if gui_script.is_file():
        return _exec_arg(str(gui_script))
    cli_script = python.parent / "latentexplorer"
    if cli_script.is_file():
        # `gui` explicitly: a file passed for %f must not be read as a sub-command.
        return f"{_exec_arg(str(cli_script))} gui"
    return f"{_exec_arg(str(python))} -m latentexplorer gui"


def _targets(data: Path) -> list[tuple[Path, str]]:
    """(installed path, bundled resource name) for every icon; the .desktop file is separate."""
    hicolor = data / "icons" / "hicolor"
    icons = [
        (hicolor / f"{n}x{n}" / "apps" / f"{APP_ID}.png", f"{APP_ID}-{n}.png") for n in ICON_SIZES
    ]
    icons.append((hicolor / "scalable" / "apps" / f"{APP_ID}.svg", f"{APP_ID}.svg"))
    return icons


def _desktop_file(data: Path) -> Path:
    return data / "applications" / f"{APP_ID}.desktop"


def installed_paths(data_dir: Path | None = None) -> list[Path]:
    """Every file `install_desktop` writes (whether or not present now)."""
    data = Path(data_dir) if data_dir is not None else data_home()
    return [_desktop_file(data), *(path for path, _ in _targets(data))]


def _resource(name: str) -> Path:
    try:
        return bundled_path("resources", name)
    except FileNotFoundError as exc:
        raise UserError(f"this installation lacks its desktop resources: {exc}") from None


def render_desktop_entry() -> str:
    template = _resource(f"{APP_ID}.desktop.in").read_text(encoding="utf-8")
    return template.replace("{exec}", _keyfile_value(launcher_command())).replace("{icon}", APP_ID)


def _refresh(data: Path) -> None:
    """Update the menu and icon caches where the tools exist; silently skip otherwise."""
    commands = [
        ["update-desktop-database", str(data / "applications")],
        ["gtk-update-icon-cache", "-f", "-t", str(data / "icons" / "hicolor")],
    ]
    for command in commands:
        if shutil.which(command[0]) is None:
            continue
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, timeout=REFRESH_TIMEOUT_S, check=False,
            )


def install_desktop(data_dir: Path | None = None) -> list[Path]:
    """Write the .desktop entry and the icons; return the paths written (entry first)."""
    _check_platform()
    data = Path(data_dir) if data_dir is not None else data_home()
    jobs: list[tuple[Path, bytes]] = [(_desktop_file(data), render_desktop_entry().encode("utf-8"))]
    jobs += [(path, _resource(name).read_bytes()) for path, name in _targets(data)]
    written: list[Path] = []
    try:
        for path, payload in jobs:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, payload)
            written.append(path)
    except OSError as exc:
        raise UserError(f"cannot write {exc.filename or data}: {exc.strerror or exc}") from None
    _refresh(data)
    return written


def uninstall_desktop(data_dir: Path | None = None) -> list[Path]:
    """Remove the files `install_desktop` writes, where present; return those removed."""
    _check_platform()
    data = Path(data_dir) if data_dir is not None else data_home()
    removed: list[Path] = []
    for path in installed_paths(data):
        if not (path.is_file() or path.is_symlink()):
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise UserError(f"cannot remove {path}: {exc.strerror or exc}") from None
        removed.append(path)
    if removed:
        _refresh(data)
    return removed
