"""Simulated peers that speak the real protocol, each on its own PostgreSQL connection.

Roles, in the order `count` hands them out: a steady node, one that goes silent for good
(late, suspect, stale), one that restarts (a new connection, so a new backend pid and a new
incarnation), two that share one name (a duplicate), one that sends junk, one that pauses
long enough to turn suspect, one that pauses long enough to turn late; then steady nodes.
The two pausing nodes share a cycle, so that near its end (and once the silent node is stale,
about 23 intervals in) one node is in every state at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

NOTIFY = sql.SQL("SELECT pg_notify({}, {})").format(sql.Placeholder(), sql.Placeholder())
ROLES = ("steady", "silent", "restart", "twin", "twin", "junk", "flaky", "laggard")
DEFAULT_INTERVAL = 1.0
"""Seconds between demo heartbeats: short, so every state shows within seconds."""

JUNK = (
    "[bold]not a node",
    "hello",
    "",
    "\x1b[31mred\x1b[0m",
    "\x1b]0;title\x07",
    "[link=http://x]click",
    "two words@host",
    "[/]",
)
"""Payloads no libcluster node can connect to, several of them hostile to terminals."""

SILENT_AFTER = 8
RESTART_EVERY = 7
CYCLE = 12.0
"""Intervals in the cycle the pausing nodes share."""

QUIET_FROM = {"flaky": 7.0, "laggard": 9.6}
"""When in the cycle each pausing node falls silent: flaky ends it suspect, laggard late."""


@dataclass(frozen=True, slots=True)
class Peer:
    """One simulated node: its role, the name it sends and its place in the cluster."""

    role: str
    name: str
    index: int


def peers(count: int) -> list[Peer]:
    """The peers a demo of `count` runs."""
    out: list[Peer] = []
    for i in range(count):
        role = ROLES[i] if i < len(ROLES) else "steady"
        if role == "twin":
            name = "twin@10.0.0.40"
        elif role == "junk":
            name = "junk"
        elif role == "steady":
            name = f"app{i + 1}@10.0.0.{i + 11}"
        else:
            name = f"{role}@10.0.0.{i + 11}"
        out.append(Peer(role, name, i))
    return out


class DemoCluster:
    """Runs simulated peers on the channel until stopped."""

    def __init__(
        self,
        conninfo: str,
        channel: str,
        count: int,
        *,
        interval: float = DEFAULT_INTERVAL,
        application_name: str = "demo",
    ) -> None:
        self.conninfo = conninfo
        self.channel = channel
        self.interval = interval
        self.application_name = application_name
        self.peers = peers(count)
        self.sent = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._random = random.Random()
        self._started = 0.0

    def start(self) -> None:
        """Start every peer as a task on the running loop."""
        if self._tasks:
            return
        self._started = asyncio.get_running_loop().time()
        for peer in self.peers:
            name = f"demo-{peer.role}-{peer.index}"
            self._tasks.append(asyncio.create_task(self._run(peer), name=name))

    async def stop(self, grace: float = 1.0) -> None:
        """Stop every peer; never waits much longer than `grace` seconds."""
        self._stop.set()
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
        self._tasks.clear()

    # Peers

    async def _run(self, peer: Peer) -> None:
        behaviour: dict[str, Callable[[psycopg.AsyncConnection[Any], Peer], Awaitable[bool]]] = {
            "steady": self._steady,
            "twin": self._steady,
            "silent": self._silent,
            "restart": self._restart,
            "junk": self._junk,
            "flaky": self._pausing,
            "laggard": self._pausing,
        }
        # Stagger the first beats so the peers do not arrive in lockstep.
        await self._sleep(self._random.uniform(0, self.interval * 0.5))
        while not self._stop.is_set():
            conn: psycopg.AsyncConnection[Any] | None = None
            try:
                conn = await asyncio.wait_for(self._connect(peer), timeout=5)
                again = await behaviour[peer.role](conn, peer)
            except (psycopg.Error, OSError, TimeoutError):
                again = True
                await self._sleep(self.interval)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), timeout=1)
            if not again:
                await self._stop.wait()

    async def _connect(self, peer: Peer) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self.conninfo,
            autocommit=True,
            connect_timeout=3,
            application_name=f"{self.application_name} {peer.role}"[:63],
        )

    async def _send(self, conn: psycopg.AsyncConnection[Any], payload: str) -> None:
        await asyncio.wait_for(conn.execute(NOTIFY, (self.channel, payload)), timeout=5)
        self.sent += 1

    def _gap(self) -> float:
        return self.interval * self._random.uniform(0.85, 1.15)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    async def _steady(self, conn: psycopg.AsyncConnection[Any], peer: Peer) -> bool:
        while not self._stop.is_set():
            await self._send(conn, peer.name)
            await self._sleep(self._gap())
        return False

    async def _silent(self, conn: psycopg.AsyncConnection[Any], peer: Peer) -> bool:
        for _ in range(SILENT_AFTER):
            if self._stop.is_set():
                break
            await self._send(conn, peer.name)
            await self._sleep(self._gap())
        return False

    async def _restart(self, conn: psycopg.AsyncConnection[Any], peer: Peer) -> bool:
        for _ in range(RESTART_EVERY):
            if self._stop.is_set():
                return False
            await self._send(conn, peer.name)
            await self._sleep(self._gap())
        return True

    async def _junk(self, conn: psycopg.AsyncConnection[Any], peer: Peer) -> bool:
        turn = 0
        while not self._stop.is_set():
            await self._send(conn, JUNK[turn % len(JUNK)])
            turn += 1
            await self._sleep(3 * self._gap())
        return False

    async def _pausing(self, conn: psycopg.AsyncConnection[Any], peer: Peer) -> bool:
        loop = asyncio.get_running_loop()
        cycle = CYCLE * self.interval
        quiet_from = QUIET_FROM[peer.role] * self.interval
        while not self._stop.is_set():
            into = (loop.time() - self._started) % cycle
            if into >= quiet_from:
                await self._sleep(cycle - into + 0.01)
                continue
            await self._send(conn, peer.name)
            await self._sleep(self._gap())
        return False
