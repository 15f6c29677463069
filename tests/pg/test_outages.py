"""The worker when the database goes away: stopped, frozen, unreachable or misconfigured."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator

import psycopg
import pytest

from pgcluster_tui.core.events import (
    BackendsChecked,
    Connected,
    Connecting,
    Disconnected,
    HeartbeatSent,
    ListenerHealthy,
    ListenerSilent,
    Notification,
    ProbeMeasured,
    RetryScheduled,
    SenderAttributed,
    SendFailed,
)
from pgcluster_tui.pg.embedded import EmbeddedServer
from pgcluster_tui.pg.errors import WorkerError
from pgcluster_tui.pg.worker import ChannelWorker, send_once
from tests.pg.collector import Collector, config, raw_connection
from tests.reliability.harness import require_password
from tests.waiting import wait_until

PASSWORD = "sekrit_pw"


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def unreachable_dsn() -> str:
    """A DSN with a password, pointing at a closed port."""
    return f"host=127.0.0.1 port={closed_port()} user=postgres password={PASSWORD} dbname=x"


MALFORMED = [
    f"host=127.0.0.1 password={PASSWORD} port",
    f"host=127.0.0.1 password='{PASSWORD}",
    f"postgresql://u:{PASSWORD}@[::1/db",
    f"postgresql://u:{PASSWORD}%zz@127.0.0.1/db",
    f"postgresql://u:{PASSWORD}@127.0.0.1/db?bogus=1",
]


@contextlib.contextmanager
def frozen(server: EmbeddedServer) -> Iterator[None]:
    """SIGSTOP the postmaster and every backend; always SIGCONT them again."""
    try:
        server.freeze()
        yield
    finally:
        server.thaw()


# The server stops and comes back


async def test_stopped_server_disconnects_then_reconnects_after_restart(
    private_server: EmbeddedServer, channel: str
) -> None:
    worker = ChannelWorker(config(private_server.dsn, channel, heartbeat=True))
    async with Collector(worker) as c:
        await c.connected()
        await asyncio.to_thread(private_server.stop_server)
        await c.wait_for(Disconnected)
        await c.wait_for(RetryScheduled)
        assert not c.link.connected
        await asyncio.to_thread(private_server.restart)
        again = await c.connected(2)
        assert c.link.reconnects == 1
        async with await raw_connection(private_server.dsn) as raw:
            await raw.execute("SELECT pg_notify(%s, %s)", (channel, "back@h"))
            await c.wait_for(Notification, lambda n: n.payload == "back@h")
        await c.wait_for(HeartbeatSent, lambda h: h.at >= again.at)
    retries = c.of(RetryScheduled)
    assert all(0 < r.delay <= 1.2 for r in retries)  # reconnect_max=1 with 20 % jitter
    # The session lived under 10 s: it backs off like a failed connect (0.5 s, +-20 %).
    assert retries[0].delay >= 0.4


async def test_refused_connections_are_retried_often_without_backing_off() -> None:
    worker = ChannelWorker(config(unreachable_dsn(), "cluster", reconnect_max=30.0))
    async with Collector(worker) as c:
        await c.wait_for(RetryScheduled, count=3, timeout=15)
    delays = [r.delay for r in c.of(RetryScheduled)]
    assert all(1.0 <= d <= 2.0 for d in delays), delays  # every 1 to 2 s, never more
    assert [a.attempt for a in c.of(Connecting)][:3] == [1, 2, 3]
    assert [r.attempt for r in c.of(RetryScheduled)][:3] == [2, 3, 4]
    assert not c.of(Connected)
    assert c.link.reconnects == 0


async def test_a_cap_below_two_seconds_keeps_refused_retries_under_it() -> None:
    worker = ChannelWorker(config(unreachable_dsn(), "cluster", reconnect_max=0.6))
    async with Collector(worker) as c:
        await c.wait_for(RetryScheduled, count=3)
    assert all(0.3 <= r.delay <= 0.6 for r in c.of(RetryScheduled))


async def first_accepted(dsn: str) -> float:
    """When a plain connection to `dsn` first succeeds (epoch seconds); tries every 20 ms."""
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(dsn, connect_timeout=2)
        except psycopg.OperationalError:
            await asyncio.sleep(0.02)  # polling the server, not waiting on the worker
            continue
        at = time.time()
        await conn.close()
        return at


async def test_reconnects_within_3_s_of_the_server_accepting_after_a_long_outage(
    private_server: EmbeddedServer, channel: str
) -> None:
    worker = ChannelWorker(config(private_server.dsn, channel, reconnect_max=30.0))
    async with Collector(worker) as c:
        first = await c.connected()
        await asyncio.to_thread(private_server.stop_server)
        await c.wait_for(RetryScheduled)
        # Asked while disconnected: answered once connected again.
        worker.check_backends([first.listener_pid])
        down_at = time.monotonic()
        # Long enough that doubling from 0.5 s would have reached waits over 3 s.
        await wait_until(lambda: time.monotonic() - down_at > 8.0, 10.0, "an 8 s outage")
        accepted = asyncio.create_task(first_accepted(private_server.dsn))
        await asyncio.to_thread(private_server.restart)
        accepted_at = await asyncio.wait_for(accepted, 10.0)
        again = await c.connected(2, timeout=10.0)
        checked = await c.wait_for(BackendsChecked)
    assert again.at - accepted_at < 3.0, again.at - accepted_at
    retries = c.of(RetryScheduled)
    assert 0.4 <= retries[0].delay <= 0.6  # the session died young: one exponential step
    assert all(1.0 <= r.delay <= 2.0 for r in retries[1:]), retries
    assert [r.attempt for r in retries] == list(range(1, len(retries) + 1))
    assert checked.gone == (first.listener_pid,)


def _wrong_password_dsn(server: EmbeddedServer) -> str:
    require_password(server, "secret_user", PASSWORD)
    where = f"host={server.socket_dir} port={server.port} dbname=postgres"
    return f"{where} user=secret_user password={PASSWORD}x"


@pytest.mark.parametrize("fault", ["missing database", "wrong password"])
async def test_configuration_errors_back_off_exponentially(
    private_server: EmbeddedServer, fault: str
) -> None:
    if fault == "wrong password":
        dsn = _wrong_password_dsn(private_server)
    else:
        dsn = private_server.dsn.replace("dbname=postgres", "dbname=no_such_db")
    worker = ChannelWorker(config(dsn, "cluster", reconnect_max=30.0))
    async with Collector(worker) as c:
        await c.wait_for(RetryScheduled, count=4, timeout=15)
    delays = [r.delay for r in c.of(RetryScheduled)]
    # 0.5 s, 1 s, 2 s, 4 s, each within the jitter of 20 %.
    for delay, base in zip(delays, (0.5, 1.0, 2.0, 4.0), strict=False):
        assert 0.8 * base - 0.01 <= delay <= 1.2 * base + 0.01, delays
    assert [r.attempt for r in c.of(RetryScheduled)][:4] == [2, 3, 4, 5]
    assert PASSWORD not in " ".join(d.reason for d in c.of(Disconnected))


# Stopping never hangs


async def stop_within(worker: ChannelWorker, seconds: float) -> None:
    started = time.monotonic()
    await worker.stop()
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"stop() took {elapsed:.2f} s"


async def test_stop_returns_promptly_when_the_server_is_frozen(
    private_server: EmbeddedServer, channel: str
) -> None:
    worker = ChannelWorker(config(private_server.dsn, channel, heartbeat=True, interval=0.1))
    async with Collector(worker) as c:
        await c.connected()
        await c.wait_for(HeartbeatSent, count=2)
        with frozen(private_server):
            # Our heartbeat is stuck in NOTIFY: nothing sent for many intervals.
            await wait_until(
                lambda: time.time() - c.of(HeartbeatSent)[-1].at > 0.5, what="a stuck heartbeat"
            )
            await stop_within(worker, 2.2)


async def test_stop_returns_promptly_while_connecting_to_a_frozen_server(
    private_server: EmbeddedServer, channel: str
) -> None:
    with frozen(private_server):
        worker = ChannelWorker(config(private_server.dsn, channel, connect_timeout=10.0))
        async with Collector(worker) as c:
            await c.wait_for(Connecting)
            await stop_within(worker, 2.2)
        assert not c.of(Connected)


async def test_batches_end_when_stopped_while_waiting_to_retry() -> None:
    worker = ChannelWorker(config(unreachable_dsn(), "cluster", reconnect_max=30.0))
    async with Collector(worker) as c:
        await c.wait_for(RetryScheduled, count=2)
        await stop_within(worker, 1.0)
    # Collector's exit waited for batches() to end.
    assert c.task is not None
    assert c.task.done()


async def test_stop_before_start_and_twice() -> None:
    worker = ChannelWorker(config(unreachable_dsn(), "cluster"))
    await worker.stop()
    assert worker.stopping
    assert [b async for b in worker.batches()] == []
    await worker.stop()


# Secrets and one-line errors


async def test_password_never_appears_when_the_server_is_unreachable() -> None:
    dsn = unreachable_dsn()
    worker = ChannelWorker(config(dsn, "cluster"))
    assert PASSWORD not in repr(worker.config)
    async with Collector(worker) as c:
        await c.wait_for(Disconnected, count=2)
    reasons = [d.reason for d in c.of(Disconnected)]
    assert all(PASSWORD not in r and "\n" not in r and r for r in reasons), reasons
    assert all(PASSWORD not in t.target for t in c.of(Connecting))
    assert c.of(Connecting)[0].target.startswith("postgres@127.0.0.1:")


@pytest.mark.parametrize("dsn", MALFORMED)
async def test_password_never_appears_for_a_malformed_conninfo(dsn: str) -> None:
    async with Collector(ChannelWorker(config(dsn, "cluster"))) as c:
        disconnected = await c.wait_for(Disconnected)
    assert PASSWORD not in disconnected.reason
    assert "\n" not in disconnected.reason
    assert PASSWORD not in c.of(Connecting)[0].target
    with pytest.raises(WorkerError) as info:
        await send_once(config(dsn, "cluster"))
    assert PASSWORD not in str(info.value)


async def test_send_once_raises_one_line_when_unreachable() -> None:
    with pytest.raises(WorkerError) as info:
        await send_once(config(unreachable_dsn(), "cluster"))
    message = str(info.value)
    assert message
    assert "\n" not in message
    assert PASSWORD not in message
    assert "127.0.0.1" in message


async def test_send_once_gives_up_on_a_frozen_server(
    private_server: EmbeddedServer, channel: str
) -> None:
    with frozen(private_server):
        started = time.monotonic()
        with pytest.raises(WorkerError, match=r"no answer|timeout|expired"):
            await send_once(config(private_server.dsn, channel, connect_timeout=1.0))
        assert time.monotonic() - started < 4.0


# A listener that stops receiving


async def test_listener_that_stops_receiving_is_reported_silent_then_healthy(
    private_server: EmbeddedServer, channel: str
) -> None:
    worker = ChannelWorker(config(private_server.dsn, channel))
    async with Collector(worker) as c:
        connected = await c.connected()
        await c.wait_for(ProbeMeasured)
        # Only our listening backend stops: NOTIFY still succeeds, nothing comes back,
        # which is what a transaction-mode pooler or a replica looks like.
        os.kill(connected.listener_pid, signal.SIGSTOP)
        try:
            silent = await c.wait_for(ListenerSilent, timeout=10.0)
            assert silent.silent_for >= 5.0
        finally:
            os.kill(connected.listener_pid, signal.SIGCONT)
        healthy = await c.wait_for(ListenerHealthy)
        assert healthy.at > silent.at
        assert len(c.of(Connected)) == 1


# Attribution as a role that may not see other sessions


async def test_attribution_leaves_blanks_a_plain_role_may_not_see(
    private_server: EmbeddedServer, channel: str
) -> None:
    async with await raw_connection(private_server.dsn) as admin:
        await admin.execute("CREATE ROLE observer LOGIN")
    observer_dsn = private_server.dsn.replace("user=postgres", "user=observer")
    worker = ChannelWorker(config(observer_dsn, channel))
    async with (
        Collector(worker) as c,
        await raw_connection(private_server.dsn, application_name="cluster_node_x") as raw,
    ):
        connected = await c.connected()
        assert connected.user == "observer"
        pid = raw.info.backend_pid
        await raw.execute("SELECT pg_notify(%s, %s)", (channel, "x@h"))
        sender = await c.wait_for(SenderAttributed, lambda s: s.pid == pid)
    # PostgreSQL hides the address and start time of other roles' sessions, not the names.
    assert (sender.client_addr, sender.backend_start) == ("", "")
    assert (sender.application_name, sender.usename) == ("cluster_node_x", "postgres")


# Sending fails while the connection lives (a full queue looks like this)


async def test_failing_notify_does_not_tear_down_the_session(
    private_server: EmbeddedServer, channel: str
) -> None:
    async with await raw_connection(private_server.dsn) as admin:
        await admin.execute("CREATE ROLE peer LOGIN")
        await admin.execute("REVOKE EXECUTE ON FUNCTION pg_notify(text, text) FROM PUBLIC")
        peer_dsn = private_server.dsn.replace("user=postgres", "user=peer")
        worker = ChannelWorker(config(peer_dsn, channel, heartbeat=True, interval=0.2))
        async with Collector(worker) as c:
            await c.connected()
            failed = await c.wait_for(SendFailed, count=3)
            assert "permission denied" in failed.reason
            with pytest.raises(WorkerError, match="permission denied"):
                await worker.announce()
            # Still listening: others' notifications arrive on the same session.
            await admin.execute("SELECT pg_notify(%s, %s)", (channel, "other@h"))
            await c.wait_for(Notification, lambda n: n.payload == "other@h")
            await admin.execute("GRANT EXECUTE ON FUNCTION pg_notify(text, text) TO PUBLIC")
            await c.wait_for(ProbeMeasured)
            await c.wait_for(Notification, lambda n: n.payload == worker.config.node)
            assert len(c.of(Connected)) == 1
            assert not c.of(Disconnected)


async def test_a_failing_backend_check_keeps_the_session_and_is_answered_later(
    private_server: EmbeddedServer, channel: str
) -> None:
    async with await raw_connection(private_server.dsn) as admin:
        await admin.execute("CREATE ROLE observer LOGIN")
        await admin.execute("REVOKE SELECT ON pg_catalog.pg_stat_activity FROM PUBLIC")
        observer_dsn = private_server.dsn.replace("user=postgres", "user=observer")
        worker = ChannelWorker(config(observer_dsn, channel))
        async with Collector(worker) as c:
            connected = await c.connected()
            worker.check_backends([connected.sender_pid, 5_000_000])
            # Denied a few times over (about 4 tries a second), still connected, no answer yet.
            probes = len(c.of(ProbeMeasured))
            await c.wait_for(ProbeMeasured, count=probes + 5)
            assert not c.of(BackendsChecked)
            await admin.execute("GRANT SELECT ON pg_catalog.pg_stat_activity TO PUBLIC")
            checked = await c.wait_for(BackendsChecked)
            assert len(c.of(Connected)) == 1
            assert not c.of(Disconnected)
    assert (checked.alive, checked.gone) == ((connected.sender_pid,), (5_000_000,))
