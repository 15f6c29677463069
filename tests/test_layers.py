"""The layers stay apart, by what each module imports and by what importing it loads."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pgcluster_tui"

FORBIDDEN = {
    "core": {
        "pgcluster_tui.pg",
        "pgcluster_tui.tui",
        "pgcluster_tui.settings",
        "pgcluster_tui.headless",
        "pgcluster_tui.cli",
        "pgcluster_tui.wiring",
        "pgcluster_tui.export",
        "pgcluster_tui.demo",
        "psycopg",
        "textual",
        "rich",
        "pydantic",
        "pydantic_settings",
    },
    "pg": {
        "pgcluster_tui.tui",
        "pgcluster_tui.headless",
        "pgcluster_tui.cli",
        "pgcluster_tui.settings",
        "pgcluster_tui.wiring",
        "textual",
        "rich",
    },
    "erlang": {
        "pgcluster_tui.pg",
        "pgcluster_tui.tui",
        "pgcluster_tui.settings",
        "pgcluster_tui.headless",
        "pgcluster_tui.cli",
        "psycopg",
        "textual",
        "rich",
    },
    "headless": {"pgcluster_tui.tui", "textual", "rich"},
    "diagnose": {"pgcluster_tui.tui", "textual", "rich"},
    "serve": {"pgcluster_tui.tui", "pgcluster_tui.diagnose", "textual", "rich"},
    "export": {"pgcluster_tui.tui", "pgcluster_tui.headless", "textual", "rich", "psycopg"},
    "tui": {"pgcluster_tui.headless", "pgcluster_tui.cli"},
}
"""Per layer: module prefixes it may never import, at any depth of its code."""

MAX_LINES = 400


def layer_of(path: Path) -> str:
    """The layer of a module: its sub-package, or its own name at the top."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def imports_of(path: Path) -> set[str]:
    """Every module a source file imports, including imports inside functions."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def modules() -> list[Path]:
    """Every Python module of the package."""
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_across_its_layer(path: Path) -> None:
    forbidden = FORBIDDEN.get(layer_of(path), set())
    crossing = {
        name
        for name in imports_of(path)
        for prefix in forbidden
        if name == prefix or name.startswith(prefix + ".")
    }
    assert not crossing, f"{path.name} imports {sorted(crossing)}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_long(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines"


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from pgcluster_tui.tui import app\n")
    assert "pgcluster_tui.tui.app" in imports_of(source)


def imported_by(module: str) -> set[str]:
    """Top-level packages loaded by importing `module` in a fresh interpreter."""
    code = (
        f"import sys, {module}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


@pytest.mark.parametrize("module", ["pgcluster_tui.core.monitor", "pgcluster_tui.core.membership"])
def test_core_loads_nothing_outside_the_standard_library(module: str) -> None:
    loaded = imported_by(module)
    assert not loaded & {"psycopg", "textual", "rich", "pydantic", "pydantic_settings"}


@pytest.mark.parametrize(
    "module", ["pgcluster_tui.pg.worker", "pgcluster_tui.headless", "pgcluster_tui.cli"]
)
def test_worker_and_headless_never_load_textual(module: str) -> None:
    assert "textual" not in imported_by(module)
