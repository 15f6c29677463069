"""Every dashboard key, driven by Pilot against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import time
from pathlib import Path

import psycopg

from pgcluster_tui.core.events import Event, NodeState, ProbeMeasured
from pgcluster_tui.core.monitor import Update
from pgcluster_tui.pg.embedded import EmbeddedServer
from pgcluster_tui.pg.worker import ChannelWorker
from pgcluster_tui.settings import Settings
from pgcluster_tui.tui.app import PgClusterApp
from pgcluster_tui.tui.frames import FRAME_SECONDS
from pgcluster_tui.tui.keys import COMMANDS_HELP
from pgcluster_tui.tui.screens.announce import AnnounceScreen
from tests.tui.conftest import (
    NODE,
    SIZE,
    cell,
    connected,
    dashboard,
    log_text,
    make_settings,
    raw_listener,
    rows,
    select,
    send,
    status,
)
from tests.waiting import wait_until


async def test_a_notification_becomes_a_row_and_f_forgets_it(
    dsn: str, channel: str, settings: Settings
) -> None:
    app = dashboard(settings, dsn)
    async with app.run_test(size=SIZE) as pilot:
        await connected(app)
        pid = await send(dsn, channel, "alpha@10.0.0.1", "beta@10.0.0.2")
        await wait_until(lambda: set(rows(app)) == {"alpha@10.0.0.1", "beta@10.0.0.2"})
        assert cell(app, "alpha@10.0.0.1", "state") == "◇ new"
        assert cell(app, "alpha@10.0.0.1", "senders").startswith(str(pid))
        await wait_until(lambda: "demo" not in cell(app, "alpha@10.0.0.1", "senders"))
        await select(app, "beta@10.0.0.2")
        await pilot.press("f")
        await wait_until(lambda: rows(app) == ["alpha@10.0.0.1"])
        assert "beta@10.0.0.2" not in app.model
        assert "forgotten  beta@10.0.0.2" in log_text(app)
        await pilot.press("delete")
        await wait_until(lambda: rows(app) == [])
        assert app.check_action("forget", ()) is None
        # A forgotten node comes back when it beats again.
        await send(dsn, channel, "beta@10.0.0.2")
        await wait_until(lambda: rows(app) == ["beta@10.0.0.2"])


async def test_a_announces_our_name_to_a_raw_listener(
    dsn: str, channel: str, settings: Settings
) -> None:
    app = dashboard(settings, dsn)
    async with raw_listener(dsn, channel) as listener, app.run_test(size=SIZE) as pilot:
        await connected(app)
        await pilot.press("a")
        await wait_until(lambda: listener.count(NODE) == 1, what="our announce")
        await wait_until(lambda: NODE in rows(app), what="our own row")
        assert cell(app, NODE, "name").startswith("★ ")
        assert "announced  tui@test.host" in log_text(app)


async def test_shift_a_refuses_an_invalid_name_and_sends_a_valid_one(
    dsn: str, channel: str, settings: Settings
) -> None:
    app = dashboard(settings, dsn)
    async with raw_listener(dsn, channel) as listener, app.run_test(size=SIZE) as pilot:
        await connected(app)
        await pilot.press("A")
        await wait_until(lambda: isinstance(app.screen, AnnounceScreen))
        field = app.screen.query_one("#announce-name")
        assert "will try to connect" in str(app.screen.query_one("#announce-warning").render())
        field.value = "not a node"  # type: ignore[attr-defined]
        await pilot.press("enter")
        problem = str(app.screen.query_one("#announce-problem").render())
        assert "not a node name" in problem
        assert isinstance(app.screen, AnnounceScreen), "an invalid name must not close the dialog"
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, AnnounceScreen))
        # A valid name sent afterwards on the same session arrives alone: nothing came before it.
        await pilot.press("A")
        await wait_until(lambda: isinstance(app.screen, AnnounceScreen))
        app.screen.query_one("#announce-name").value = "other@10.9.9.9"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(lambda: listener.payloads == ["other@10.9.9.9"], what="the valid name")


def recording_events(app: PgClusterApp) -> list[Event]:
    """Every event the dashboard is shown from now on."""
    events: list[Event] = []
    show = app.show

    def recording(update: Update) -> None:
        events.extend(update.events)
        show(update)

    app.show = recording  # type: ignore[method-assign]
    return events


async def test_h_starts_and_stops_heartbeats(dsn: str, channel: str, tmp_path: Path) -> None:
    interval = 0.3
    app = dashboard(make_settings(channel, tmp_path, interval=interval), dsn)
    events = recording_events(app)
    async with raw_listener(dsn, channel) as listener, app.run_test(size=SIZE) as pilot:
        await connected(app)
        assert listener.payloads == []
        await pilot.press("h")
        await wait_until(lambda: listener.count(NODE) >= 3, what="three heartbeats")
        assert "heartbeating" in status(app)
        await pilot.press("h")
        assert not app.link.heartbeat
        await wait_until(lambda: app.link.next_beat_at is None)
        stopped_at = listener.count(NODE)
        # Observation window: three probe round trips (0.5 s apart) span several intervals, in
        # which no beat may arrive but the one in flight.
        probes = sum(isinstance(e, ProbeMeasured) for e in events)
        await wait_until(
            lambda: sum(isinstance(e, ProbeMeasured) for e in events) >= probes + 3,
            what="three more probes",
        )
        assert listener.count(NODE) <= stopped_at + 1
        await wait_until(lambda: "observing" in status(app))


async def test_filter_and_sort_keep_the_selection(
    dsn: str, channel: str, settings: Settings
) -> None:
    names = ["alpha@h", "bravo@h", "echo@h", "gamma@h", "delta@h"]
    app = dashboard(settings, dsn)
    async with app.run_test(size=SIZE) as pilot:
        await connected(app)
        await send(dsn, channel, *names)
        await wait_until(lambda: sorted(rows(app)) == sorted(names))
        assert rows(app) == sorted(names), "default order: worst state, then name"
        await select(app, "gamma@h")
        await pilot.press("S")
        await wait_until(lambda: rows(app) == sorted(names, reverse=True))
        assert app.table.selected_name == "gamma@h"
        for _ in range(6):
            await pilot.press("s")
            assert app.table.selected_name == "gamma@h", app.table.sort_by
        await pilot.press("slash")
        await pilot.press("a")
        await wait_until(lambda: "echo@h" not in rows(app))
        assert app.table.selected_name == "gamma@h"
        assert "filter a" in status(app)
        # A state word filters by state: every node here is new.
        await pilot.press("space", "n", "e", "w")
        await wait_until(lambda: len(rows(app)) == 4)
        await pilot.press("escape")
        await wait_until(lambda: len(rows(app)) == 5)
        assert app.table.selected_name == "gamma@h"
        assert app.check_action("clear_filter", ()) is False


async def test_e_exports_the_table_as_json_and_csv(
    dsn: str, channel: str, settings: Settings
) -> None:
    app = dashboard(settings, dsn)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await connected(app)
        await send(dsn, channel, "one@h", "two@h", "[bold]three@h")
        await wait_until(lambda: len(rows(app)) == 3)
        await pilot.press("e")
        await wait_until(lambda: list(settings.export_dir.glob("*.csv")))
        (json_path,) = settings.export_dir.glob("*.json")
        (csv_path,) = settings.export_dir.glob("*.csv")
        document = json.loads(json_path.read_text())
        assert document["channel"] == channel
        assert [n["node"] for n in document["nodes"]] == rows(app)
        assert {n["state"] for n in document["nodes"]} == {"new"}
        with csv_path.open(newline="") as src:
            table = list(csv.DictReader(src))
        assert [r["node"] for r in table] == rows(app)
        assert all(r["pids"] for r in table)
        messages = [n.message for n in app._notifications]
        assert any(str(json_path) in str(m) for m in messages), messages


async def test_hostile_payloads_show_literally(dsn: str, channel: str, settings: Settings) -> None:
    names = ["[bold]x@y", "[link=http://x]a@b", "a[/]@b"]
    junk = ["[/]", "\x1b[31m", "\x1b]0;title\x07", "[bold]"]
    app = dashboard(settings, dsn)
    async with app.run_test(size=SIZE) as pilot:
        await connected(app)
        await send(dsn, channel, *names, *junk)
        await wait_until(lambda: sorted(rows(app)) == sorted(names))
        await wait_until(lambda: log_text(app).count("junk") == len(junk))
        for name in names:
            assert cell(app, name, "name") == name
        await pilot.pause()
        drawn = "\n".join(app.table.render_line(y).text for y in range(app.table.size.height))
        for name in names:
            assert name in drawn
        shown = log_text(app)
        assert ": [/]" in shown
        assert ": \\x1b[31m" in shown
        assert ": \\x1b]0;title\\x07" in shown
        assert ": [bold]" in shown
        assert "\x1b" not in shown + drawn
        assert "\x07" not in shown + drawn


async def test_p_pauses_the_view_while_data_flows(
    dsn: str, channel: str, settings: Settings
) -> None:
    app = dashboard(settings, dsn)
    async with app.run_test(size=SIZE) as pilot:
        await connected(app)
        await send(dsn, channel, "before@h")
        await wait_until(lambda: rows(app) == ["before@h"])
        await pilot.press("p")
        assert "PAUSED" in status(app)
        await send(dsn, channel, "during@h")
        await wait_until(lambda: "during@h" in app.model, what="the model to take data")
        app.tick()
        assert rows(app) == ["before@h"]
        await pilot.press("p")
        await wait_until(lambda: rows(app) == ["before@h", "during@h"])
        assert "PAUSED" not in status(app)
        assert "joined     during@h" in log_text(app)


async def test_c_clears_the_log_and_question_mark_shows_help(
    dsn: str, channel: str, settings: Settings
) -> None:
    app = dashboard(settings, dsn)
    async with app.run_test(size=SIZE) as pilot:
        await connected(app)
        await send(dsn, channel, "one@h")
        await wait_until(lambda: "joined     one@h" in log_text(app))
        await pilot.press("c")
        assert log_text(app) == ""
        await pilot.press("question_mark")
        await wait_until(lambda: app.help_panel.display)
        assert app.focused is app.help_panel
        await pilot.press("p")
        assert app.paused, "the dashboard's keys still work under the help"
        await pilot.press("escape")
        await wait_until(lambda: not app.help_panel.display)
        focused: object = app.focused  # (mypy narrowed it to the help above)
        assert focused is app.table
        await pilot.press("question_mark")
        await wait_until(lambda: app.help_panel.display)
        await pilot.press("question_mark")
        await wait_until(lambda: not app.help_panel.display)


async def test_keys_follow_the_keymap_in_settings(dsn: str, channel: str, tmp_path: Path) -> None:
    app = dashboard(make_settings(channel, tmp_path, keys={"announce": "n"}), dsn)
    async with raw_listener(dsn, channel) as listener, app.run_test(size=SIZE) as pilot:
        await connected(app)
        await pilot.press("a")
        await pilot.press("n")
        await wait_until(lambda: listener.payloads == [NODE], what="the remapped announce")
        assert ("n", COMMANDS_HELP["announce"]) in app.key_help()


async def test_keys_are_greyed_and_offered_in_the_palette(
    dsn: str, channel: str, settings: Settings
) -> None:
    app = dashboard(settings, dsn)
    async with app.run_test(size=SIZE):
        assert app.check_action("forget_stale", ()) is None
        await connected(app)
        await wait_until(lambda: app.check_action("announce", ()) is True)
        assert app.check_action("forget", ()) is None
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Announce", "Announce as…", "Heartbeat", "Export", "Help"} <= titles
        assert "Forget" not in titles


async def test_forget_stale_and_the_1hz_ages(dsn: str, channel: str, tmp_path: Path) -> None:
    now = [time.time()]
    settings = make_settings(channel, tmp_path, interval=1.0)
    app = dashboard(settings, dsn, clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        await connected(app)
        await send(dsn, channel, "old@h", "young@h")
        await wait_until(lambda: len(rows(app)) == 2)
        now[0] += 10
        await send(dsn, channel, "young@h")
        await wait_until(lambda: app.model.state("young@h") is NodeState.ALIVE)
        app.tick()
        assert app.model.state("old@h") is NodeState.STALE
        await wait_until(lambda: cell(app, "old@h", "state") == "✕ stale")
        assert cell(app, "old@h", "age").endswith("10.0s")
        assert rows(app) == ["old@h", "young@h"], "worst state first"
        await pilot.press("F")
        await wait_until(lambda: rows(app) == ["young@h"])


def background_tasks(app: PgClusterApp) -> list[asyncio.Task[None]]:
    """The channel worker's supervisor and every demo peer, as they run now."""
    worker = app.monitor.source
    assert isinstance(worker, ChannelWorker)
    assert worker._supervisor is not None
    assert app.demo is not None
    return [worker._supervisor, *app.demo._tasks]


