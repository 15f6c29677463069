"""Hostile input through the real database: payloads, floods, secrets, SQL, the announce guard."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from pgcluster_tui.core.events import Disconnected, JunkReceived, NodesNotTracked
from pgcluster_tui.core.membership import JUNK_PREVIEW_CHARS, Thresholds
from pgcluster_tui.core.protocol import Junk, NodeName, ProtocolError, classify
from pgcluster_tui.core.text import visible
from pgcluster_tui.pg.embedded import EmbeddedServer
from pgcluster_tui.pg.worker import ChannelWorker, WorkerConfig, send_once
from tests.reliability.harness import Harness, require_password
from tests.waiting import wait_until, wait_until_sync

T = TypeVar("T")

HOSTILE = [
    "",
    "[bold]",
    "[/]",
    "[link=http://x]click[/link]",
    "\x1b[31mred",
    "\x1b]0;title\x07",
    "\x1b[2J",
    "a@b\u202eevil",
    "مرحبا@שלום",
    "no_at_sign",
    "x" * 7999,
    "é" * 3999,
    "@",
    "a@",
    "@b",
    "a b@c",
    "ok@10.0.0.1",
    "v6@::1",
]


class LiveHarness:
    """A Harness on its own event loop thread, for synchronous (hypothesis) tests."""

    def __init__(self, config: WorkerConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self.harness = Harness(config, Thresholds(config.interval))
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> LiveHarness:
        self._thread.start()
        self.call(self.harness.__aenter__())
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.call(self.harness.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def call(self, coroutine: Any) -> Any:
        """Run a coroutine on the harness's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def read(self, reader: Callable[[Harness], T]) -> T:
        """Read the model on its own thread."""

        async def read() -> T:
            return reader(self.harness)

        result: T = self.call(read())
        return result


@pytest.fixture(scope="module")
def live(embedded_server: EmbeddedServer) -> Iterator[tuple[LiveHarness, str]]:
    """One listener for every hypothesis example."""
    channel = f"hyp_{secrets.token_hex(4)}"
    config = WorkerConfig(conninfo=embedded_server.dsn, channel=channel, node="observer@test")
    with LiveHarness(config) as harness:
        wait_until_sync(lambda: harness.harness.link.connected, what="listener up")
        yield harness, channel


CHARS = st.characters(codec="utf-8", exclude_characters="\x00")
NAME_CHARS = st.characters(codec="utf-8", exclude_characters="\x00@")
payloads = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(CHARS, max_size=300),
    st.text(CHARS, max_size=2600),
    st.builds(
        lambda name, host: f"{name}@{host}",
        st.text(NAME_CHARS, max_size=40),
        st.text(CHARS, max_size=40),
    ),
).filter(lambda p: len(p.encode()) < 8000)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(payloads, min_size=1, max_size=6))
def test_hostile_payloads_flow_through_literally(
    live: tuple[LiveHarness, str], embedded_server: EmbeddedServer, batch: list[str]
) -> None:
    harness, channel = live
    sentinel = f"sentinel{secrets.token_hex(6)}@test"
    junk_before = harness.read(lambda h: sum(h.model.junk_counts.values()))
    with psycopg.connect(embedded_server.dsn, autocommit=True) as conn:
        for payload in [*batch, sentinel]:
            conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))
    wait_until_sync(lambda: harness.read(lambda h: sentinel in h.model), what="the sentinel")
    expected_junk = sum(isinstance(classify(p), Junk) for p in batch)
    junk_after = harness.read(lambda h: sum(h.model.junk_counts.values()))
    assert junk_after - junk_before == expected_junk
    for payload in batch:
        verdict = classify(payload)
        if isinstance(verdict, NodeName):
            assert harness.read(lambda h, p=payload: p in h.model)  # type: ignore[misc]
        shown = visible(payload)
        assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in shown)
    previews = harness.read(lambda h: [e.payload for e in h.of(JunkReceived)])
    assert all(len(p) <= JUNK_PREVIEW_CHARS for p in previews)
    assert harness.read(lambda h: h.link.connected)


async def test_flood_of_distinct_names_loses_no_valid_node(dsn: str, channel: str) -> None:
    names, rounds = 10_000, 5
    config = WorkerConfig(conninfo=dsn, channel=channel, node="observer@test")
    async with Harness(config) as h:
        await wait_until(lambda: h.link.connected, what="listener up")
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            for _ in range(rounds):
                await conn.execute(
                    "SELECT pg_notify(%s, 'n' || i || '@10.0.0.1')"
                    " FROM generate_series(1, %s) AS i",
                    (channel, names),
                )
        await wait_until(
            lambda: h.model.beats_total >= names * rounds, timeout=60, what="every beat"
        )
    assert len(h.model) == names
    assert h.model.beats_total == names * rounds


