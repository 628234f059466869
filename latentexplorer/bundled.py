"""Find bundled checkpoints and resources in a wheel install and in a source/editable checkout.

The wheel maps the repository's top-level `checkpoints/` and `resources/` to
`latentexplorer/_bundled/`; a checkout has them beside the package.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CANDIDATES = (_PACKAGE / "_bundled", _PACKAGE.parent)

DEFAULT_RUN = "digits-vae-2d"


def bundled_path(*parts: str) -> Path:
    """Path of a bundled item, e.g. `bundled_path("checkpoints", "digits-vae-2d")`.

    Raises FileNotFoundError naming the places searched when it is absent.
    """
    for root in _CANDIDATES:
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    searched = ", ".join(str(root.joinpath(*parts)) for root in _CANDIDATES)
    raise FileNotFoundError(f"bundled item {'/'.join(parts)} not found (searched {searched})")


def bundled_run(name: str = DEFAULT_RUN) -> Path:
    return bundled_path("checkpoints", name)


def bundled_runs() -> list[Path]:
    """All bundled run folders (those with a config.json)."""
    for root in _CANDIDATES:
        folder = root / "checkpoints"
        if folder.is_dir():
            return sorted(p for p in folder.iterdir() if (p / "config.json").is_file())
    return []


def is_bundled(path: str | Path) -> bool:
    """True for anything inside a bundled checkpoints folder: those are read-only."""
    resolved = Path(path).resolve()
    return any(resolved.is_relative_to(root / "checkpoints") for root in _CANDIDATES)
