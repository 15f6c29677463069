"""A worker and model running in the test's event loop, and peers that beat like libcluster."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import sql

from pgcluster_tui.core.events import Event
from pgcluster_tui.core.link import LinkState
from pgcluster_tui.core.membership import Membership, Thresholds
from pgcluster_tui.core.monitor import Monitor
from pgcluster_tui.pg.embedded import EmbeddedServer
from pgcluster_tui.pg.worker import ChannelWorker, WorkerConfig


class Harness:
    """Runs a ChannelWorker through a Monitor ticking at 10 Hz, and keeps every event."""

    def __init__(
        self,
        config: WorkerConfig,
        thresholds: Thresholds | None = None,
        *,
        worker: ChannelWorker | None = None,
    ) -> None:
        self.worker = worker or ChannelWorker(config)
        model = Membership(thresholds or Thresholds(config.interval), self_name=config.node)
        self.monitor = Monitor(self.worker, model, tick_seconds=0.1)
        self.events: list[Event] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def model(self) -> Membership:
        """The membership model the monitor keeps."""
        return self.monitor.model

    @property
    def link(self) -> LinkState:
        """Our link as the worker's facts describe it."""
        return self.monitor.link

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._pump())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.monitor.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _pump(self) -> None:
        async for update in self.monitor.updates():
            self.events.extend(update.events + update.repeats)

    def of(self, kind: type[Event]) -> list[Any]:
        """Every event of one kind so far."""
        return [e for e in self.events if isinstance(e, kind)]


class Peers:
    """Simulated libcluster nodes: each its own session, beating, reconnecting after loss."""

    def __init__(self, dsn: str, channel: str, names: list[str], every: float = 0.2) -> None:
        self.dsn, self.channel, self.names, self.every = dsn, channel, names, every
        self.sent = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Self:
        self._tasks = [asyncio.create_task(self._beat(name)) for name in self.names]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _beat(self, name: str) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.dsn, autocommit=True, connect_timeout=2
                ) as conn:
                    while True:
                        await conn.execute("SELECT pg_notify(%s, %s)", (self.channel, name))
                        self.sent += 1
                        await asyncio.sleep(self.every)
            except psycopg.Error:
                await asyncio.sleep(0.1)


def require_password(server: EmbeddedServer, role: str, password: str) -> None:
    """Create a superuser `role` that must log in with `password` over the socket."""
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        hba = server.data_dir / "pg_hba.conf"
        hba.write_text(f"local all {role} scram-sha-256\n" + hba.read_text())
        conn.execute("SELECT pg_reload_conf()")
