"""The census screen (`C`) against a real PostgreSQL with sessions of the test's own, and choosing
a channel there: the dashboard then LISTENs on it, from scratch."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pydantic import SecretStr

from pgcluster_tui.core.protocol import channel_from_cookie
from pgcluster_tui.settings import Settings
from pgcluster_tui.tui.app import PgClusterApp
from pgcluster_tui.tui.keys import COMMANDS_HELP
from pgcluster_tui.tui.screens.census import CensusScreen
from tests.tui.conftest import (
    NODE,
    SIZE,
    connected,
    dashboard,
    log_text,
    rows,
    send,
    shown,
    status,
    words,
)
from tests.tui.replay import make_app
from tests.waiting import wait_until


@asynccontextmanager
async def session(dsn: str, statement: sql.Composed) -> AsyncIterator[int]:
    """An idle session whose last statement is `statement`; yields its backend pid."""
    conn = await psycopg.AsyncConnection.connect(
        dsn, autocommit=True, application_name="census test"
    )
    try:
        await conn.execute(statement)
        yield conn.info.backend_pid
    finally:
        await conn.close()


def listen(channel: str) -> sql.Composed:
    """LISTEN "channel", quoted as libcluster_postgres quotes it."""
    return sql.SQL("LISTEN {}").format(sql.Identifier(channel))


def notify(channel: str, payload: str) -> sql.Composed:
    """NOTIFY "channel", 'payload': the statement pg_stat_activity shows verbatim."""
    return sql.SQL("NOTIFY {}, {}").format(sql.Identifier(channel), sql.Literal(payload))


async def opened(app: PgClusterApp) -> CensusScreen:
    """Press C and wait until the census is read."""
    await wait_until(lambda: app.check_action("census", ()) is True)
    await app.run_action("census")
    await wait_until(lambda: isinstance(app.screen, CensusScreen) and app.screen.census is not None)
    screen = app.screen
    assert isinstance(screen, CensusScreen)
    return screen


def prompts(screen: CensusScreen) -> list[str]:
    """Every channel as the list shows it."""
    options = screen.channels
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


def index_of(screen: CensusScreen, quoted: str) -> int:
    """The list row of the one channel shown as `quoted`."""
    (index,) = [i for i, prompt in enumerate(prompts(screen)) if quoted in prompt]
    return index


async def test_the_census_lists_the_sessions_and_enter_watches_the_channel_chosen(
    dsn: str, channel: str, settings: Settings
) -> None:
    other = f"Other_{secrets.token_hex(6)}"
    hostile = f"[/]{other}[bold"
    app = dashboard(settings, dsn)
    async with (
        session(dsn, listen(other)) as listener,
        session(dsn, notify(other, "peer@127.0.0.1")) as sender,
        session(dsn, listen(hostile)),
        app.run_test(size=SIZE) as pilot,
    ):
        await connected(app)
        await send(dsn, channel, "old@10.0.0.1")
        await wait_until(lambda: rows(app) == ["old@10.0.0.1"])
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Census" in titles
        assert ("C", COMMANDS_HELP["census"]) in app.key_help()
        await pilot.press("C")
        await wait_until(lambda: isinstance(app.screen, CensusScreen) and app.screen.census)
        screen = app.screen
        assert isinstance(screen, CensusScreen)
        watched = index_of(screen, f'"{channel}"')
        assert prompts(screen)[watched].startswith("●"), "our own LISTEN, known to us"
        assert screen.channels.highlighted == watched
        await wait_until(lambda: "(this dashboard): LISTEN" in words(app))
        shown_other = prompts(screen)[index_of(screen, f'"{other}"')]
        assert shown_other.endswith(f'"{other}"  1 listening · 1 sending'), shown_other
        assert f'"{hostile}"  1 listening · 0 sending' in prompts(screen)[index_of(screen, hostile)]
        screen.channels.highlighted = index_of(screen, f'"{other}"')
        await wait_until(lambda: f"listens pid {listener} " in words(app))
        text = words(app)
        assert f"sends pid {sender} " in text
        assert "nodes: peer@127.0.0.1" in text
        assert "enter watches this channel" in text
        assert f'"{hostile}"' in "\n".join(shown(app)), "markup in a channel shows literally"
        await pilot.press("enter")
        await wait_until(lambda: not isinstance(app.screen, CensusScreen))
        await wait_until(lambda: app.settings.channel == other and app.link.connected)
        assert rows(app) == [], "the table starts fresh"
        assert f"watching channel {other} now (was {channel}), observing" in log_text(app)
        assert "old@10.0.0.1" not in log_text(app)
        assert f"channel {other} " in status(app)
        await send(dsn, channel, "left@10.0.0.3")
        await send(dsn, other, "new@10.0.0.2")
        await wait_until(lambda: rows(app) == ["new@10.0.0.2"], what="a row from the new channel")
        assert "left@10.0.0.3" not in app.model, "the channel left is not heard any more"
        # The census now marks the channel watched.
        await pilot.press("C")
        await wait_until(lambda: isinstance(app.screen, CensusScreen) and app.screen.census)
        screen = app.screen
        assert isinstance(screen, CensusScreen)
        assert prompts(screen)[index_of(screen, f'"{other}"')].startswith("●")


@asynccontextmanager
async def database(dsn: str) -> AsyncIterator[str]:
    """A database of the test's own; dropped after it."""
    name = f"census_{secrets.token_hex(5)}"
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(dsn, dbname=name)
    finally:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
            await conn.execute(drop)


async def test_a_channel_in_another_database_is_said_to_be_out_of_reach(
    dsn: str, channel: str, settings: Settings
) -> None:
    elsewhere = f"Elsewhere_{secrets.token_hex(6)}"
    app = dashboard(settings, dsn)
    async with (
        database(dsn) as other_dsn,
        session(other_dsn, listen(elsewhere)),
        app.run_test(size=SIZE) as pilot,
    ):
        await connected(app)
        screen = await opened(app)
        screen.channels.highlighted = index_of(screen, f'"{elsewhere}"')
        await pilot.press("enter")
        await wait_until(lambda: "LISTEN/NOTIFY is per database" in words(app))
        assert screen.message.has_class("-invalid")
        assert isinstance(app.screen, CensusScreen), "it stays open"
        assert app.settings.channel == channel
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, CensusScreen))
        assert app.settings.channel == channel


async def test_a_channel_from_the_cookie_is_masked_in_the_census(dsn: str, tmp_path: Path) -> None:
    cookie = f"Cookie_{secrets.token_hex(8)}"
    derived = channel_from_cookie(cookie)
    values: dict[str, Any] = {"cookie": SecretStr(cookie), "node": NODE, "export_dir": tmp_path}
    settings = Settings(**values)
    assert settings.channel == derived
    app = dashboard(settings, dsn)
    async with (
        session(dsn, notify(derived, "peer@127.0.0.1")),
        app.run_test(size=SIZE) as pilot,
    ):
        await connected(app)
        screen = await opened(app)
        label = settings.channel_shown
        index = index_of(screen, f'"{label}"')
        screen.channels.highlighted = index
        await pilot.pause()
        await wait_until(lambda: "sends pid" in words(app))
        text = "\n".join(shown(app))
        assert cookie.lower() not in text.lower(), "neither the cookie nor its channel shows"
        assert label in text


async def test_the_census_is_greyed_without_a_database() -> None:
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert app.check_action("census", ()) is None
        await pilot.press("C")
        await pilot.pause()
        assert not isinstance(app.screen, CensusScreen)
        notes = [n.message for n in app._notifications]
        assert notes == ["This dashboard has no database to read a census from."]
