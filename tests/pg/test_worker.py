"""The worker against real PostgreSQL: exactly what libcluster_postgres sends and hears."""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import time
from typing import Any

import psycopg
import pytest

from pgcluster_tui.core import backoff
from pgcluster_tui.core.events import (
    BackendsChecked,
    Connected,
    Connecting,
    Disconnected,
    Heard,
    HeartbeatSent,
    JunkReceived,
    NodeJoined,
    Notification,
    ProbeMeasured,
    QueueUsageMeasured,
    RetryScheduled,
    SenderAttributed,
    SendFailed,
)
from pgcluster_tui.core.membership import JUNK_PREVIEW_CHARS, Membership
from pgcluster_tui.core.monitor import Monitor, ReplaySource
from pgcluster_tui.core.protocol import ProtocolError, notify_statement
from pgcluster_tui.pg.errors import WorkerError
from pgcluster_tui.pg.queries import LOOKUP_SECONDS
from pgcluster_tui.pg.worker import ChannelWorker, send_once
from tests.pg.collector import Collector, RawListener, config, raw_connection
from tests.waiting import wait_until

NODE = "pgcluster_tui@test"

EARLY = time.get_clock_info("monotonic").resolution
"""How early asyncio may run a timer: a sleep of S seconds ends at least S - EARLY later."""


