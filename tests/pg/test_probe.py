"""The listener probe on real PostgreSQL: late behind a backlog is not lost."""

from __future__ import annotations

import asyncio
import time

from psycopg import sql

from pgcluster_tui.core.events import (
    Event,
    ListenerBehind,
    ListenerHealthy,
    ListenerSilent,
    ProbeMeasured,
)
from pgcluster_tui.pg.connection import StopFlag
from pgcluster_tui.pg.probe import Probe
from tests.pg.collector import config, raw_connection
from tests.waiting import wait_until


class Reading:
    """How many cluster notifications the listener has read: growing, or stuck."""

    def __init__(self) -> None:
        self.count = 0
        self.flowing = True

    def __call__(self) -> int:
        if self.flowing:
            self.count += 1000
        return self.count


async def probe_until(dsn: str, channel: str, reading: Reading, first: type[Event]) -> list[Event]:
    """Probe while the tokens wait unread in the server's queue until `first` is reported,
    then read them back (for a second); return every event."""
    events: list[Event] = []
    stop = StopFlag()
    settings = config(dsn, channel, probe_interval=0.5)
    probe = Probe(settings, stop, events.append, time.time, received=reading)
    listener = await raw_connection(dsn)
    sender = await raw_connection(dsn)
    try:
        await listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(probe.channel)))
        running = asyncio.create_task(probe.run(sender))
        await wait_until(lambda: any(isinstance(e, first) for e in events), timeout=15)
        async for notify in listener.notifies(timeout=1.0):
            probe.returned(notify.payload)
        stop.set()
        await asyncio.wait_for(running, timeout=5)
    finally:
        await listener.close()
        await sender.close()
    return events


async def test_a_probe_stuck_behind_arriving_notifications_is_late_not_lost(
    dsn: str, channel: str
) -> None:
    events = await probe_until(dsn, channel, Reading(), ListenerBehind)
    assert not any(isinstance(e, ListenerSilent) for e in events)
    behind = next(e for e in events if isinstance(e, ListenerBehind))
    assert behind.late_for >= 5.0  # the silence limit: 3 intervals, at least 5 s
    assert behind.read_since >= 1000
    after = events[events.index(behind) + 1 :]
    assert isinstance(after[0], ListenerHealthy), after
    measured = [e for e in after if isinstance(e, ProbeMeasured)]
    assert measured
    assert measured[0].rtt_ms >= 5000  # the real round trip, backlog included


async def test_a_probe_unanswered_while_nothing_arrives_is_lost(dsn: str, channel: str) -> None:
    reading = Reading()
    reading.flowing = False
    events = await probe_until(dsn, channel, reading, ListenerSilent)
    assert not any(isinstance(e, ListenerBehind) for e in events)
    silent = next(e for e in events if isinstance(e, ListenerSilent))
    assert silent.silent_for >= 5.0
    assert any(isinstance(e, ListenerHealthy) for e in events[events.index(silent) :])
