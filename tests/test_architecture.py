"""Rules that keep the project's shape, checked on every module rather than a hand-kept list,
so a new module is covered the day it is added.

- The core (everything outside `latentexplorer.gui`) never loads Qt: the command line, the
  training and the analysis run on machines without a display.
- GUI code outside `gui/state/` never writes the Session's attributes or emits its signals:
  the Session changes only through its own methods, which keep its state consistent and
  announce each change once.
- No module grows past MAX_LINES, and no two modules import each other (the import contracts
  themselves are in pyproject.toml, checked by `lint-imports`).
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import latentexplorer

PACKAGE = Path(latentexplorer.__file__).parent
GUI = PACKAGE / "gui"
SESSION_OWNER = GUI / "state"
QT_PACKAGES = ("PySide6", "pyqtgraph", "superqt")
MAX_LINES = 450
SESSION_NAMES = {"session", "_session"}


def all_modules() -> list[str]:
    """Every module of the package, found by pkgutil on disk (it imports packages, not modules)."""
    return sorted(m.name for m in pkgutil.walk_packages(latentexplorer.__path__, "latentexplorer."))


def core_modules() -> list[str]:
    return [m for m in all_modules() if m != "latentexplorer.gui" and not m.startswith("latentexplorer.gui.")]


def test_the_walk_finds_the_core():
    found = set(core_modules())
    assert {"latentexplorer.config", "latentexplorer.cli", "latentexplorer.training.trainer",
            "latentexplorer.analysis.mixture", "latentexplorer.data.digits"} <= found
    assert not any(m.startswith("latentexplorer.gui") for m in found)


def test_core_never_imports_qt():
    # A fresh interpreter: the test process has Qt loaded already (pytest-qt).
    code = (
        "import importlib, json, sys\n"
        f"names, qt = {core_modules()!r}, {QT_PACKAGES!r}\n"
        "culprits, seen = {}, set()\n"
        "for name in names:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        culprits[name] = f'import failed: {type(exc).__name__}: {exc}'\n"
        "        continue\n"
        "    new = sorted(m for m in sys.modules if m.split('.')[0] in qt and m not in seen)\n"
        "    if new:\n"
        "        culprits[name] = new[:5]\n"
        "        seen.update(new)\n"
        "print(json.dumps(culprits))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    culprits = json.loads(result.stdout.strip().splitlines()[-1])
    assert culprits == {}, f"core modules that load Qt or fail to import: {culprits}"


# --- the Session is changed only through its methods -------------------------------------


def _is_session(node: ast.AST, aliases: set[str]) -> bool:
    """`session`, `self.session`, `x.session` (any `.session`), or a local bound to one."""
    if isinstance(node, ast.Name):
        return node.id in SESSION_NAMES or node.id in aliases
    return isinstance(node, ast.Attribute) and node.attr in SESSION_NAMES


def _under_session(node: ast.AST, aliases: set[str]) -> bool:
    """An expression that reaches into the Session: `session.a`, `self.session.a.b[i]`, ..."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
        if _is_session(node, aliases):
            return True
    return False


def _targets(target: ast.AST) -> Iterator[ast.AST]:
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _targets(element)
    elif isinstance(target, ast.Starred):
        yield from _targets(target.value)
    else:
        yield target


def _scopes(tree: ast.Module) -> Iterator[ast.AST]:
    yield tree
    yield from (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))


def _own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function (or module) without those of the functions nested in it."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def session_writes(source: str) -> list[tuple[int, str]]:
    """(line, what) for each write to a Session attribute and each emit of a Session signal."""
    found = []
    for scope in _scopes(ast.parse(source)):
        nodes = list(_own_nodes(scope))
        aliases = {
            t.id for n in nodes if isinstance(n, ast.Assign) and _is_session(n.value, set())
            for t in n.targets if isinstance(t, ast.Name)
        }
        for node in nodes:
            if isinstance(node, ast.Assign):
                targets = [t for target in node.targets for t in _targets(target)]
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            elif isinstance(node, ast.Delete):
                targets = [t for target in node.targets for t in _targets(target)]
            else:
                targets = []
            for target in targets:
                if isinstance(target, (ast.Attribute, ast.Subscript)) and _under_session(target, aliases):
                    found.append((node.lineno, f"writes {ast.unparse(target)}"))
            if isinstance(node, ast.Call):
                func = node.func
                if (isinstance(func, ast.Attribute) and func.attr == "emit"
                        and _under_session(func.value, aliases)):
                    found.append((node.lineno, f"emits {ast.unparse(func.value)}"))
                if (isinstance(func, ast.Name) and func.id in ("setattr", "delattr") and node.args
                        and (_is_session(node.args[0], aliases) or _under_session(node.args[0], aliases))):
                    found.append((node.lineno, f"{func.id} on {ast.unparse(node.args[0])}"))
    return sorted(found)


def test_the_session_rule_sees_writes_and_emits():
    source = (
        "def f(self, session):\n"
        "    session.k = 3\n"
        "    self.session.state.k += 1\n"
        "    self.session.errorOccurred.emit('x')\n"
        "    self.session.selection.pathChanged.emit([])\n"
        "    s = self.session\n"
        "    s.mu, other = None, 1\n"
        "    setattr(self.session, 'k', 2)\n"
        "    self.session = session\n"  # holding the Session is fine
        "    session.set_k(3)\n"  # so is calling its methods
        "    self.sessionChanged.emit()\n"
    )
    assert [line for line, _ in session_writes(source)] == [2, 3, 4, 5, 7, 8]


def test_gui_outside_state_never_writes_the_session():
    offences = []
    for path in sorted(GUI.rglob("*.py")):
        if SESSION_OWNER in path.parents:
            continue
        for line, what in session_writes(path.read_text(encoding="utf-8")):
            offences.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {what}")
    assert offences == [], "call a Session method instead:\n" + "\n".join(offences)


# --- size and cycles ---------------------------------------------------------------------


def test_no_module_is_over_the_line_limit():
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for path in sorted(PACKAGE.rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"modules over {MAX_LINES} lines (split them by responsibility): {long}"


def test_no_import_cycles():
    import pytest

    grimp = pytest.importorskip("grimp")  # installed with import-linter (the test extra)
    graph = grimp.build_graph("latentexplorer", cache_dir=None)
    cycles = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if module != imported and graph.find_shortest_chain(imported, module) is not None:
                cycles.add(tuple(sorted((module, imported))))
    assert cycles == set(), f"modules on an import cycle (move what both need lower): {sorted(cycles)}"
