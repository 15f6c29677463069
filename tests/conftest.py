"""Shared fixtures: real PostgreSQL servers (never mocks), unique channels, no stray settings."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest

from pgcluster_tui.pg.embedded import EmbeddedServer

SYSTEM_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
"""A second server (another major version) used as well when it answers."""


def _answers(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _targets() -> list[str]:
    if os.environ.get("PGCLUSTER_TEST_DSN"):
        return ["env"]
    targets = ["embedded"]
    if os.environ.get("PGCLUSTER_TEST_SYSTEM", "1") != "0" and _answers(SYSTEM_DSN):
        targets.append("system")
    return targets


TARGETS = _targets()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the machine's PGCLUSTER_*, libpq and cookie variables out of every test."""
    for name in list(os.environ):
        if name.startswith(("PGCLUSTER_", "PG")) and name != "PGCLUSTER_TEST_DSN":
            monkeypatch.delenv(name, raising=False)
    for name in ("DATABASE_URL", "RELEASE_COOKIE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[EmbeddedServer]:
    """One embedded server for the whole session (never stopped by a test)."""
    with EmbeddedServer() as server:
        yield server


@pytest.fixture(scope="session", params=TARGETS)
def dsn(request: pytest.FixtureRequest) -> str:
    """A DSN for every server under test: PGCLUSTER_TEST_DSN, or embedded (+ system)."""
    if request.param == "env":
        return os.environ["PGCLUSTER_TEST_DSN"]
    if request.param == "system":
        return SYSTEM_DSN
    server: EmbeddedServer = request.getfixturevalue("embedded_server")
    return server.dsn


@pytest.fixture
def private_server() -> Iterator[EmbeddedServer]:
    """A server of this test's own, which it may stop, restart or freeze."""
    with EmbeddedServer() as server:
        yield server


@pytest.fixture
def channel() -> str:
    """A channel no other test uses, in mixed case to prove it is never folded."""
    return f"Test_{secrets.token_hex(6)}"