class OrderingClock:
    """time.monotonic (what asyncio sleeps on), each reading later than the one before."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self) -> float:
        self.last = max(time.monotonic(), math.nextafter(self.last, math.inf))
        return self.last


async def pg_notify(conn: psycopg.AsyncConnection[Any], channel: str, payload: str) -> None:
    """Send as any client can, with bound parameters."""
    await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


# What libcluster_postgres sends arrives as that notification


@pytest.mark.parametrize("which", ["cluster", "123_oops", "mixed case"])
async def test_libcluster_statement_arrives_with_the_sender_pid(
    dsn: str, channel: str, which: str
) -> None:
    chan = {"cluster": "cluster", "123_oops": "123_oops"}.get(which, channel)
    statement = notify_statement(chan, "a@10.0.0.1")
    if which == "cluster":
        assert statement == "NOTIFY \"cluster\", 'a@10.0.0.1'"
    async with Collector(ChannelWorker(config(dsn, chan))) as c, await raw_connection(dsn) as raw:
        await c.connected()
        await raw.execute(statement.encode())
        pid = raw.info.backend_pid
        heard = await c.wait_for(Notification, lambda n: n.pid == pid)
    assert heard.payload == "a@10.0.0.1"
    # Other clients may share "cluster" on the system server: keep to our sender.
    ours = [f for f in c.facts if not isinstance(f, Notification) or f.pid == pid]
    joined = [
        e for e in Monitor(ReplaySource(), Membership()).apply(ours) if isinstance(e, NodeJoined)
    ]
    assert joined == [NodeJoined(heard.at, "a@10.0.0.1", pid, False)]


async def test_channel_case_is_never_folded(dsn: str, channel: str) -> None:
    assert channel != channel.lower()
    async with (
        Collector(ChannelWorker(config(dsn, channel))) as c,
        await raw_connection(dsn) as raw,
    ):
        await c.connected()
        # Unquoted, PostgreSQL folds the name to lower case: another channel.
        await raw.execute(f"NOTIFY {channel}, 'folded@h'".encode())
        await raw.execute(notify_statement(channel, "quoted@h").encode())
        await c.wait_for(Notification, lambda n: n.payload == "quoted@h")
    # One session's notifications arrive in commit order: the folded one would be here.
    assert c.heard("folded@h") == []


# Our heartbeat, announce and send_once arrive exactly


async def test_heartbeat_arrives_as_exactly_our_node_name_right_after_connect(
    dsn: str, channel: str
) -> None:
    cfg = config(dsn, channel, heartbeat=True)
    async with await RawListener.open(dsn, channel) as listener:
        worker = ChannelWorker(cfg, clock=OrderingClock())
        async with Collector(worker) as c:
            notify = await listener.next()
            connected = await c.connected()
            await c.wait_for(Notification, lambda n: n.payload == NODE)
            first = await c.wait_for(HeartbeatSent)
    assert (notify.channel, notify.payload, notify.pid) == (channel, NODE, connected.sender_pid)
    # Sent on connecting, not an interval (60 s, beyond every wait here) later.
    assert connected.at < first.at < connected.at + cfg.interval
    assert first.next_at == first.at + cfg.interval
    assert first.node == NODE
    assert not first.manual
    # The beat comes back to our own listener: our node, marked as ours.
    monitor = Monitor(ReplaySource(), Membership(self_name=NODE))
    joined = [e for e in monitor.apply(c.facts) if isinstance(e, NodeJoined)]
    assert joined[0].node == NODE
    assert joined[0].is_self


async def test_heartbeat_repeats_every_interval(dsn: str, channel: str) -> None:
    interval = 0.3
    async with await RawListener.open(dsn, channel) as listener:
        worker = ChannelWorker(
            config(dsn, channel, heartbeat=True, interval=interval), clock=OrderingClock()
        )
        async with Collector(worker) as c:
            for _ in range(3):
                notify = await listener.next()
                assert notify.payload == NODE
            await c.wait_for(HeartbeatSent, count=3)
    beats = c.of(HeartbeatSent)
    # Each beat names the next one an interval on, and none goes out before it is due.
    assert all(beat.next_at == beat.at + interval for beat in beats), beats
    for earlier, later in itertools.pairwise(beats):
        assert earlier.next_at is not None
        assert later.at >= earlier.next_at - EARLY, beats


async def test_turning_heartbeat_on_beats_at_once_and_off_stops_it(dsn: str, channel: str) -> None:
    # Readings in the test and in the worker order what they stamp: no tie, no margin needed.
    interval, clock = 0.2, OrderingClock()
    async with await RawListener.open(dsn, channel) as listener:
        worker = ChannelWorker(config(dsn, channel, interval=interval), clock=clock)
        async with Collector(worker) as c:
            await c.connected()
            assert not worker.heartbeat
            worker.set_heartbeat(True)
            assert worker.heartbeat
            notify = await listener.next()
            assert notify.payload == NODE
            await c.wait_for(HeartbeatSent, count=3)
            worker.set_heartbeat(False)
            off_at = clock()
            # Five probe round trips (0.2 s apart) span several heartbeat intervals.
            probes = len(c.of(ProbeMeasured))
            await c.wait_for(ProbeMeasured, count=probes + 5)
    beats = c.of(HeartbeatSent)
    while_on = [b for b in beats if b.at < off_at]
    after_off = [b for b in beats if b.at > off_at]
    # Each beat says when the next is due; at most the one in flight completes after turning
    # off, and it says none.
    assert len(while_on) >= 3
    assert all(b.next_at == b.at + interval for b in while_on), while_on
    assert len(after_off) <= 1, after_off
    assert all(b.next_at is None for b in after_off), after_off


async def test_announce_sends_names_and_refuses_invalid_ones_before_sending(
    dsn: str, channel: str
) -> None:
    async with await RawListener.open(dsn, channel) as listener:
        worker = ChannelWorker(config(dsn, channel))
        async with Collector(worker) as c:
            await c.connected()
            for bad in ["", "no_at", "a@" + "h" * 254, "a\x1b[2J@h", "[bold]", "a b@h"]:
                with pytest.raises(ProtocolError):
                    await worker.announce(bad)
            assert await worker.announce("other@10.9.9.9") == "other@10.9.9.9"
            assert await worker.announce() == NODE
            first = await listener.next()
            second = await listener.next()
    # Had anything invalid gone out, it would have arrived first.
    assert [first.payload, second.payload] == ["other@10.9.9.9", NODE]
    assert [(h.node, h.manual) for h in c.of(HeartbeatSent)] == [
        ("other@10.9.9.9", True),
        (NODE, True),
    ]


async def test_announce_before_connecting_is_refused() -> None:
    worker = ChannelWorker(config("host=127.0.0.1 port=1", "cluster"))
    with pytest.raises(WorkerError, match="not connected"):
        await worker.announce()


async def test_announce_on_a_dead_sender_raises_worker_error(dsn: str, channel: str) -> None:
    worker = ChannelWorker(config(dsn, channel, probe_interval=60.0))
    async with Collector(worker) as c, await raw_connection(dsn) as admin:
        connected = await c.connected()
        await terminate(admin, connected.sender_pid)
        with pytest.raises(WorkerError) as info:
            await worker.announce()
        assert "\n" not in str(info.value)
        print(info.value)
        failed = await c.wait_for(SendFailed)
    assert failed.node == NODE


async def test_send_once_arrives_exactly(dsn: str, channel: str) -> None:
    async with await RawListener.open(dsn, channel) as listener:
        cfg = config(dsn, channel)
        assert await send_once(cfg, "once@10.0.0.5") == "once@10.0.0.5"
        assert await send_once(cfg) == NODE
        assert (await listener.next()).payload == "once@10.0.0.5"
        assert (await listener.next()).payload == NODE


async def test_send_once_refuses_an_invalid_name_before_connecting() -> None:
    # An unreachable server: had it tried to connect, this would be a WorkerError.
    cfg = config("host=127.0.0.1 port=1 connect_timeout=1", "cluster")
    with pytest.raises(ProtocolError, match="no @"):
        await send_once(cfg, "not-a-node")
    with pytest.raises(ProtocolError, match="256 characters"):
        await send_once(cfg, "a@" + "h" * 254)
    with pytest.raises(ProtocolError, match="64 bytes"):
        await send_once(config("host=127.0.0.1 port=1", "c" * 64))


# Junk, probes, queue, attribution

JUNK = [
    "",
    "x" * 7999,
    "é" * 3999,  # 7998 bytes
    "[bold]",
    "[/]",
    "[link=https://example.com]click[/link]",
    "\x1b[2J",
    "no_at_sign",
    "\u202eevil@host",
    "a@" + "h" * 254,
    "line\nbreak@h",
]


async def test_junk_payloads_arrive_literally_and_become_events(dsn: str, channel: str) -> None:
    async with (
        Collector(ChannelWorker(config(dsn, channel))) as c,
        await raw_connection(dsn) as raw,
    ):
        await c.connected()
        pid = raw.info.backend_pid
        for payload in JUNK:
            await pg_notify(raw, channel, payload)
        await pg_notify(raw, channel, "after@junk")
        await c.wait_for(Notification, lambda n: n.payload == "after@junk")
        assert worker_is_healthy(c)
    heard = [n.payload for n in c.of(Notification) if n.pid == pid]
    assert heard == [*JUNK, "after@junk"]
    events = Monitor(ReplaySource(), Membership()).apply(c.facts)
    junk = [e for e in events if isinstance(e, JunkReceived)]
    assert [j.length for j in junk] == [len(p) for p in JUNK]
    assert [j.payload for j in junk] == [p[:JUNK_PREVIEW_CHARS] for p in JUNK]
    assert all(j.pid == pid for j in junk)


def worker_is_healthy(c: Collector) -> bool:
    """Connected once and never disconnected."""
    return len(c.of(Connected)) == 1 and not c.of(Disconnected) and c.link.connected


async def test_probe_measures_round_trip_on_a_private_channel(dsn: str, channel: str) -> None:
    started = time.monotonic()
    async with await RawListener.open(dsn, channel) as listener:
        worker = ChannelWorker(config(dsn, channel))
        assert worker.probe_channel != channel
        async with Collector(worker) as c, await raw_connection(dsn) as raw:
            probe = await c.wait_for(ProbeMeasured, count=2)
            await pg_notify(raw, channel, "sentinel@h")
            # No probe ever went to the cluster channel: the sentinel is the first thing there.
            assert (await listener.next()).payload == "sentinel@h"
            await c.wait_for(Notification, lambda n: n.payload == "sentinel@h")
    # The round trip happened within the test: a longer one is in the wrong unit.
    assert 0.0 < probe.rtt_ms <= (time.monotonic() - started) * 1000
    assert {n.payload for n in c.of(Notification)} == {"sentinel@h"}


async def test_queue_usage_is_measured(dsn: str, channel: str) -> None:
    async with Collector(ChannelWorker(config(dsn, channel))) as c:
        usage = await c.wait_for(QueueUsageMeasured)
    assert 0.0 <= usage.usage < 1.0


async def test_senders_are_attributed_once_with_their_application_name(
    dsn: str, channel: str
) -> None:
    async with (
        Collector(ChannelWorker(config(dsn, channel))) as c,
        await raw_connection(dsn, application_name="cluster_node_a@10.0.0.1") as one,
        await raw_connection(dsn, application_name="second") as two,
    ):
        await c.connected()
        pid_one, pid_two = one.info.backend_pid, two.info.backend_pid
        await pg_notify(one, channel, "a@10.0.0.1")
        first = await c.wait_for(SenderAttributed, lambda s: s.pid == pid_one)
        await pg_notify(one, channel, "a@10.0.0.1")
        await pg_notify(two, channel, "b@10.0.0.2")
        second = await c.wait_for(SenderAttributed, lambda s: s.pid == pid_two)
    assert first.application_name == "cluster_node_a@10.0.0.1"
    assert first.usename == "postgres"
    assert first.client_addr in ("local", "127.0.0.1")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first.backend_start)
    assert second.application_name == "second"
    assert len([s for s in c.of(SenderAttributed) if s.pid == pid_one]) == 1


async def test_our_connections_are_labelled(dsn: str, channel: str) -> None:
    worker = ChannelWorker(config(dsn, channel, application_name="pgcluster-tui-test"))
    async with Collector(worker) as c, await raw_connection(dsn) as admin:
        connected = await c.connected()
        cursor = await admin.execute(
            "SELECT pid, application_name FROM pg_stat_activity WHERE pid = ANY(%s)",
            ([connected.listener_pid, connected.sender_pid],),
        )
        names = dict(await cursor.fetchall())
    assert names == {
        connected.listener_pid: "pgcluster-tui-test listener",
        connected.sender_pid: "pgcluster-tui-test sender",
    }
    assert connected.user == "postgres"
    assert re.match(r"\d+", connected.server_version)
    assert c.of(Connecting)[0].attempt == 1


# Reconnecting


async def terminate(admin: psycopg.AsyncConnection[Any], pid: int) -> None:
    """Terminate a backend and wait (server side, up to 5 s) until it has exited."""
    cursor = await admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    assert await cursor.fetchone() == (True,)


@pytest.mark.parametrize("victim", ["listener", "sender"])
async def test_reconnects_after_its_backend_is_terminated(
    dsn: str, channel: str, victim: str
) -> None:
    worker = ChannelWorker(config(dsn, channel, heartbeat=True))
    async with Collector(worker) as c, await raw_connection(dsn) as admin:
        first = await c.connected()
        await terminate(admin, first.listener_pid if victim == "listener" else first.sender_pid)
        second = await c.connected(2)
        await pg_notify(admin, channel, "again@h")
        await c.wait_for(Notification, lambda n: n.payload == "again@h")
        assert c.link.reconnects == 1
        assert c.link.connected
        # We heartbeat again at once after reconnecting.
        await c.wait_for(HeartbeatSent, lambda h: h.at >= second.at)
        await c.wait_for(Notification, lambda n: n.pid == second.sender_pid)
    kinds = [type(f) for f in c.facts if not isinstance(f, Notification | SenderAttributed)]
    after = kinds[kinds.index(Connected) + 1 :]
    disconnected = after.index(Disconnected)
    assert after.index(RetryScheduled) > disconnected
    assert after.index(Connected) > after.index(RetryScheduled)
    assert {second.listener_pid, second.sender_pid}.isdisjoint(
        {first.listener_pid, first.sender_pid}
    )
    reason = c.of(Disconnected)[0].reason
    assert reason
    assert "\n" not in reason
    assert c.heard(NODE, second.sender_pid)


async def test_the_backoff_grows_with_young_deaths_and_resets_after_a_stable_session(
    dsn: str, channel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Until the last session every session is young: 60 s is beyond every wait here.
    monkeypatch.setattr(backoff, "STABLE_SESSION_SECONDS", 60.0)
    worker = ChannelWorker(config(dsn, channel, reconnect_max=30.0))
    async with Collector(worker) as c, await raw_connection(dsn) as admin:
        for deaths in range(1, 4):
            connected = await c.connected(deaths)
            await terminate(admin, connected.listener_pid)
            await c.wait_for(RetryScheduled, count=deaths)
        connected = await c.connected(4)
        # The worker started timing this session before the test saw it open.
        seen_open = time.monotonic()
        monkeypatch.setattr(backoff, "STABLE_SESSION_SECONDS", 1.0)
        # A session that lasts is stable again: the next loss is followed almost at once.
        await wait_until(lambda: time.monotonic() - seen_open > 1.0, what="a stable session")
        await terminate(admin, connected.listener_pid)
        await c.wait_for(RetryScheduled, count=4)
    delays = [r.delay for r in c.of(RetryScheduled)]
    # Young deaths in a row: 0.5 s, 1 s, 2 s, each within the jitter of 20 %.
    for delay, base in zip(delays, (0.5, 1.0, 2.0), strict=False):
        assert 0.8 * base - 0.01 <= delay <= 1.2 * base + 0.01, delays
    assert delays[3] == 0.2, delays


def test_worker_refuses_a_channel_or_node_the_protocol_cannot_carry() -> None:
    with pytest.raises(ProtocolError, match="64 bytes"):
        ChannelWorker(config("host=127.0.0.1", "x" * 64))
    with pytest.raises(ProtocolError, match="empty"):
        ChannelWorker(config("host=127.0.0.1", ""))
    with pytest.raises(ProtocolError, match="no @"):
        ChannelWorker(config("host=127.0.0.1", "cluster", node="nameless"))


# Which backends still live


async def until_ended(admin: psycopg.AsyncConnection[Any], pid: int) -> None:
    """Wait until our own closed session's backend has left pg_stat_activity."""
    deadline = time.monotonic() + 10
    while True:
        cursor = await admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
        if await cursor.fetchone() == (0,):
            return
        assert time.monotonic() < deadline, f"backend {pid} still there"
        await asyncio.sleep(0.02)  # polling the server


