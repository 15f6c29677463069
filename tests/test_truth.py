"""What the Monitor reports matches what happened, with real sessions on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import psycopg

from pgcluster_tui.core.events import (
    Connected,
    DuplicateNameDetected,
    Event,
    NameClaimedByOther,
    NodeEvicted,
    NodeJoined,
    NodeReincarnated,
    NodesNotTracked,
    NodeState,
    NodeStateChanged,
    SenderChurning,
)
from pgcluster_tui.core.monitor import Monitor
from pgcluster_tui.settings import Settings
from pgcluster_tui.wiring import new_monitor
from tests.beating import beating
from tests.test_cli import LineReader
from tests.waiting import wait_until

E = TypeVar("E", bound=Event)

NAME = "app@10.0.0.5"


class Watched:
    """A live Monitor on the test's channel, with every event it reported."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.events: list[Event] = []

    def of(self, kind: type[E]) -> list[E]:
        """Every event of one type, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    async def connected(self, count: int = 1) -> Connected:
        """Wait for the `count`th session."""
        await wait_until(lambda: len(self.of(Connected)) >= count, 15, "connected")
        return self.of(Connected)[count - 1]


@contextlib.asynccontextmanager
async def watching(dsn: str, channel: str, **settings: Any) -> AsyncIterator[Watched]:
    """Run a Monitor on `channel` for the block, collecting its events."""
    values: dict[str, Any] = {"channel": channel, "node": "observer@10.0.0.9"}
    values.update(settings)
    monitor = new_monitor(Settings(**values), dsn)
    watched = Watched(monitor)

    async def collect() -> None:
        async for update in monitor.updates():
            watched.events.extend(update.events)

    task = asyncio.create_task(collect())
    try:
        await watched.connected()
        yield watched
    finally:
        await monitor.stop()
        await asyncio.wait_for(task, 5)


def beats_of(w: Watched, name: str = NAME) -> int:
    """How many beats of `name` the model has counted."""
    model = w.monitor.model
    return model.view(name, time.time()).beats if name in model else 0


async def session(dsn: str) -> psycopg.AsyncConnection[Any]:
    """A plain client session, as a libcluster node's sender is."""
    return await psycopg.AsyncConnection.connect(dsn, autocommit=True)


async def beat(conn: psycopg.AsyncConnection[Any], channel: str, name: str = NAME) -> None:
    """NOTIFY a node name on the channel, as libcluster_postgres does."""
    await conn.execute("SELECT pg_notify(%s, %s)", (channel, name))


async def test_two_live_sessions_beating_one_name_are_a_duplicate_never_a_restart(
    dsn: str, channel: str
) -> None:
    async with watching(dsn, channel) as w:
        first, second = await session(dsn), await session(dsn)
        expected = {first.info.backend_pid, second.info.backend_pid}
        try:
            for _ in range(3):
                await beat(first, channel)
            await wait_until(lambda: NAME in w.monitor.model, what="the first sender")
            for _ in range(3):
                await beat(second, channel)
                await beat(first, channel)
            await wait_until(lambda: w.of(DuplicateNameDetected), what="the duplicate")
            pids = set(w.of(DuplicateNameDetected)[0].pids)
        finally:
            await first.close()
            await second.close()
    assert pids == expected
    assert w.of(NodeReincarnated) == []


async def test_a_session_replaced_after_it_closed_is_a_restart_never_a_duplicate(
    dsn: str, channel: str
) -> None:
    async with watching(dsn, channel) as w:
        old = await session(dsn)
        for _ in range(3):
            await beat(old, channel)
        old_pid = old.info.backend_pid
        await wait_until(lambda: NAME in w.monitor.model, what="the first incarnation")
        await old.close()
        new = await session(dsn)
        new_pid = new.info.backend_pid
        try:
            await beat(new, channel)
            await wait_until(lambda: w.of(NodeReincarnated), what="the restart")
            await beat(new, channel)
            await wait_until(lambda: w.monitor.model.view(NAME, time.time()).beats >= 5)
        finally:
            await new.close()
    (restart,) = w.of(NodeReincarnated)
    assert (restart.previous_pid, restart.pid) == (old_pid, new_pid)
    assert w.of(DuplicateNameDetected) == []


async def test_a_sender_with_a_new_session_per_beat_is_one_churn_fact(
    dsn: str, channel: str
) -> None:
    async with watching(dsn, channel, interval=5.0) as w:
        pids = []
        for _ in range(8):  # a psql loop: connect, NOTIFY, disconnect, wait
            conn = await session(dsn)
            await beat(conn, channel)
            pids.append(conn.info.backend_pid)
            await conn.close()
            await wait_until(lambda: beats_of(w) >= len(pids), what="the beat")
            await asyncio.sleep(0.2)  # the sender's own pace, not synchronisation
        await wait_until(lambda: w.of(SenderChurning), what="the churn fact")
        view = w.monitor.model.view(NAME, time.time())
    assert len(w.of(SenderChurning)) == 1
    assert w.of(NodeReincarnated) == []
    assert set(view.pids) <= {pids[-1]}, "only live (or the latest) senders are listed"
    assert view.interval_estimated, "the interval is learned across sessions"
    assert 0.1 < view.interval < 1.0


