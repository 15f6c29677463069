"""A trickle of notifications is read in few wake-ups; load, probes and announces at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from psycopg import sql

from pgcluster_tui.core.events import Notification, ProbeMeasured
from pgcluster_tui.pg.reader import EXPECT_SECONDS, TRICKLE_RATE, Pace
from pgcluster_tui.pg.worker import ChannelWorker
from tests.pg.collector import Collector, HeldWorker, config, raw_connection
from tests.waiting import wait_until

# The pace alone, on a clock of our own


def steady(pace: Pace, every: float, reads: int, start: float = 100.0) -> list[bool]:
    """Whether each of `reads` reads of one notification, `every` seconds apart, is held."""
    return [pace.should_hold(start + i * every, 1) for i in range(reads)]


def test_a_steady_trickle_is_held_from_its_second_read() -> None:
    assert steady(Pace(0.25), 0.05, 6) == [False, True, True, True, True, True]


def test_lone_notifications_after_silences_are_read_at_once() -> None:
    # A second of silence and more between them: no read would find a second one waiting.
    assert steady(Pace(0.25), 1.0, 5) == [False] * 5


def test_no_hold_means_every_read_at_once() -> None:
    assert steady(Pace(0.0), 0.05, 6) == [False] * 6


def test_twice_the_trickle_rate_is_never_held() -> None:
    pace = Pace(0.25)
    per_read = int(TRICKLE_RATE * 0.02)
    # 10 ms a read: and once the rate is known, neither is a read that brought a single one.
    assert not any(pace.should_hold(100.0 + i * 0.01, per_read) for i in range(101))
    assert not pace.should_hold(101.02, 1)


def test_a_backlog_sent_in_small_pieces_is_never_held() -> None:
    pace = Pace(0.25)
    # The server feeds a backlog slower than we read: each read drains the socket, but the
    # next comes right after it.
    assert not any(pace.should_hold(100.0 + i * 0.0005, 5) for i in range(200))


def test_a_big_read_is_never_held_even_before_the_rate_is_known() -> None:
    pace = Pace(0.25)
    assert not pace.should_hold(100.0, 1)
    assert not pace.should_hold(100.05, int(TRICKLE_RATE * 0.25))
    assert pace.should_hold(100.1, 1)


def test_a_read_that_left_more_is_not_held() -> None:
    pace = Pace(0.25)
    assert steady(pace, 0.05, 3)[-1]
    # libpq's buffer was full: at a trickle's size, but the socket held more.
    assert not pace.should_hold(100.15, 400, drained=False)


def test_what_we_sent_is_read_at_once_until_it_returns_or_a_while_passed() -> None:
    pace = Pace(0.25)
    steady(pace, 0.05, 3)
    pace.expect(100.15)
    assert not pace.should_hold(100.2, 1)
    pace.returned()
    assert pace.should_hold(100.25, 1)
    pace.expect(100.3)
    assert not pace.should_hold(100.3 + EXPECT_SECONDS - 0.1, 1)
    assert pace.should_hold(100.3 + EXPECT_SECONDS + 0.05, 1)


# The worker on real PostgreSQL, while another session sends a trickle


@contextlib.asynccontextmanager
async def trickle(
    dsn: str, channel: str, every: float = 0.05, per: int = 1
) -> AsyncIterator[dict[str, float]]:
    """Send `t<i>@h` every `every` seconds from a session of its own (`per` > 1: `per` names
    `t<i>.<j>@h` in one statement); yield when each statement was sent, by `t<i>@h`."""
    sent: dict[str, float] = {}
    many = "SELECT pg_notify(%s, %s || '.' || j || '@h') FROM generate_series(0, %s) j"

    stop = asyncio.Event()

    async def send() -> None:
        async with await raw_connection(dsn) as conn:
            i = 0
            while not stop.is_set():
                payload = f"t{i}@h"
                sent[payload] = time.time()
                if per == 1:
                    await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))
                else:
                    await conn.execute(many, (channel, payload[:-2], per - 1))
                i += 1
                await asyncio.sleep(max(0.0, sent["t0@h"] + i * every - time.time()))

    task = asyncio.create_task(send())
    try:
        yield sent
    finally:
        stop.set()  # the statement in flight completes: everything in `sent` was sent
        await asyncio.wait_for(task, 10)


async def heard_trickle(dsn: str, channel: str, hold: float) -> tuple[int, float, int]:
    """Reads (distinct read times), the worst delay and how many of 1.5 s of a trickle."""
    # Probes far apart: one awaited is read at once, whatever the pace.
    worker = ChannelWorker(config(dsn, channel, read_hold=hold, probe_interval=60.0))
    async with Collector(worker) as c:
        await c.connected()
        await c.wait_for(ProbeMeasured)
        async with trickle(dsn, channel) as sent:
            await asyncio.sleep(1.5)  # the trickle's length, not a synchronisation
        last = max(sent, key=sent.__getitem__)
        await wait_until(lambda: c.heard(last), what=f"{last} heard")
        heard = [n for n in c.of(Notification) if n.payload in sent]
    delays = [n.at - sent[n.payload] for n in heard]
    return len({n.at for n in heard}), max(delays), len(heard)


async def test_a_trickle_is_read_in_few_reads_and_each_within_the_hold(
    dsn: str, channel: str
) -> None:
    reads, worst, count = await heard_trickle(dsn, channel, hold=0.25)
    assert count >= 25
    # About 6 reads a 1.5 s with a hold of 0.25 s, against one read per notification.
    assert reads <= 12, (reads, count)
    assert worst < 0.25 + 0.25
    reads_at_once, _, count_at_once = await heard_trickle(dsn, f"{channel}_b", hold=0.0)
    assert reads_at_once >= 0.7 * count_at_once, (reads_at_once, count_at_once)


async def test_probes_and_announces_are_timed_truly_in_a_trickle(dsn: str, channel: str) -> None:
    hold = 0.5
    worker = ChannelWorker(config(dsn, channel, read_hold=hold, probe_interval=0.2))
    async with Collector(worker) as c:
        await c.connected()
        async with trickle(dsn, channel):
            first = len(c.of(ProbeMeasured))
            await c.wait_for(ProbeMeasured, count=first + 6, timeout=15)
            # Held, a probe's reply would wait up to `hold`: 0.5 s, not a few ms.
            rtts = [p.rtt_ms for p in c.of(ProbeMeasured)[first:]]
            assert max(rtts) < 120, rtts
            asked = time.time()
            payload = await worker.announce()
            echo = await c.wait_for(Notification, lambda n: n.payload == payload and n.at > asked)
            assert echo.at - asked < 0.12


async def test_notifications_under_load_are_read_at_once(dsn: str, channel: str) -> None:
    worker = ChannelWorker(config(dsn, channel, read_hold=0.5, probe_interval=60.0))
    async with Collector(worker) as c:
        await c.connected()
        await c.wait_for(ProbeMeasured)
        # 10,000 a second: were it held, most would wait up to 0.5 s.
        async with trickle(dsn, channel, per=500) as sent:
            await asyncio.sleep(1.0)  # the load's length, not a synchronisation
        last = f"{max(sent, key=sent.__getitem__)[:-2]}.499@h"
        await wait_until(lambda: c.heard(last), what=f"{last} heard")
        delays = sorted(n.at - sent[n.payload.split(".")[0] + "@h"] for n in c.of(Notification))
    assert len(delays) >= 5000
    assert delays[int(len(delays) * 0.9)] < 0.2, delays[-10:]


SESSIONS, BEATS = 16, 1000
"""The backlog: this many sessions, each sending this many beats, one transaction each."""


async def drain_seconds(dsn: str, channel: str, hold: float) -> float:
    """How long a backlog of beats, each its own transaction, takes to be read."""
    worker = HeldWorker(config(dsn, channel, read_hold=hold, probe_interval=60.0))
    async with Collector(worker) as c:
        await c.connected()
        conns = [await raw_connection(dsn) for _ in range(SESSIONS)]
        try:
            # Each beat its own transaction, as nodes send them: the server feeds such a backlog
            # to the listener in small pieces.
            beat = sql.SQL("BEGIN; NOTIFY {}, {}; COMMIT; ")
            for k, conn in enumerate(conns):
                for r in range(0, BEATS, 10):
                    beats = (
                        beat.format(sql.Identifier(channel), sql.Literal(f"n{k}_{i}@h"))
                        for i in range(r, r + 10)
                    )
                    await conn.execute(sql.SQL("").join(beats))
        finally:
            for conn in conns:
                await conn.close()
        started = time.monotonic()
        worker.release.set()
        await wait_until(
            lambda: len(c.of(Notification)) >= SESSIONS * BEATS, timeout=30, what="the backlog read"
        )
        return time.monotonic() - started


async def test_a_backlog_is_read_as_fast_held_or_not(dsn: str, channel: str) -> None:
    at_once = await drain_seconds(dsn, f"{channel}_a", hold=0.0)
    paced = await drain_seconds(dsn, f"{channel}_b", hold=0.25)
    assert paced < 2 * at_once + 0.2, (paced, at_once)
