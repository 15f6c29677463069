"""The probe: round trips on a private side channel prove that our LISTEN really receives."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import psycopg

from pgcluster_tui.core.events import (
    Event,
    ListenerBehind,
    ListenerHealthy,
    ListenerSilent,
    ProbeMeasured,
)
from pgcluster_tui.pg.connection import StopFlag, WorkerConfig, bounded, unless_broken
from pgcluster_tui.pg.sender import NOTIFY

KEEP_TOKENS = 64
"""Probes awaited at most; older ones are forgotten."""


class Probe:
    """Sends numbered tokens on a random channel (never the cluster's) and times their return."""

    def __init__(
        self,
        config: WorkerConfig,
        stop: StopFlag,
        emit: Callable[[Event], None],
        clock: Callable[[], float],
        *,
        received: Callable[[], int] = lambda: 0,
        sending: Callable[[], None] = lambda: None,
    ) -> None:
        self.channel = f"pgcluster_tui_probe_{secrets.token_hex(8)}"
        self._config = config
        self._stop = stop
        self._emit = emit
        self._clock = clock
        self._received = received
        self._sending = sending
        self._sent: dict[str, tuple[float, int]] = {}
        """Tokens awaited: when each was sent, and how many notifications had been read then."""
        self._last_ok = time.monotonic()
        # Survives a reconnect, so the first probe back after a silence reports ListenerHealthy.
        self._silent = False
        self._behind = False

    async def run(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Probe every interval on the sending connection; raise when the session breaks."""
        self._sent = {}
        self._last_ok = time.monotonic()
        counter = 0
        interval = self._config.probe_interval
        silence_limit = max(3 * interval, 5.0)
        received = self._received()
        while not self._stop.is_set:
            counter += 1
            token = str(counter)
            self._sent[token] = (time.monotonic(), self._received())
            if len(self._sent) > KEEP_TOKENS:
                self._sent.pop(next(iter(self._sent)))
            self._sending()
            with unless_broken(conn):  # e.g. a full queue: the silence below reports it
                await bounded(
                    conn.execute(NOTIFY, (self.channel, token)),
                    self._config.connect_timeout,
                    "probe NOTIFY",
                )
            await self._stop.sleep(interval)
            before, received = received, self._received()
            if time.monotonic() - self._last_ok > silence_limit:
                self._overdue(flowing=received > before, received=received)

    def _overdue(self, *, flowing: bool, received: int) -> None:
        # Notifications still arriving prove the listener receives: the probe waits in a
        # backlog behind them. Late, not lost.
        now = time.monotonic()
        if flowing and self._sent:
            sent_at, read_then = next(iter(self._sent.values()))
            if not self._behind:
                self._behind, self._silent = True, False
                late = round(now - sent_at, 1)
                self._emit(ListenerBehind(self._clock(), late, received - read_then))
        elif not self._silent:
            self._silent, self._behind = True, False
            self._emit(ListenerSilent(self._clock(), round(now - self._last_ok, 1)))

    def returned(self, token: str) -> None:
        """A token came back on the listening connection."""
        sent = self._sent.pop(token, None)
        if sent is None:
            return
        now = time.monotonic()
        rtt_ms = round((now - sent[0]) * 1000, 3)
        self._last_ok = now
        # Tokens sent before this one and still awaited never arrive any more.
        for older in [t for t in self._sent if int(t) < int(token)]:
            del self._sent[older]
        if self._silent or self._behind:
            self._silent = self._behind = False
            self._emit(ListenerHealthy(self._clock(), rtt_ms))
        self._emit(ProbeMeasured(self._clock(), rtt_ms))
