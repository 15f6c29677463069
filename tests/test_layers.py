"""The layers stay apart: the core imports neither psycopg nor Textual; headless never Textual."""

from __future__ import annotations

import subprocess
import sys

import pytest


def imported_by(module: str) -> set[str]:
    """Top-level packages loaded by importing `module` in a fresh interpreter."""
    code = (
        f"import sys, {module}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    "module",
    [
        "pgcluster_tui.core.protocol",
        "pgcluster_tui.core.events",
        "pgcluster_tui.core.membership",
        "pgcluster_tui.core.ingest",
        "pgcluster_tui.core.text",
    ],
)
def test_core_is_pure(module: str) -> None:
    loaded = imported_by(module)
    assert not loaded & {"psycopg", "textual", "rich", "pydantic", "pydantic_settings"}


@pytest.mark.parametrize(
    "module", ["pgcluster_tui.pg.worker", "pgcluster_tui.headless", "pgcluster_tui.cli"]
)
def test_worker_and_headless_never_load_textual(module: str) -> None:
    assert "textual" not in imported_by(module)
