"""Helpers for dashboard tests: settings, raw psycopg senders and listeners, table reads."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgcluster_tui.demo import DemoCluster
from pgcluster_tui.settings import Settings
from pgcluster_tui.tui.app import PgClusterApp
from pgcluster_tui.wiring import new_monitor
from tests.waiting import wait_until

NODE = "tui@test.host"
"""Our node name in every dashboard test."""

SIZE = (160, 40)


def make_settings(channel: str, export_dir: Path | None = None, **extra: Any) -> Settings:
    """Settings for a test: our node name, the test's channel, a fast probe."""
    values: dict[str, Any] = {"channel": channel, "node": NODE, "probe_interval": 0.5}
    if export_dir is not None:
        values["export_dir"] = export_dir
    values.update(extra)
    return Settings(**values)


def dashboard(
    settings: Settings,
    dsn: str,
    *,
    clock: Callable[[], float] = time.time,
    demo: int = 0,
    demo_interval: float = 1.0,
) -> PgClusterApp:
    """The dashboard on a live monitor of the channel, with `demo` simulated peers."""
    peers = DemoCluster(dsn, settings.channel, demo, interval=demo_interval) if demo else None
    return PgClusterApp(
        settings,
        new_monitor(settings, dsn, clock=clock),
        demo=peers,
        conninfo=dsn,
        monitor_for=lambda chosen: new_monitor(chosen, dsn, clock=clock),
    )


@pytest.fixture
def settings(channel: str, tmp_path: Path) -> Settings:
    """Default test settings on this test's channel."""
    return make_settings(channel, tmp_path / "exports")


async def send(dsn: str, channel: str, *payloads: str) -> int:
    """NOTIFY each payload on the channel from a fresh session; return its backend pid."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        for payload in payloads:
            await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))
        return conn.info.backend_pid


class RawListener:
    """A plain psycopg session LISTENing on the channel, collecting payloads."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.payloads: list[str] = []
        self._stop = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while not self._stop:
            async for note in self.conn.notifies(timeout=0.1):
                self.payloads.append(note.payload)

    def count(self, payload: str) -> int:
        """How often `payload` arrived."""
        return self.payloads.count(payload)


@contextlib.asynccontextmanager
async def raw_listener(dsn: str, channel: str) -> AsyncIterator[RawListener]:
    """LISTEN on the channel for the duration of the block."""
    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
    listener = RawListener(conn)
    listener._task = asyncio.create_task(listener._run())
    try:
        yield listener
    finally:
        listener._stop = True
        await listener._task
        await conn.close()


def rows(app: PgClusterApp) -> list[str]:
    """Node names in the table, top to bottom."""
    return list(app.table.order)


def cell(app: PgClusterApp, node: str, column: str) -> str:
    """The plain text of one table cell."""
    return str(app.table.get_cell(node, column))


def log_text(app: PgClusterApp) -> str:
    """Every line of the event log as shown."""
    return "\n".join(strip.text.rstrip() for strip in app.events_log.lines)


def screen_text(app: PgClusterApp) -> str:
    """What the node table draws, line by line."""
    table = app.table
    return "\n".join(table.render_line(y).text for y in range(table.size.height))


async def connected(app: PgClusterApp) -> None:
    """Wait until the dashboard's worker is connected."""
    await wait_until(lambda: app.link.phase == "connected", what="the dashboard to connect")


async def select(app: PgClusterApp, node: str) -> None:
    """Put the cursor on a node's row."""
    app.table.select(node)
    await wait_until(lambda: app.table.selected_name == node, what=f"{node} selected")


Condition = Callable[[], object]


def status(app: PgClusterApp) -> str:
    """The status line as shown."""
    return str(app.status_line.render())


def shown(app: PgClusterApp) -> list[str]:
    """The whole terminal as the user sees it (every screen layer composed), line by line."""
    # Textual has no public reader of the composed screen; its compositor renders it.
    return [strip.text for strip in app.screen._compositor.render_strips()]


BORDERS = str.maketrans(dict.fromkeys("█▀▄│", " "))


def words(app: PgClusterApp) -> str:
    """The whole terminal as one line of single-spaced words, borders left out (so that a line
    wrapped in a dialog reads on)."""
    return " ".join(" ".join(shown(app)).translate(BORDERS).split())
