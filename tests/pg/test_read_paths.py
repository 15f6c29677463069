"""Both ways of reading notifications behave alike: libpq in a socket callback, and notifies()."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from pgcluster_tui.core.events import Notification, ProbeMeasured
from pgcluster_tui.pg import reader as reader_module
from pgcluster_tui.pg.connection import ConnectionLost, StopFlag
from pgcluster_tui.pg.reader import Reader, Unread, listen
from pgcluster_tui.pg.worker import ChannelWorker
from tests.pg.collector import Collector, config, raw_connection
from tests.waiting import wait_until

PAYLOADS = [
    "a@10.0.0.1",
    "b@10.0.0.2",
    "a@10.0.0.1",
    "",
    "[bold]\x1b[2J",
    "日本@ホスト",
    "x" * 7999,
]


@pytest.fixture(params=["raw", "portable"])
def read_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with each read path."""
    monkeypatch.setattr(reader_module, "READ_RAW", request.param == "raw")
    return str(request.param)


async def test_every_payload_arrives_in_order_with_its_pid(
    dsn: str, channel: str, read_path: str
) -> None:
    async with (
        Collector(ChannelWorker(config(dsn, channel))) as c,
        await raw_connection(dsn) as raw,
    ):
        await c.connected()
        await c.wait_for(ProbeMeasured)
        for payload in PAYLOADS:
            await raw.execute("SELECT pg_notify(%s, %s)", (channel, payload))
        await raw.execute("SELECT pg_notify(%s, 'end@h')", (channel,))
        await c.wait_for(Notification, lambda n: n.payload == "end@h")
        pid = raw.info.backend_pid
    heard = [n.payload for n in c.of(Notification) if n.pid == pid]
    # Identical (payload, pid) pairs read together are counted together: of those, the first
    # keeps its place.
    assert Counter(heard) == Counter([*PAYLOADS, "end@h"])
    assert list(dict.fromkeys(heard)) == list(dict.fromkeys([*PAYLOADS, "end@h"]))


# The reader alone, on a listening connection of its own


class Reading:
    """A Reader running on its own listening connection, and what it handed over."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], channel: str) -> None:
        self.conn = conn
        self.stop = StopFlag()
        self.probes: list[str] = []
        self.woken = 0
        self.unread = Unread(time.time, self._woke)
        probe = f"{channel}_probe"
        self.reader = Reader(conn, channel, probe, self.unread, self.probes.append, self.stop)
        self.task = asyncio.create_task(self.reader.run())

    def _woke(self) -> None:
        self.woken += 1

    def read(self) -> int:
        """Notifications read so far, kept or dropped."""
        return len(self.unread.items) + self.unread.dropped


@contextlib.asynccontextmanager
async def reading(dsn: str, channel: str) -> AsyncIterator[Reading]:
    """Run a Reader until the block ends; it must then stop within a second."""
    conn = await raw_connection(dsn)
    await listen(conn, [channel, f"{channel}_probe"], 5.0)
    r = Reading(conn, channel)
    try:
        yield r
    finally:
        r.stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(r.task, 1.0)
        r.reader.close()
        await conn.close()


async def test_a_consumer_that_does_not_take_loses_a_counted_excess(
    dsn: str, channel: str, read_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader_module, "MAX_UNREAD", 100)
    async with reading(dsn, channel) as r, await raw_connection(dsn) as raw:
        await raw.execute(
            "SELECT pg_notify(%s, 'n' || i || '@h') FROM generate_series(1, 250) AS i",
            (channel,),
        )
        await wait_until(lambda: r.read() >= 250, what="all 250 read")
        # Reading went on: 100 kept, the rest counted.
        assert (len(r.unread.items), r.unread.dropped) == (100, 150)
        heard = r.unread.take()
        assert heard is not None
        assert heard.total == 100
        assert r.unread.take_dropped() == 150
        assert r.unread.take_dropped() == 0
        # Taken but not yet handed on still counts against the bound.
        await raw.execute("SELECT pg_notify(%s, 'late@h')", (channel,))
        await wait_until(lambda: r.read() >= 1, what="one more read")
        assert (len(r.unread.items), r.unread.dropped) == (0, 1)


async def test_identical_notifications_are_counted_not_repeated(
    dsn: str, channel: str, read_path: str
) -> None:
    async with reading(dsn, channel) as r, await raw_connection(dsn) as raw:
        # Separate transactions: PostgreSQL folds identical ones within one.
        for _ in range(50):
            await raw.execute("SELECT pg_notify(%s, 'a@h')", (channel,))
        await raw.execute("SELECT pg_notify(%s, 'b@h')", (channel,))
        await wait_until(lambda: r.read() >= 51, what="51 read")
        heard = r.unread.take()
        pid = raw.info.backend_pid
    assert heard is not None
    assert list(heard.counts.items()) == [(("a@h", pid), 50), (("b@h", pid), 1)]
    assert r.unread.taken == 51
    assert r.woken >= 1
    assert r.unread.take() is None


async def test_probe_tokens_go_to_the_probe_and_stop_ends_reading(
    dsn: str, channel: str, read_path: str
) -> None:
    async with reading(dsn, channel) as r, await raw_connection(dsn) as raw:
        await raw.execute("SELECT pg_notify(%s, '7')", (f"{channel}_probe",))
        await wait_until(lambda: r.probes == ["7"], what="the probe token")
        assert r.unread.items == []
        started = time.monotonic()
        r.stop.set()
        await asyncio.wait_for(r.task, 1.0)
    assert time.monotonic() - started < 1.0


async def test_a_terminated_listener_ends_reading_with_an_error(
    dsn: str, channel: str, read_path: str
) -> None:
    async with reading(dsn, channel) as r, await raw_connection(dsn) as admin:
        pid = r.conn.info.backend_pid
        await admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        with pytest.raises((psycopg.Error, ConnectionLost)):
            await asyncio.wait_for(r.task, 5.0)