async def test_another_process_sending_our_own_name_is_called_out(dsn: str, channel: str) -> None:
    async with watching(dsn, channel, node=NAME, heartbeat=True, interval=0.3) as w:
        await wait_until(lambda: NAME in w.monitor.model, what="our own beat")
        impostor = await session(dsn)
        impostor_pid = impostor.info.backend_pid
        try:
            for _ in range(3):
                await beat(impostor, channel)
            await wait_until(lambda: w.of(NameClaimedByOther), what="the claim")
        finally:
            await impostor.close()
    assert {e.pid for e in w.of(NameClaimedByOther)} == {impostor_pid}
    assert w.of(NodeReincarnated) == []


async def test_a_flood_of_one_shot_names_never_evicts_a_live_node(dsn: str, channel: str) -> None:
    async with watching(dsn, channel, max_nodes=100, interval=0.5) as w:
        live = await session(dsn)
        flooder = await session(dsn)
        try:
            for _ in range(4):
                await beat(live, channel)
            await wait_until(lambda: NAME in w.monitor.model, what="the live node")
            for start in range(0, 2000, 500):
                await flooder.execute(
                    "SELECT pg_notify(%s, 'flood' || g || '@10.1.0.1')"
                    " FROM generate_series(%s::int, %s::int) g",
                    (channel, start, start + 499),
                )
                await beat(live, channel)
            received = w.monitor.received
            await wait_until(lambda: w.monitor.received >= received, what="the flood")
            await wait_until(lambda: w.monitor.received >= 2000 + 8, what="every notification")
        finally:
            await live.close()
            await flooder.close()
    assert NAME in w.monitor.model
    assert all(e.node != NAME for e in w.of(NodeEvicted))
    assert len(w.monitor.model) <= 100


async def test_more_real_nodes_than_max_nodes_are_counted_never_churned(
    dsn: str, channel: str
) -> None:
    names = [f"n{i:02d}@10.0.1.{i}" for i in range(21)]
    async with watching(dsn, channel, max_nodes=20, interval=0.5) as w:
        senders = [await session(dsn) for _ in names]
        try:

            async def cycle() -> None:
                for conn, name in zip(senders, names, strict=True):
                    await beat(conn, channel, name)
                await asyncio.sleep(0.25)  # the nodes' own pace: two beats an interval

            for _ in range(4):
                await cycle()
            await wait_until(lambda: w.monitor.model.untracked >= 1, what="the extra node counted")
            joined = len(w.of(NodeJoined))
            for _ in range(12):  # three seconds of steady beating at the cap
                await cycle()
            model = w.monitor.model
            await wait_until(
                lambda: all(model.view(n, time.time()).beats >= 12 for n in model.names())
            )
        finally:
            for conn in senders:
                await conn.close()
    assert len(model) == 20
    assert model.untracked == 1
    assert w.of(NodeEvicted) == []
    assert len(w.of(NodeJoined)) == joined == 20, "no node left and came back"
    assert len(w.of(NodesNotTracked)) == 1


async def test_after_our_own_outage_each_node_has_its_own_grace_and_no_state_is_skipped(
    dsn: str, channel: str
) -> None:
    admin = await session(dsn)
    async with watching(dsn, channel, interval=5.0, probe_interval=0.5) as w:
        fast = await session(dsn)
        for _ in range(6):  # a 0.3 s node: its own thresholds are far below the configured 5 s
            await beat(fast, channel)
            await asyncio.sleep(0.3)  # the node's pace
        view = w.monitor.model.view(NAME, time.time())
        assert view.interval_estimated
        await fast.close()  # the node dies while we are away
        first = w.of(Connected)[0]
        await admin.execute("SELECT pg_terminate_backend(%s)", (first.listener_pid,))
        await w.connected(2)
        await wait_until(
            lambda: w.monitor.model.state(NAME) is NodeState.STALE, 10, "the node to go stale"
        )
    await admin.close()
    changes = [(e.previous, e.state) for e in w.of(NodeStateChanged) if e.node == NAME]
    assert changes[-3:] == [
        (NodeState.ALIVE, NodeState.LATE),
        (NodeState.LATE, NodeState.SUSPECT),
        (NodeState.SUSPECT, NodeState.STALE),
    ]


def test_a_stall_of_our_own_process_is_not_everyone_s_silence(dsn: str, channel: str) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pgcluster_tui",
            "--dsn",
            dsn,
            "--channel",
            channel,
            "--interval",
            "0.5",
            "watch",
            "--json",
            "--all",  # a new node confirmed alive is printed only with --all
            "--duration",
            "14",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        reader = LineReader(process)
        reader.until('"event":"connected"')
        with beating(dsn, channel, [NAME], every=0.2):
            reader.until('"state":"alive"')
            os.kill(process.pid, signal.SIGSTOP)
            time.sleep(5)  # the stall under test: our process does not run for 5 s
            os.kill(process.pid, signal.SIGCONT)
            reader.until("stall_detected")
            process.wait(20)
    finally:
        if process.poll() is None:
            process.kill()
    events = [json.loads(line) for line in reader.drain()]
    worse = [
        e
        for e in events
        if e["event"] == "node_state_changed" and e["state"] in ("late", "suspect", "stale")
    ]
    assert worse == [], "a node that kept beating was painted silent by our own stall"
