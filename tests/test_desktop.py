"""`latentexplorer install-desktop`: the .desktop entry, the hicolor icons, uninstall."""

from __future__ import annotations

import configparser
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from latentexplorer import desktop
from latentexplorer.desktop import (
    ICON_SIZES,
    data_home,
    install_desktop,
    installed_paths,
    launcher_command,
    uninstall_desktop,
)
from latentexplorer.errors import UserError

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="install-desktop is for Linux desktops"
)


def expected_paths(data: Path) -> set[Path]:
    hicolor = data / "icons" / "hicolor"
    return {
        data / "applications" / "latentexplorer.desktop",
        hicolor / "scalable" / "apps" / "latentexplorer.svg",
        *(hicolor / f"{n}x{n}" / "apps" / "latentexplorer.png" for n in ICON_SIZES),
    }


def read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def check_installed(data: Path) -> None:
    entry = read_entry(data / "applications" / "latentexplorer.desktop")
    assert entry["Type"] == "Application"
    assert entry["Name"] == "LatentExplorer"
    assert entry["Icon"] == "latentexplorer"
    assert entry["Terminal"] == "false"
    assert entry["Exec"].endswith(" %f")
    for n in ICON_SIZES:
        assert png_size(data / "icons" / "hicolor" / f"{n}x{n}" / "apps" / "latentexplorer.png") == (n, n)
    svg = data / "icons" / "hicolor" / "scalable" / "apps" / "latentexplorer.svg"
    assert b"<svg" in svg.read_bytes()[:500]


def test_install_writes_entry_and_icons(tmp_path):
    data = tmp_path / "share"
    written = install_desktop(data)
    assert set(written) == expected_paths(data) == set(installed_paths(data))
    assert written[0].name == "latentexplorer.desktop"
    check_installed(data)
    entry = read_entry(data / "applications" / "latentexplorer.desktop")
    assert entry["Exec"] == f"{launcher_command()} %f"
    assert not list(data.rglob("*.tmp"))
    for path in written:
        assert path.stat().st_mode & 0o444 == 0o444  # readable, not mkstemp's 0600


def test_launcher_is_the_gui_script_beside_python():
    script = Path(sys.executable).parent / "latentexplorer-gui"
    if not script.is_file():
        pytest.skip("no latentexplorer-gui script beside this interpreter")
    assert launcher_command() in (str(script), f'"{script}"')


def test_launcher_fallbacks_and_quoting(tmp_path, monkeypatch):
    bindir = tmp_path / "my env" / "bin"
    bindir.mkdir(parents=True)
    python = bindir / "python3"
    python.touch()
    monkeypatch.setattr(sys, "executable", str(python))
    assert launcher_command() == f'"{python}" -m latentexplorer gui'
    (bindir / "latentexplorer").touch()
    assert launcher_command() == f'"{bindir / "latentexplorer"}" gui'
    (bindir / "latentexplorer-gui").touch()
    assert launcher_command() == f'"{bindir / "latentexplorer-gui"}"'


def test_exec_quoting_special_characters(tmp_path, monkeypatch):
    bindir = tmp_path / 'a "b" $c `d` \\e 100%'
    bindir.mkdir()
    (bindir / "latentexplorer-gui").touch()
    monkeypatch.setattr(sys, "executable", str(bindir / "python"))
    script = str(bindir / "latentexplorer-gui")
    quoted = launcher_command()
    # Quoted per the spec: ", `, $ and \ escaped inside double quotes; % doubled.
    assert quoted.startswith('"') and quoted.endswith('"')
    assert '\\"b\\"' in quoted and "\\$c" in quoted and "\\`d\\`" in quoted
    assert "\\\\e" in quoted and "100%%" in quoted
    # Undo the quoting: the original path comes back.
    inner, out, i = quoted[1:-1], [], 0
    while i < len(inner):
        if inner[i] == "\\":
            i += 1
        out.append(inner[i])
        i += 1
    assert "".join(out).replace("%%", "%") == script
    # In the file, the key-file escaping doubles backslashes again (four for one).
    data = tmp_path / "share"
    install_desktop(data)
    line = next(
        ln for ln in (data / "applications" / "latentexplorer.desktop").read_text().splitlines()
        if ln.startswith("Exec=")
    )
    assert "\\\\\\\\e" in line and '\\\\"b\\\\"' in line