async def test_q_stops_the_worker_and_the_demo_with_the_database_gone(
    private_server: EmbeddedServer, channel: str, settings: Settings
) -> None:
    app = dashboard(settings, private_server.dsn, demo=3)
    async with app.run_test(size=SIZE) as pilot:
        await connected(app)
        await wait_until(lambda: len(rows(app)) >= 2, what="demo peers")
        await asyncio.to_thread(private_server.stop_server)
        await wait_until(lambda: app.link.phase == "disconnected", what="the disconnect")
        await wait_until(lambda: "disconnected" in status(app))
        assert app.check_action("announce", ()) is None
        running = background_tasks(app)
        await pilot.press("q")
        await wait_until(lambda: app.return_code is not None, timeout=20, what="the quit")
    assert app.return_code == 0
    # Each ended by itself on the stop: a cancelled one is one the grace period gave up on.
    assert all(task.done() and not task.cancelled() for task in running), running


async def test_reconnects_after_a_server_restart(
    private_server: object, channel: str, settings: Settings
) -> None:
    from pgcluster_tui.pg.embedded import EmbeddedServer

    assert isinstance(private_server, EmbeddedServer)
    app = dashboard(settings, private_server.dsn)
    async with app.run_test(size=SIZE):
        await connected(app)
        await asyncio.to_thread(private_server.stop_server)
        await wait_until(lambda: app.link.phase == "disconnected")
        await wait_until(lambda: "retry in" in status(app))
        assert "password" not in status(app)
        await asyncio.to_thread(private_server.restart)
        await connected(app)
        assert app.link.reconnects == 1
        await wait_until(lambda: "reconnects 1" in status(app))


