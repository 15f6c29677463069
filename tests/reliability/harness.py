"""A worker and model running in the test's event loop, and peers that beat like libcluster."""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import sql

from pgcluster_tui.core.events import Event
from pgcluster_tui.core.ingest import ingest
from pgcluster_tui.core.link import LinkState, reduce
from pgcluster_tui.core.membership import Membership, Thresholds
from pgcluster_tui.pg.embedded import EmbeddedServer
from pgcluster_tui.pg.worker import ChannelWorker, WorkerConfig


class Harness:
    """Runs a ChannelWorker into a Membership, ticking at 10 Hz, and keeps every event."""

    def __init__(
        self,
        config: WorkerConfig,
        thresholds: Thresholds | None = None,
        *,
        worker: ChannelWorker | None = None,
    ) -> None:
        self.worker = worker or ChannelWorker(config)
        self.model = Membership(thresholds or Thresholds(config.interval), self_name=config.node)
        self.events: list[Event] = []
        self.link = LinkState(heartbeat=config.heartbeat)
        """Our link as the worker's facts describe it."""
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Self:
        self.worker.start()
        self._tasks = [asyncio.create_task(self._pump()), asyncio.create_task(self._tick())]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.worker.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _pump(self) -> None:
        async for batch in self.worker.batches():
            for fact in batch:
                if isinstance(fact, Event):
                    self.link = reduce(self.link, fact)
            self.events.extend(ingest(self.model, batch))

    async def _tick(self) -> None:
        while True:
            self.events.extend(self.model.tick(time.time()))
            await asyncio.sleep(0.1)

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
