"""The doctor keys (`D`, ctrl+d) against real Erlang nodes: marks in the table, the report in the
details, greyed keys, and names that are never probed."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import SecretStr

from pgcluster_tui.core.events import Notification
from pgcluster_tui.tui.app import PgClusterApp
from pgcluster_tui.tui.keys import COMMANDS_HELP
from pgcluster_tui.tui.screens.details import DetailsScreen
from tests.doctor.nodes import erlang_node, needs_erlang
from tests.tui.conftest import (
    SIZE,
    cell,
    connected,
    dashboard,
    log_text,
    make_settings,
    rows,
    select,
    send,
    words,
)
from tests.tui.replay import NOW, make_app, replay_app
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)

COOKIE = f"C{secrets.token_hex(8)}"

STEPS = ("resolve", "epmd", "connect", "handshake")


def mark(app: PgClusterApp, node: str) -> str:
    """What the Sender column shows before the pids: the doctor's mark, if any."""
    return cell(app, node, "senders").split(" ")[0]


async def details(app: PgClusterApp) -> None:
    """Open the selected node's details and wait for them."""
    await app.run_action("details")
    await wait_until(lambda: isinstance(app.screen, DetailsScreen) and app.screen.is_mounted)


@needs_erlang
async def test_d_checks_the_selected_node_and_the_details_show_every_step(
    dsn: str, channel: str, tmp_path: Path
) -> None:
    settings = make_settings(channel, tmp_path, cookie=SecretStr(COOKIE))
    async with erlang_node(COOKIE) as node:
        app = dashboard(settings, dsn)
        async with app.run_test(size=SIZE) as pilot:
            await connected(app)
            assert app.check_action("doctor", ()) is None, "no node selected: greyed"
            assert app.check_action("doctor_all", ()) is None, "no node shown: greyed"
            await send(dsn, channel, node.name)
            await wait_until(lambda: rows(app) == [node.name])
            await select(app, node.name)
            assert app.check_action("doctor", ()) is True
            titles = {c.title for c in app.get_system_commands(app.screen)}
            assert {"Doctor", "Doctor all"} <= titles
            doctor = app.doctoring.doctor
            await pilot.press("D")
            await wait_until(lambda: mark(app, node.name) == "✓", what="the pass mark")
            assert app.doctoring.doctor is doctor, "one Doctor for every press"
            assert f"doctor     {node.name} OK: a peer with our cookie can connect" in log_text(app)
            await pilot.press("enter")
            await wait_until(lambda: isinstance(app.screen, DetailsScreen))
            await wait_until(lambda: "cookie accepted" in words(app))
            text = words(app)
            assert all(f"ok {step} " in text for step in STEPS), text
            assert "FAIL" not in text
            assert f"EPMD at 127.0.0.1:4369 knows {node.name.split('@')[0]}" in text
        assert ("D", COMMANDS_HELP["doctor"]) in app.key_help()


@needs_erlang
async def test_another_cookie_is_rejected_and_d_works_inside_the_details(tmp_path: Path) -> None:
    settings = make_settings("realtime_cluster", tmp_path, cookie=SecretStr("another"))
    app = replay_app(settings)
    async with erlang_node(COOKIE) as node, app.run_test(size=SIZE) as pilot:
        app.replay([Notification(node.name, 4242, NOW)])
        await wait_until(lambda: rows(app) == [node.name])
        await select(app, node.name)
        await details(app)
        await wait_until(lambda: "Doctor not checked" in words(app), what="the unchecked doctor")
        await pilot.press("D")
        # The report's own step line: the log behind the dialog and the toast say it first.
        await wait_until(
            lambda: "FAIL handshake cookie rejected" in words(app), what="the rejected cookie"
        )
        text = words(app)
        assert "FAIL at handshake: cookie rejected" in text
        assert "ok resolve" in text
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, DetailsScreen))
        assert mark(app, node.name) == "✗"
        assert cell(app, node.name, "senders").startswith("✗ handshake 4242")


@needs_erlang
async def test_ctrl_d_checks_every_node_shown_and_never_probes_a_name_that_fails(
    tmp_path: Path,
) -> None:
    settings = make_settings("realtime_cluster", tmp_path, cookie=SecretStr(COOKIE))
    app = replay_app(settings)
    unspecified, slashed = "bad@0.0.0.0", "bad@host/path"
    async with erlang_node(COOKIE) as node, app.run_test(size=SIZE) as pilot:
        names = [node.name, unspecified, slashed]
        app.replay([Notification(name, 5000 + i, NOW) for i, name in enumerate(names)])
        await wait_until(lambda: sorted(rows(app)) == sorted(names))
        assert app.check_action("doctor_all", ()) is True
        await pilot.press("ctrl+d")
        await wait_until(lambda: not app.doctoring.running, what="every check to end")
        assert mark(app, node.name) == "✓"
        assert cell(app, unspecified, "senders").startswith("✗ name ")
        assert cell(app, slashed, "senders").startswith("✗ name ")
        checked = app.doctoring.last(unspecified)
        assert checked is not None
        assert [step.step.value for step in checked.report.steps] == ["name"]
        await select(app, slashed)
        await details(app)
        assert "not probed: the host is neither an IP address nor a DNS name" in words(app)


async def test_the_doctor_keys_are_greyed_and_say_why() -> None:
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        assert app.check_action("doctor", ()) is None
        assert app.check_action("doctor_all", ()) is None
        await pilot.press("D")
        await pilot.press("ctrl+d")
        await wait_until(lambda: len(app._notifications) == 2)
        said = [n.message for n in app._notifications]
        assert said == ["No node is selected.", "No node is shown."]
        app.replay([Notification("web@10.0.1.17", 1, NOW)])
        await wait_until(lambda: app.table.selected_name == "web@10.0.1.17")
        assert app.check_action("doctor", ()) is True
        app.doctoring.start(["web@10.0.1.17"])  # as if a check were under way
        assert app.check_action("doctor", ()) is None, "already checking this node"
        assert mark(app, "web@10.0.1.17") == "⋯"
        await pilot.press("D")
        await wait_until(lambda: len(app._notifications) == 3)
        assert list(app._notifications)[-1].message == "Already checking web@10.0.1.17."


async def test_a_cookie_erlang_cannot_digest_greys_the_doctor(tmp_path: Path) -> None:
    settings = make_settings("realtime_cluster", tmp_path, cookie=SecretStr("snow☃man"))
    app = replay_app(settings)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        app.replay([Notification("web@10.0.1.17", 1, NOW)])
        await wait_until(lambda: app.table.selected_name == "web@10.0.1.17")
        assert app.check_action("doctor", ()) is None
        await pilot.press("D")
        await wait_until(lambda: len(app._notifications) == 1)
        (said,) = [n.message for n in app._notifications]
        assert said.startswith("The doctor cannot run: the cookie has characters beyond U+00FF")
        assert "snow" not in said, "the cookie never shows"


@needs_erlang
async def test_without_a_cookie_the_handshake_is_skipped_and_marked_so(tmp_path: Path) -> None:
    app = replay_app(make_settings("realtime_cluster", tmp_path))
    async with erlang_node(COOKIE) as node, app.run_test(size=SIZE) as pilot:
        app.replay([Notification(node.name, 4242, NOW)])
        await wait_until(lambda: rows(app) == [node.name])
        await select(app, node.name)
        await pilot.press("D")
        await wait_until(lambda: mark(app, node.name) == "✓?", what="the no-cookie mark")
        await details(app)
        text = words(app)
        assert "reachable; the cookie was not checked (no cookie configured)" in text
        assert "skip handshake skipped: no cookie" in text
