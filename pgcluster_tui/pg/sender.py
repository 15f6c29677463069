"""Sending on the cluster channel: our heartbeat every interval, announces, and one-off sends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from pgcluster_tui.core.events import Event, HeartbeatSent, SendFailed
from pgcluster_tui.core.protocol import validate_channel, validate_node_name
from pgcluster_tui.pg.connection import (
    ConnectionLost,
    StopFlag,
    WorkerConfig,
    bounded,
    one_off,
)
from pgcluster_tui.pg.errors import Redactor, WorkerError

NOTIFY = sql.SQL("SELECT pg_notify({}, {})").format(sql.Placeholder(), sql.Placeholder())


class Heartbeat:
    """Whether we send our node name every interval; a change wakes the beating loop."""

    def __init__(self, on: bool) -> None:
        self.on = on
        self.changed = asyncio.Event()

    def set(self, on: bool) -> None:
        """Turn beating on or off."""
        if on != self.on:
            self.on = on
            self.changed.set()


class Sender:
    """Our NOTIFYs on one session's sending connection: the heartbeat loop and announces."""

    def __init__(
        self,
        conn: psycopg.AsyncConnection[Any],
        config: WorkerConfig,
        heartbeat: Heartbeat,
        stop: StopFlag,
        emit: Callable[[Event], None],
        clock: Callable[[], float],
        redact: Redactor,
    ) -> None:
        self._conn = conn
        self._config = config
        self._heartbeat = heartbeat
        self._stop = stop
        self._emit = emit
        self._clock = clock
        self._redact = redact
        self._next_at: float | None = None

    async def beat(self) -> None:
        """Send our node name every interval while heartbeating; raise when the session breaks."""
        heartbeat, interval = self._heartbeat, self._config.interval
        while not self._stop.is_set:
            if not heartbeat.on:
                heartbeat.changed.clear()
                await self._stop.wait_for(heartbeat.changed, None)
                continue
            # Clear before sending: a toggle during the NOTIFY must still wake the wait below.
            heartbeat.changed.clear()
            await self.notify(self._config.node, manual=False)
            await self._stop.wait_for(heartbeat.changed, interval)

    async def notify(self, payload: str, *, manual: bool) -> None:
        """NOTIFY the channel; a manual send that fails raises WorkerError, a beat reports it."""
        conn = self._conn
        try:
            await bounded(
                conn.execute(NOTIFY, (self._config.channel, payload)),
                self._config.connect_timeout,
                "NOTIFY",
            )
        except psycopg.Error as exc:
            now = self._clock()
            next_at = None if manual else now + self._config.interval
            self._emit(SendFailed(now, payload, self._redact.one_line(exc), next_at))
            if conn.broken or conn.closed:
                raise ConnectionLost(self._redact.one_line(exc)) from None
            if manual:
                raise WorkerError(self._redact.one_line(exc)) from None
            return
        except ConnectionLost as exc:
            self._emit(SendFailed(self._clock(), payload, str(exc)))
            raise
        now = self._clock()
        beating = self._heartbeat.on
        if not manual:
            self._next_at = now + self._config.interval if beating else None
        self._emit(HeartbeatSent(now, payload, manual, self._next_at if beating else None))


async def send_once(config: WorkerConfig, name: str | None = None) -> str:
    """Connect, send one heartbeat (ours or `name`), close; raise WorkerError on any problem."""
    payload = validate_node_name(name if name is not None else config.node)
    validate_channel(config.channel)
    name_of_session = f"{config.application_name} announce"
    async with one_off(config.conninfo, name_of_session, config.connect_timeout) as conn:
        await bounded(
            conn.execute(NOTIFY, (config.channel, payload)), config.connect_timeout, "NOTIFY"
        )
    return payload
