"""The census against a real PostgreSQL: spellings, two databases, a role that sees less."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgcluster_tui.core.census import Census, Channel, take_census
from pgcluster_tui.pg.census import read_activity
from pgcluster_tui.pg.connection import WorkerConfig
from pgcluster_tui.pg.embedded import EmbeddedServer
from tests.reliability.harness import Harness
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)

Statement = tuple[str, tuple[Any, ...] | None]


@contextmanager
def sessions(dsn: str, app: str, statements: list[Statement]) -> Iterator[list[int]]:
    """One open session per statement, each left idle after it; yields their backend pids."""
    with ExitStack() as stack:
        pids = []
        for index, (statement, params) in enumerate(statements):
            conn = stack.enter_context(
                psycopg.connect(dsn, autocommit=True, application_name=f"{app} {index}")
            )
            conn.execute(statement.encode() if params is None else statement, params)
            pids.append(conn.info.backend_pid)
        yield pids


async def census_of(dsn: str, app: str, expected: list[tuple[str, str]] | None = None) -> Census:
    """The census of this test's own sessions (others on a shared server are left out)."""
    activity = await read_activity(dsn)
    ours = [s for s in activity.sessions if s.application.startswith(app)]
    return take_census(ours, user=activity.user, grant=activity.grant, expected=expected or [])


def entry(result: Census, database: str, channel: str | None) -> Channel:
    [found] = [c for c in result.channels if (c.database, c.channel) == (database, channel)]
    return found


def database_of(dsn: str) -> str:
    return str(conninfo_to_dict(dsn).get("dbname") or "postgres")


async def test_quoted_unquoted_mixed_case_and_hidden_channels(dsn: str) -> None:
    tag = secrets.token_hex(4)
    app = f"census-{tag}"
    name = f"Mx_{tag}"
    statements: list[Statement] = [
        (f'LISTEN "{name}"', None),
        (f"NOTIFY {name}, 'a@127.0.0.1'", None),
        (f"SELECT pg_notify('{name}', 'b@127.0.0.1')", None),
        ("SELECT pg_notify(%s, %s)", (name, "c@127.0.0.1")),
    ]
    db = database_of(dsn)
    with sessions(dsn, app, statements) as pids:
        result = await census_of(dsn, app)
    assert result.visibility == "full"
    quoted = entry(result, db, name)
    assert [m.session.pid for m in quoted.listeners] == [pids[0]]
    assert [m.session.pid for m in quoted.senders] == [pids[2]]
    assert quoted.nodes == ["b@127.0.0.1"]
    assert [p.code for p in quoted.problems] == ["case_mismatch"]
    folded = entry(result, db, name.lower())
    assert [m.session.pid for m in folded.senders] == [pids[1]]
    assert folded.nodes == ["a@127.0.0.1"]
    assert [p.code for p in folded.problems] == ["no_listeners", "case_mismatch"]
    assert f"NOTIFY {name} is unquoted" in folded.problems[1].message
    hidden = entry(result, db, None)
    assert [m.session.pid for m in hidden.senders] == [pids[3]]
    assert [p.code for p in hidden.problems] == ["channel_not_visible"]
    member = quoted.listeners[0].to_json()
    assert member["application"] == f"{app} 0"
    assert member["user"] == "postgres"
    assert member["state"] == "idle"
    assert member["statement"] == f'LISTEN "{name}"'


@contextmanager
def new_database(dsn: str) -> Iterator[str]:
    """A database of this test's own on the same server, dropped after."""
    name = f"census_{secrets.token_hex(4)}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(dsn, dbname=name)
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


async def test_the_same_channel_in_two_databases(dsn: str) -> None:
    tag = secrets.token_hex(4)
    app = f"census-{tag}"
    name = f"Two_{tag}"
    db = database_of(dsn)
    with (
        new_database(dsn) as other_dsn,
        sessions(dsn, app, [(f'LISTEN "{name}"', None)]),
        sessions(other_dsn, app, [(f"NOTIFY \"{name}\", 'a@127.0.0.1'", None)]),
    ):
        result = await census_of(dsn, app)
    other_db = database_of(other_dsn)
    here, there = entry(result, db, name), entry(result, other_db, name)
    assert [p.code for p in here.problems] == ["no_senders", "other_database"]
    assert [p.code for p in there.problems] == ["no_listeners", "other_database"]
    assert f"also used in database {other_db}" in here.problems[1].message
    assert "LISTEN/NOTIFY is per database: these never hear each other" in (
        here.problems[1].message
    )


