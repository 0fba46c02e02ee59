"""The map in docs/architecture.md holds: which folder may import which, and module sizes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The packages each folder must never import (by first dotted names).
FORBIDDEN = {
    "layers/shared": ("emulator", "scripts", "tests", "app"),
    "functions": ("emulator", "scripts", "tests"),
    "emulator/local_aws": ("emulator.simulation", "emulator.benchmark", "scripts", "tests"),
    "emulator/simulation": ("emulator.benchmark", "scripts", "tests"),
    "emulator/benchmark": ("scripts", "tests"),
}
SIZE_LIMIT = 420  # "about 400 lines"
SIZE_REASON = "one piece"


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_folder_imports_what_the_map_forbids(folder: str) -> None:
    """Given the map's rule for a folder, when every module in it is parsed, then none imports a
    package the rule forbids."""
    assert _modules(folder), f"{folder} has no modules"
    broken = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in _imports(path)
            if any(name == bad or name.startswith(f"{bad}.") for bad in FORBIDDEN[folder])
        )
        for path in _modules(folder)
    }
    assert {path: names for path, names in broken.items() if names} == {}


def test_a_long_module_says_why_it_is_one_piece() -> None:
    """Given every module of the product and the emulator, when one is longer than about 400
    lines, then its docstring says why it is one piece."""
    unexplained = []
    for folder in ("layers/shared", "functions", "emulator", "scripts"):
        for path in _modules(folder):
            text = path.read_text(encoding="utf-8")
            if text.count("\n") <= SIZE_LIMIT:
                continue
            docstring = ast.get_docstring(ast.parse(text)) or ""
            if SIZE_REASON not in docstring.lower():
                unexplained.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert unexplained == []