def test_install_twice_is_fine(tmp_path):
    data = tmp_path / "share"
    first = install_desktop(data)
    second = install_desktop(data)
    assert first == second
    check_installed(data)


def test_uninstall_removes_exactly_what_install_wrote(tmp_path):
    data = tmp_path / "share"
    written = install_desktop(data)
    unrelated = [
        data / "applications" / "other.desktop",
        data / "icons" / "hicolor" / "48x48" / "apps" / "other.png",
        data / "icons" / "hicolor" / "scalable" / "apps" / "other.svg",
    ]
    for path in unrelated:
        path.write_text("keep me")
    before = {p for p in data.rglob("*") if p.is_file()}
    removed = uninstall_desktop(data)
    assert set(removed) == set(written)
    after = {p for p in data.rglob("*") if p.is_file()}
    # Only our files went; caches the refresh tools may (re)write are not ours to judge.
    assert not (after & set(written))
    assert before - after == set(written)
    for path in unrelated:
        assert path.read_text() == "keep me"
    assert uninstall_desktop(data) == []


def test_uninstall_of_nothing(tmp_path):
    assert uninstall_desktop(tmp_path / "empty") == []
    assert not (tmp_path / "empty").exists()


def test_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert data_home() == tmp_path
    monkeypatch.delenv("XDG_DATA_HOME")
    assert data_home() == Path.home() / ".local" / "share"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")  # invalid per the XDG spec: ignored
    assert data_home() == Path.home() / ".local" / "share"


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_other_platforms_get_a_hint(monkeypatch, tmp_path, platform):
    monkeypatch.setattr(desktop.sys, "platform", platform)
    with pytest.raises(UserError, match="install-desktop is for Linux desktops;.*latentexplorer-gui"):
        install_desktop(tmp_path)
    assert not any(tmp_path.iterdir())


def test_refresh_tools_absent_is_silent(tmp_path, monkeypatch):
    monkeypatch.setattr(desktop.shutil, "which", lambda name: None)
    calls = []
    monkeypatch.setattr(desktop.subprocess, "run", lambda *a, **k: calls.append(a))
    install_desktop(tmp_path)
    assert calls == []


def test_refresh_tool_failure_is_silent(tmp_path, monkeypatch):
    monkeypatch.setattr(desktop.shutil, "which", lambda name: f"/usr/bin/{name}")
    calls = []

    def fail(command, **kwargs):
        calls.append(command)
        assert kwargs["timeout"] > 0
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(desktop.subprocess, "run", fail)
    install_desktop(tmp_path)
    assert [c[0] for c in calls] == ["update-desktop-database", "gtk-update-icon-cache"]
    assert calls[1][-1] == str(tmp_path / "icons" / "hicolor")


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="no desktop-file-validate")
def test_desktop_file_validate(tmp_path):
    install_desktop(tmp_path)
    result = subprocess.run(
        ["desktop-file-validate", str(tmp_path / "applications" / "latentexplorer.desktop")],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_install_and_uninstall(tmp_path, run_cli):
    data = tmp_path / "share"
    result = run_cli("install-desktop", "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert {Path(line.removeprefix("wrote ")) for line in lines[:-1]} == expected_paths(data)
    assert "--uninstall" in lines[-1]
    check_installed(data)

    result = run_cli("install-desktop", "--data-dir", str(data), "--uninstall")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert {Path(line.removeprefix("removed ")) for line in lines[:-1]} == expected_paths(data)
    assert not any(p.exists() for p in expected_paths(data))

    result = run_cli("install-desktop", "--data-dir", str(data), "--uninstall")
    assert result.returncode == 0, result.stderr
    assert "nothing to remove" in result.stdout


def test_cli_honours_xdg_data_home(tmp_path, monkeypatch, run_cli):
    data = tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    result = run_cli("install-desktop")
    assert result.returncode == 0, result.stderr
    check_installed(data)
    assert not (tmp_path / "home").exists()
    result = run_cli("install-desktop", "--uninstall")
    assert result.returncode == 0, result.stderr
    assert not any(p.exists() for p in expected_paths(data))


def test_cli_help_lists_the_command():
    from latentexplorer.cli import build_parser

    text = build_parser().format_help()
    assert "install-desktop" in text
