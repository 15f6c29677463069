"""Side queries on the sending connection: queue usage, who sent, which backends still live."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from psycopg import sql

from pgcluster_tui.core.events import BackendsChecked, Event, QueueUsageMeasured
from pgcluster_tui.pg.attribution import BATCH_SIZE, SenderLookup
from pgcluster_tui.pg.connection import StopFlag, WorkerConfig, bounded, unless_broken

QUEUE_USAGE = sql.SQL("SELECT pg_notification_queue_usage()")
LIVE_BACKENDS = sql.SQL("SELECT pid FROM pg_stat_activity WHERE pid = ANY({})").format(
    sql.Placeholder()
)
QUEUE_POLL_SECONDS = 5.0
LOOKUP_SECONDS = 0.25
"""Pause after each pg_stat_activity look-up (attribution or liveness): at most 4 a second."""


class SideQueries:
    """Polls queue usage and answers look-ups about backends, bounded and throttled."""

    def __init__(
        self,
        config: WorkerConfig,
        stop: StopFlag,
        emit: Callable[[Event], None],
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._stop = stop
        self._emit = emit
        self._clock = clock
        self._senders = SenderLookup()
        # Kept across sessions: pids asked while disconnected are answered after reconnecting.
        self._checks: dict[int, None] = {}
        self._wanted = asyncio.Event()
        self._attribute_next = True

    def connected(self) -> None:
        """A new session: forget which senders were looked up (pids are reused after restarts)."""
        self._senders.reset()

    def saw_senders(self, pids: Iterable[int]) -> None:
        """Queue a look-up for senders not seen before."""
        saw = self._senders.saw
        if [pid for pid in pids if saw(pid)]:
            self._wanted.set()

    def check_backends(self, pids: Iterable[int]) -> None:
        """Queue pids whose liveness a BackendsChecked fact will report."""
        for pid in pids:
            self._checks[pid] = None
        if self._checks:
            self._wanted.set()

    async def poll_queue_usage(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Report pg_notification_queue_usage() every few seconds."""
        while not self._stop.is_set:
            with unless_broken(conn):
                cursor = await bounded(
                    conn.execute(QUEUE_USAGE), self._config.connect_timeout, "queue usage"
                )
                row = await cursor.fetchone()
                if row is not None:
                    self._emit(QueueUsageMeasured(self._clock(), float(row[0])))
            await self._stop.sleep(QUEUE_POLL_SECONDS)

    async def look_up(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Answer queued look-ups, one query at a time, taking turns when both kinds wait."""
        while not self._stop.is_set:
            senders, checks = self._senders.waiting(), bool(self._checks)
            if not senders and not checks:
                self._wanted.clear()
                await self._stop.wait_for(self._wanted, None)
                continue
            if senders and (self._attribute_next or not checks):
                self._attribute_next = False
                await self._attribute(conn)
            else:
                self._attribute_next = True
                await self._check(conn)
            await self._stop.sleep(LOOKUP_SECONDS)

    async def _attribute(self, conn: psycopg.AsyncConnection[Any]) -> None:
        pids = self._senders.take()
        with unless_broken(conn):
            found = await bounded(
                self._senders.fetch(conn, pids, self._clock()),
                self._config.connect_timeout,
                "pg_stat_activity",
            )
            for sender in found:
                self._emit(sender)

    async def _check(self, conn: psycopg.AsyncConnection[Any]) -> None:
        pids = list(self._checks)[:BATCH_SIZE]
        for pid in pids:
            del self._checks[pid]
        answered = False
        try:
            with unless_broken(conn):
                cursor = await bounded(
                    conn.execute(LIVE_BACKENDS, (pids,)),
                    self._config.connect_timeout,
                    "pg_stat_activity",
                )
                live = {int(row[0]) for row in await cursor.fetchall()}
                alive = tuple(pid for pid in pids if pid in live)
                gone = tuple(pid for pid in pids if pid not in live)
                self._emit(BackendsChecked(self._clock(), alive, gone))
                answered = True
        finally:
            if not answered:
                # Asked once, answered once: back to the front of the queue for the next try.
                self._checks = dict.fromkeys(pids) | self._checks