async def test_ctrl_c_quits_with_the_server_hung(
    private_server: EmbeddedServer, channel: str, settings: Settings
) -> None:
    app = dashboard(settings, private_server.dsn, demo=3)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await connected(app)
            await wait_until(lambda: len(rows(app)) >= 2, what="demo peers")
            running = background_tasks(app)
            await asyncio.to_thread(private_server.freeze)
            await pilot.press("ctrl+c")
            # The server stays frozen until the end: a stop that waited for it would never end.
            await wait_until(lambda: app.return_code is not None, timeout=20, what="the quit")
            await wait_until(lambda: all(task.done() for task in running), what="tasks ended")
    finally:
        private_server.thaw()


async def test_the_demo_shows_every_kind_of_peer(
    embedded_server: object, channel: str, settings: Settings
) -> None:
    from pgcluster_tui.pg.embedded import EmbeddedServer

    assert isinstance(embedded_server, EmbeddedServer)
    dsn = embedded_server.dsn
    app = dashboard(settings, dsn, demo=8, demo_interval=0.5)
    async with app.run_test(size=SIZE):
        await wait_until(lambda: "twin@10.0.0.40" in app.model, what="the twins")
        await wait_until(lambda: app.model.view("twin@10.0.0.40", app.clock()).duplicate)
        for line in ("junk ", "restarted  restart@", "late ", "suspect    flaky@", "stale "):
            await wait_until(lambda line=line: line in log_text(app), timeout=15, what=line)  # type: ignore[misc]
        await wait_until(lambda: app.model.state("silent@10.0.0.12") is NodeState.STALE)
        senders = cell(app, "app1@10.0.0.11", "senders")
        assert "demo steady" in senders
    assert app.demo is not None
    assert all(task.done() for task in app.demo._tasks)


