"""Faults on a private server: forced disconnects, restarts, start while down, frozen servers."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from pgcluster_tui.core.events import (
    Connected,
    Disconnected,
    NodeState,
    NodeStateChanged,
    RetryScheduled,
)
from pgcluster_tui.core.membership import Thresholds
from pgcluster_tui.pg.embedded import EmbeddedServer
from pgcluster_tui.pg.worker import WorkerConfig
from tests.reliability.harness import Harness, Peers
from tests.test_cli import LineReader
from tests.waiting import wait_until

NAMES = ["a@10.0.0.1", "b@10.0.0.2", "c@10.0.0.3"]


def config(dsn: str, channel: str, **overrides: object) -> WorkerConfig:
    """A worker config with fast reconnects for tests."""
    values: dict[str, object] = {
        "conninfo": dsn,
        "channel": channel,
        "node": "observer@test",
        "interval": 0.5,
        "reconnect_max": 0.5,
        "connect_timeout": 2.0,
        "probe_interval": 0.5,
    }
    values.update(overrides)
    return WorkerConfig(**values)  # type: ignore[arg-type]


async def test_forced_disconnects_alternating_listener_and_sender(
    private_server: EmbeddedServer, channel: str
) -> None:
    dsn = private_server.dsn
    rounds = 10
    async with (
        Peers(dsn, channel, NAMES),
        Harness(config(dsn, channel), Thresholds(0.5, 4, 8, 16)) as h,
    ):
        await wait_until(lambda: all(n in h.model for n in NAMES), what="every peer seen")
        with psycopg.connect(dsn, autocommit=True) as admin:
            for i in range(rounds):
                connected_before = len(h.of(Connected))
                victim = h.link.listener_pid if i % 2 == 0 else h.link.sender_pid
                admin.execute("SELECT pg_terminate_backend(%s)", (victim,))
                await _reconnected(h, connected_before, i)
        beats_before = {n: h.model.view(n, time.time()).beats for n in NAMES}
        await wait_until(
            lambda: all(h.model.view(n, time.time()).beats > beats_before[n] for n in NAMES),
            what="beats after the last reconnect",
        )
    assert h.link.reconnects == rounds
    assert len(h.of(Disconnected)) >= rounds
    assert all(name in h.model for name in NAMES)
    assert not [e for e in h.of(NodeStateChanged) if e.state is NodeState.STALE]


async def _reconnected(h: Harness, connected_before: int, round_: int) -> None:
    await wait_until(lambda: len(h.of(Connected)) > connected_before, what=f"reconnect {round_}")


async def test_server_restarts_freeze_ages_and_resume(
    private_server: EmbeddedServer, channel: str
) -> None:
    dsn = private_server.dsn
    thresholds = Thresholds(0.5, 1.5, 3, 6)
    async with Peers(dsn, channel, NAMES), Harness(config(dsn, channel), thresholds) as h:
        for restart in range(2):
            await wait_until(lambda: all(n in h.model for n in NAMES), what="peers seen")
            await _restart_under(h, private_server, thresholds, restart)
    assert not [e for e in h.of(NodeStateChanged) if e.state is NodeState.STALE]


async def _restart_under(
    h: Harness, server: EmbeddedServer, thresholds: Thresholds, restart: int
) -> None:
    disconnects = len(h.of(Disconnected))
    server.stop_server()
    await wait_until(lambda: len(h.of(Disconnected)) > disconnects, what="disconnect")
    await wait_until(lambda: h.of(RetryScheduled), what="a retry countdown")
    assert h.model.frozen
    gone_at = time.monotonic()
    # Stay down longer than the stale threshold: a thawing model would call everyone stale.
    await wait_until(lambda: time.monotonic() - gone_at > 3.5, what="a long outage")
    assert h.model.age(NAMES[0], time.time()) < thresholds.stale * thresholds.interval
    connected = len(h.of(Connected))
    server.restart()
    await wait_until(lambda: len(h.of(Connected)) > connected, what=f"back {restart}")
    assert not h.model.frozen
    beats = {n: h.model.view(n, time.time()).beats for n in NAMES}
    await wait_until(
        lambda: all(h.model.view(n, time.time()).beats > beats[n] for n in NAMES),
        what="heartbeats resume",
    )


def _watch(dsn: str, channel: str) -> tuple[subprocess.Popen[str], LineReader]:
    process = subprocess.Popen(
        [sys.executable, "-m", "pgcluster_tui", "--dsn", dsn, "--channel", channel, "watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env={
            **dict(__import__("os").environ),
            "PGCLUSTER_RECONNECT_MAX": "0.5",
            "PGCLUSTER_CONNECT_TIMEOUT": "1",
        },
    )
    return process, LineReader(process)


def _interrupt(process: subprocess.Popen[str]) -> float:
    """Ctrl-C the process; return how long it took to exit."""
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        process.wait(6)
    finally:
        if process.poll() is None:
            process.kill()
    return time.monotonic() - started


def test_watch_starts_while_down_and_joins_when_up(
    private_server: EmbeddedServer, channel: str
) -> None:
    private_server.stop_server()
    process, reader = _watch(private_server.dsn, channel)
    try:
        reader.until("retry_scheduled")
        private_server.restart()
        reader.until("connected ")
        with psycopg.connect(private_server.dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_notify(%s, 'late@joiner')", (channel,))
        reader.until("node_joined")
    finally:
        elapsed = _interrupt(process)
    assert process.returncode == 0
    assert elapsed < 5


def test_watch_survives_restarts(private_server: EmbeddedServer, channel: str) -> None:
    process, reader = _watch(private_server.dsn, channel)
    try:
        reader.until("connected ")
        for _ in range(3):
            private_server.stop_server()
            reader.until("disconnected")
            reader.until("retry_scheduled")
            private_server.restart()
            reader.until("connected ")
    finally:
        _interrupt(process)
    assert process.returncode == 0
    assert process.stderr is not None
    assert "Traceback" not in process.stderr.read()


@pytest.mark.parametrize("fault", ["frozen", "unreachable"])
def test_ctrl_c_in_watch_never_hangs(
    private_server: EmbeddedServer, channel: str, fault: str
) -> None:
    process, reader = _watch(private_server.dsn, channel)
    reader.until("connected ")
    try:
        if fault == "frozen":
            private_server.freeze()
        else:
            private_server.stop_server()
            reader.until("retry_scheduled")
        elapsed = _interrupt(process)
    finally:
        private_server.thaw()
    assert process.returncode == 0
    assert elapsed < 4, f"Ctrl-C took {elapsed:.1f} s"


async def test_dashboard_starts_while_down_and_joins_when_up(
    private_server: EmbeddedServer, channel: str
) -> None:
    from pgcluster_tui.settings import load_settings
    from pgcluster_tui.tui.app import PgClusterApp
    from pgcluster_tui.wiring import new_monitor

    private_server.stop_server()
    settings = load_settings({"dsn": private_server.dsn, "channel": channel, "reconnect_max": 0.5})
    app = PgClusterApp(settings, new_monitor(settings, private_server.dsn))
    async with app.run_test(size=(120, 36)):
        await wait_until(lambda: app.link.phase == "disconnected", what="the first failure")
        await wait_until(lambda: "retry in" in str(app.status_line._shown), what="countdown")
        await asyncio.to_thread(private_server.restart)
        await wait_until(lambda: app.link.phase == "connected", what="joined", timeout=20)
        async with await psycopg.AsyncConnection.connect(private_server.dsn, autocommit=True) as c:
            await c.execute("SELECT pg_notify(%s, 'late@joiner')", (channel,))
        await wait_until(lambda: "late@joiner" in app.table.order, what="the row")
