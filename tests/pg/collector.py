"""Drain a ChannelWorker's facts into a list that tests can wait on."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from pgcluster_tui.core.events import Connected, Event, Heard, Notification
from pgcluster_tui.core.link import LinkState, reduce
from pgcluster_tui.pg.reader import Reader
from pgcluster_tui.pg.worker import ChannelWorker, WorkerConfig
from tests.waiting import wait_until

F = TypeVar("F", bound=Notification | Event)


class Collector:
    """Runs a worker and keeps every fact it reports, in order."""

    def __init__(self, worker: ChannelWorker) -> None:
        self.worker = worker
        self.facts: list[Notification | Event] = []
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        self.worker.start()
        self.task = asyncio.create_task(self._drain())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.worker.stop()
        if self.task is not None:
            # batches() must end once the worker has stopped.
            await asyncio.wait_for(self.task, timeout=3.0)

    async def _drain(self) -> None:
        async for batch in self.worker.batches():
            for fact in batch:
                if isinstance(fact, Heard):
                    self.facts.extend(fact.notifications())
                else:
                    self.facts.append(fact)

    def of(self, kind: type[F]) -> list[F]:
        """Every fact of one type, in order."""
        return [f for f in self.facts if isinstance(f, kind)]

    @property
    def link(self) -> LinkState:
        """Our link as the facts so far describe it."""
        state = LinkState(heartbeat=self.worker.heartbeat)
        for fact in self.of(Event):
            state = reduce(state, fact)
        return state

    def heard(self, payload: str, pid: int | None = None) -> list[Notification]:
        """Notifications carrying `payload` (from `pid`, if given)."""
        return [
            n
            for n in self.of(Notification)
            if n.payload == payload and (pid is None or n.pid == pid)
        ]

    async def wait_for(
        self,
        kind: type[F],
        where: Callable[[F], object] = lambda _: True,
        *,
        count: int = 1,
        timeout: float = 10.0,
    ) -> F:
        """Wait until `count` facts of `kind` match `where`; return the last of them."""

        def matching() -> list[F]:
            return [f for f in self.of(kind) if where(f)]

        await wait_until(
            lambda: len(matching()) >= count, timeout, f"{count} x {kind.__name__} {self.facts!r}"
        )
        return matching()[count - 1]

    async def connected(self, count: int = 1, timeout: float = 15.0) -> Connected:
        """Wait for the `count`th Connected event."""
        return await self.wait_for(Connected, count=count, timeout=timeout)


class HeldWorker(ChannelWorker):
    """A worker that reads no notification until released, so a backlog builds."""

    def __init__(self, config: WorkerConfig) -> None:
        super().__init__(config)
        self.release = asyncio.Event()

    async def _read(self, reader: Reader) -> None:
        await self.release.wait()
        await super()._read(reader)


def config(dsn: str, channel: str, **overrides: Any) -> WorkerConfig:
    """A worker configuration for tests: fast probes and retries, our node name."""
    values: dict[str, Any] = {
        "conninfo": dsn,
        "channel": channel,
        "node": "pgcluster_tui@test",
        "interval": 60.0,
        "probe_interval": 0.2,
        "reconnect_max": 1.0,
        "connect_timeout": 2.0,
    }
    values.update(overrides)
    return WorkerConfig(**values)


async def raw_connection(dsn: str, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
    """A plain autocommit psycopg connection, as any other client would open."""
    return await psycopg.AsyncConnection.connect(dsn, autocommit=True, **kwargs)


class RawListener:
    """A plain LISTENing psycopg connection that hands out notifications one at a time."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.buffer: deque[psycopg.Notify] = deque()

    @classmethod
    async def open(cls, dsn: str, channel: str) -> RawListener:
        """Connect and LISTEN on `channel` with a quoted identifier."""
        conn = await raw_connection(dsn)
        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        return cls(conn)

    async def __aenter__(self) -> RawListener:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()

    async def next(self, timeout: float = 10.0) -> psycopg.Notify:
        """The next notification; the generator always runs to its end (it holds a lock)."""
        if not self.buffer:
            self.buffer.extend([n async for n in self.conn.notifies(timeout=timeout, stop_after=1)])
        if not self.buffer:
            raise AssertionError(f"no notification within {timeout:g} s")
        return self.buffer.popleft()