@contextmanager
def plain_role(dsn: str) -> Iterator[tuple[str, str]]:
    """A LOGIN role without pg_read_all_stats, and its DSN; dropped after."""
    role = f"census_{secrets.token_hex(4)}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        yield role, make_conninfo(dsn, user=role)
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


async def test_a_role_without_pg_read_all_stats_is_told_what_is_hidden(dsn: str) -> None:
    tag = secrets.token_hex(4)
    app = f"census-{tag}"
    db = database_of(dsn)
    with (
        plain_role(dsn) as (role, role_dsn),
        sessions(dsn, app, [(f'LISTEN "Hid_{tag}"', None)]),
        sessions(role_dsn, app, [(f'LISTEN "Own_{tag}"', None)]) as own,
    ):
        partial = await census_of(role_dsn, app)
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(role)))
        full = await census_of(role_dsn, app)
    assert partial.visibility == "partial"
    assert partial.grant == f'GRANT pg_read_all_stats TO "{role}";'
    assert [(h.database, h.sessions, h.roles) for h in partial.hidden] == [(db, 1, ("postgres",))]
    assert [c.channel for c in partial.channels] == [f"Own_{tag}"]
    mine = entry(partial, db, f"Own_{tag}")
    assert [m.session.pid for m in mine.listeners] == own
    assert [p.code for p in mine.problems] == ["no_visible_senders"]
    assert full.visibility == "full"
    assert full.grant is None
    assert sorted(str(c.channel) for c in full.channels) == [f"Hid_{tag}", f"Own_{tag}"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion."""
    return subprocess.run(
        [sys.executable, "-m", "pgcluster_tui", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
    )


def test_the_command_on_a_server_of_its_own(embedded_server: EmbeddedServer) -> None:
    dsn = embedded_server.dsn
    cookie = f"Cookie-{secrets.token_hex(6)}"
    derived = cookie.replace("-", "_")
    quiet = run("--dsn", dsn, "census")
    assert quiet.returncode == 0, quiet.stderr
    assert "no problem found" in quiet.stdout
    with sessions(dsn, "census-cli", [(f'LISTEN "{derived}"', None)]):
        masked = run("--dsn", dsn, "--cookie", cookie, "census", "--json")
        revealed = run("--dsn", dsn, "--cookie", cookie, "--reveal-channel", "census")
    assert masked.returncode == 1, masked.stderr
    document = json.loads(masked.stdout)
    assert document["visibility"] == "full"
    [channel] = document["channels"]
    assert channel["channel"].startswith("(from the cookie, ")
    assert channel["listeners"][0]["application"] == "census-cli 0"
    assert [p["code"] for p in channel["problems"]] == ["no_senders"]
    assert derived.lower() not in masked.stdout.lower()
    assert cookie.lower() not in masked.stdout.lower()
    assert revealed.returncode == 1
    assert f'channel "{derived}": 1 listening, 0 sending' in revealed.stdout
    assert "! no_senders:" in revealed.stdout


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    result = run("--dsn", "postgresql://u:pw_4711@127.0.0.1:1/db?connect_timeout=1", "census")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("pgcluster-tui: census: ")
    assert "pw_4711" not in result.stderr + result.stdout


async def test_a_running_pgcluster_tui_is_counted_on_the_channel_it_watches(
    dsn: str, channel: str
) -> None:
    config = WorkerConfig(conninfo=dsn, channel=channel, node="census@test.host", heartbeat=False)
    async with Harness(config) as h:
        await wait_until(lambda: h.link.connected, timeout=20)
        listener, ours = h.link.listener_pid, {h.link.listener_pid, h.link.sender_pid}
        activity = await read_activity(dsn)
    census = take_census(
        [s for s in activity.sessions if s.pid in ours], user=activity.user, grant=activity.grant
    )
    # Its last statement is the LISTEN of the channel watched, not of its private probe channel.
    [watched] = census.channels
    assert watched.channel == channel
    assert [m.session.pid for m in watched.listeners] == [listener]
