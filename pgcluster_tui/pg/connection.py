"""Connections that never hang: the worker's settings, connect, deadlines and the stop flag."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from pgcluster_tui.pg.errors import Redactor, WorkerError, describe_target

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What the worker needs to know; `conninfo` is a secret and never shown."""

    conninfo: str
    channel: str
    node: str
    interval: float = 5.0
    heartbeat: bool = False
    probe_interval: float = 2.0
    reconnect_max: float = 30.0
    connect_timeout: float = 5.0
    application_name: str = "pgcluster-tui"
    read_hold: float = 0.25
    """In a trickle of notifications, the least time between two reads (0: read each at once)."""

    def __repr__(self) -> str:
        return f"WorkerConfig(target={describe_target(self.conninfo)!r}, channel={self.channel!r})"


class ConnectionLost(Exception):
    """The session must be torn down and opened again."""


async def connect(config: WorkerConfig, role: str) -> psycopg.AsyncConnection[Any]:
    """Open an autocommit connection with keepalives and a labelled application_name."""
    return await psycopg.AsyncConnection.connect(
        config.conninfo,
        autocommit=True,
        application_name=f"{config.application_name} {role}"[:63],
        connect_timeout=max(1, round(config.connect_timeout)),
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=3,
        keepalives_count=3,
    )


@contextlib.asynccontextmanager
async def one_off(
    conninfo: str, application_name: str, timeout: float
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An autocommit connection for one errand, always closed; any failure is one WorkerError."""
    redact = Redactor(conninfo)
    conn: psycopg.AsyncConnection[Any] | None = None
    try:
        opened: psycopg.AsyncConnection[Any] = await bounded(
            psycopg.AsyncConnection.connect(
                conninfo,
                autocommit=True,
                application_name=application_name[:63],
                connect_timeout=max(1, round(timeout)),
            ),
            timeout + 1,
            "connect",
        )
        conn = opened
        yield opened
    except (psycopg.Error, ConnectionLost, OSError) as exc:
        raise WorkerError(redact.one_line(exc)) from None
    finally:
        if conn is not None:
            with contextlib.suppress(Exception):
                await bounded(conn.close(), 1.0, "close")


async def bounded(awaitable: Awaitable[T], timeout: float, what: str) -> T:
    """Await with a deadline; on expiry abandon the call instead of waiting for it to unwind."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        abandon(task)
        raise
    if not done:
        abandon(task)
        raise ConnectionLost(f"{what} got no answer within {timeout:g} s")
    return task.result()


def abandon(task: asyncio.Future[Any]) -> None:
    """Cancel without waiting; whatever it ends with is retrieved, never logged as lost."""
    task.cancel()
    task.add_done_callback(_consume_result)


def _consume_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


@contextlib.contextmanager
def unless_broken(conn: psycopg.AsyncConnection[Any]) -> Iterator[None]:
    """Let a failed statement pass when the connection survived it; re-raise when it did not.

    A side query that fails (NOTIFY into a full queue, a revoked function) must not
    tear down the session, or the observer would stop listening exactly then.
    """
    try:
        yield
    except psycopg.Error:
        if conn.broken or conn.closed:
            raise


class StopFlag:
    """Set once to stop every loop; each wait also ends when it is set."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    @property
    def is_set(self) -> bool:
        """Whether stopping was asked for."""
        return self._event.is_set()

    def set(self) -> None:
        """Ask every loop to stop."""
        self._event.set()

    async def wait(self) -> None:
        """Return once stopping was asked for."""
        await self._event.wait()

    async def sleep(self, seconds: float) -> None:
        """Sleep, or less if stopping is asked for."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout=seconds)

    async def wait_for(self, event: asyncio.Event, timeout: float | None) -> None:
        """Return when `event` is set, when stopping is asked for, or after `timeout` seconds."""
        if self.is_set:
            return
        stop = asyncio.ensure_future(self._event.wait())
        changed = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({stop, changed}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            stop.cancel()
            changed.cancel()