async def test_cap_on_nodes_keeps_the_table_bounded_and_counts_the_rest(
    dsn: str, channel: str
) -> None:
    config = WorkerConfig(conninfo=dsn, channel=channel, node="observer@test")
    async with Harness(config) as h:
        h.model.max_nodes = 1000
        await wait_until(lambda: h.link.connected, what="listener up")
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute(
                "SELECT pg_notify(%s, 'n' || i || '@h') FROM generate_series(1, 5000) AS i",
                (channel,),
            )
        await wait_until(lambda: h.monitor.received >= 5000, timeout=30, what="every beat")
        await wait_until(lambda: h.model.untracked >= 4000, what="the rest counted")
    assert len(h.model) <= 1000
    assert "n1@h" in h.model, "fresh names are kept, not churned"
    assert any(isinstance(e, NodesNotTracked) for e in h.events)


# Secrets

PASSWORD = "Right_pw_" + secrets.token_hex(4)


@pytest.fixture
def password_server(private_server: EmbeddedServer) -> EmbeddedServer:
    """A private server where the role secret_user must give a password."""
    require_password(private_server, "secret_user", PASSWORD)
    return private_server


def _secret_dsn(server: EmbeddedServer, password: str) -> str:
    where = f"host={server.socket_dir} port={server.port} dbname=postgres"
    return f"{where} user=secret_user password={password}"


def test_password_never_in_output(password_server: EmbeddedServer) -> None:
    good = _secret_dsn(password_server, PASSWORD)
    env = dict(os.environ)
    outputs = []
    for args in (
        ["watch", "--json", "--all", "--duration", "2"],
        ["watch", "--duration", "1"],
        ["nodes", "--json", "--wait", "1"],
        ["announce"],
        ["check", "--expect", "0", "--wait", "1"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "pgcluster_tui", "--dsn", good, *args],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    wrong = f"postgresql://secret_user:{PASSWORD}x@/postgres?host={password_server.socket_dir}"
    for dsn in (
        wrong,
        _secret_dsn(password_server, PASSWORD + "x"),
        f"host=/nonexistent password={PASSWORD} port=1",
        f"postgresql://u:{PASSWORD}@127.0.0.1:1/db",
        f"password={PASSWORD} nonsense",
    ):
        result = subprocess.run(
            [sys.executable, "-m", "pgcluster_tui", "--dsn", dsn, "nodes", "--wait", "3"],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
        assert result.returncode == 2
        outputs.append(result.stdout + result.stderr)
    watched = json.loads(outputs[0].splitlines()[1])
    assert watched["event"] == "connected"
    assert watched["user"] == "secret_user"
    for output in outputs:
        assert PASSWORD not in output


async def test_password_never_in_events(password_server: EmbeddedServer) -> None:
    dsn = f"postgresql://secret_user:{PASSWORD}x@/postgres?host={password_server.socket_dir}"
    config = WorkerConfig(conninfo=dsn, channel="c", node="n@h", reconnect_max=0.5)
    async with Harness(config) as h:
        await wait_until(lambda: len(h.of(Disconnected)) >= 2, what="failed attempts")
    text = json.dumps([e.to_json() for e in h.events]) + repr(config)
    assert "password authentication failed" in text
    assert PASSWORD not in text


# SQL travels as data


@pytest.mark.parametrize(
    ("evil_channel", "evil_name"),
    [
        ('a"; DROP TABLE victim; --', "o'brien@h"),
        ("back\\slash'quote\"", "back\\slash@h'); DROP TABLE victim; --"),
        ("$$; DROP TABLE victim; $$", 'q"uote@h'),
    ],
)
async def test_quotes_and_injection_attempts_travel_as_data(
    dsn: str, evil_channel: str, evil_name: str
) -> None:
    table = f"victim_{secrets.token_hex(4)}"
    channel = evil_channel.replace("victim", table)
    name = evil_name.replace("victim", table).replace(" ", "_")
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as admin:
        await admin.execute(sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(table)))
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as raw:
                await raw.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                config = WorkerConfig(conninfo=dsn, channel=channel, node=name, heartbeat=True)
                async with Harness(config) as h:
                    await wait_until(lambda: name in h.model, what="our own beat")
                got = await anext(raw.notifies(timeout=5))
            assert got.channel == channel
            assert got.payload == name
            await admin.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        finally:
            await admin.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


# The announce guard on the library paths


async def test_library_refuses_names_a_node_would_crash_on(dsn: str, channel: str) -> None:
    too_long = "a@" + "b" * 254
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as raw:
        await raw.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        config = WorkerConfig(conninfo=dsn, channel=channel, node="ok@h")
        with pytest.raises(ProtocolError):
            ChannelWorker(WorkerConfig(conninfo=dsn, channel=channel, node=too_long))
        with pytest.raises(ProtocolError):
            await send_once(config, too_long)
        async with Harness(config) as h:
            await wait_until(lambda: h.link.connected, what="connected")
            for bad in (too_long, "no_at", "a@b\x1b[2J", "", "a b@c"):
                with pytest.raises(ProtocolError):
                    await h.worker.announce(bad)
            await h.worker.announce("sentinel@after")
        first = await anext(raw.notifies(timeout=5))
    assert first.payload == "sentinel@after"