async def test_a_flood_is_paced_into_frames_and_keys_still_answer(
    dsn: str, channel: str, settings: Settings
) -> None:
    app = dashboard(settings, dsn)
    batches = 0
    ticking = False
    frame_starts: list[tuple[float, bool]] = []  # (on the frames' own clock, drawn by a tick)
    show, drawn = app.show, app.frames.drawn

    def counting(update: Update) -> None:
        nonlocal batches, ticking
        batches += 1
        ticking = update.ticked
        try:
            show(update)
        finally:
            ticking = False

    def recording(started: float) -> None:
        frame_starts.append((started, ticking))
        drawn(started)

    app.show = counting  # type: ignore[method-assign]
    app.frames.drawn = recording  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await connected(app)
        before = len(frame_starts)
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            for _ in range(2):
                await conn.execute(
                    "SELECT pg_notify(%s, 'flood' || g || '@h') FROM generate_series(1, 4000) g",
                    (channel,),
                )
        await wait_until(lambda: app.model.beats_total >= 8000, what="the flood")
        await wait_until(lambda: len(rows(app)) == 4000, what="4000 rows")
        during = frame_starts[before:]
        # Many batches of joins, each asking for a frame; the frames they get are paced, a
        # frame period apart at least (Textual may fire a timer 0.5 ms early). Drawing per
        # batch would put them the 20 ms apart that batches of a flood come.
        assert batches > 1
        asked = [started for started, ticked in during if not ticked]
        gaps = [b - a for a, b in itertools.pairwise(asked)]
        assert all(gap >= FRAME_SECONDS - 0.001 for gap in gaps), (gaps, batches)
        # Keys are answered in the same turn: their effect shows as soon as the press returns.
        await pilot.press("p")
        assert "PAUSED" in status(app)
        await pilot.press("s")
        assert app.table.sort_by == "name"


async def test_the_password_never_shows(channel: str, settings: Settings) -> None:
    app = dashboard(settings, "host=127.0.0.1 port=1 user=alice password=hunter2 dbname=db")
    async with app.run_test(size=SIZE):
        await wait_until(lambda: "retry in" in status(app), what="a failed connect")
        assert "alice@127.0.0.1:1/db" in status(app)
        assert "hunter2" not in status(app) + log_text(app)
