"""Reliability cases run only on servers this package starts and stops itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pgcluster_tui.pg.embedded import EmbeddedServer


@pytest.fixture(scope="module")
def embedded_server() -> Iterator[EmbeddedServer]:
    """A private server per test module (overrides the session-wide one)."""
    with EmbeddedServer() as server:
        yield server


@pytest.fixture(scope="module")
def dsn(embedded_server: EmbeddedServer) -> str:
    """The private server's DSN (overrides the shared servers)."""
    return embedded_server.dsn