async def test_check_backends_reports_a_live_session_alive_and_a_closed_one_gone(
    dsn: str, channel: str
) -> None:
    async with (
        Collector(ChannelWorker(config(dsn, channel))) as c,
        await raw_connection(dsn, application_name=f"{channel} live") as live,
        await raw_connection(dsn, application_name=f"{channel} admin") as admin,
    ):
        await c.connected()
        closed = await raw_connection(dsn, application_name=f"{channel} closed")
        gone_pid = closed.info.backend_pid
        await closed.close()
        await until_ended(admin, gone_pid)
        live_pid = live.info.backend_pid
        c.worker.check_backends([live_pid, gone_pid])
        checked = await c.wait_for(BackendsChecked)
    assert checked.alive == (live_pid,)
    assert checked.gone == (gone_pid,)
    assert len(c.of(BackendsChecked)) == 1


async def test_check_backends_answers_in_batches_of_500_at_most_4_a_second(
    dsn: str, channel: str
) -> None:
    # Above the kernel's largest possible pid (2^22): never a backend.
    pids = list(range(5_000_000, 5_001_200))
    async with Collector(ChannelWorker(config(dsn, channel), clock=OrderingClock())) as c:
        await c.connected()
        c.worker.check_backends(pids)
        c.worker.check_backends(pids[:10])  # asked again before the answer: one answer
        await c.wait_for(BackendsChecked, count=3)
    checks = c.of(BackendsChecked)
    assert [len(x.gone) for x in checks] == [500, 500, 200]
    assert [x for check in checks for x in check.gone] == pids
    assert not any(check.alive for check in checks)
    # Stamped on the clock the worker sleeps on between look-ups.
    gaps = [b.at - a.at for a, b in itertools.pairwise(checks)]
    assert all(gap >= LOOKUP_SECONDS - EARLY for gap in gaps), gaps


async def test_a_cancelled_wait_for_the_next_batch_loses_nothing(dsn: str, channel: str) -> None:
    async with (
        ChannelWorker(config(dsn, channel, probe_interval=60.0)) as worker,
        await raw_connection(dsn) as raw,
    ):
        batches = worker.batches()
        kinds: set[type] = set()
        while not {Connected, ProbeMeasured, QueueUsageMeasured} <= kinds:
            kinds.update(type(f) for f in await anext(batches))
        # Nothing more is due for seconds: this wait is parked, then given up.
        waiting = asyncio.ensure_future(anext(batches))
        await asyncio.wait({waiting}, timeout=0.05)
        assert not waiting.done()
        waiting.cancel()
        await pg_notify(raw, channel, "after@cancel")
        batch = await asyncio.wait_for(anext(batches), 5.0)
    heard = [f for f in batch if isinstance(f, Heard)]
    assert [p for h in heard for (p, _) in h.counts] == ["after@cancel"]
