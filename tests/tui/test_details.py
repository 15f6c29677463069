"""The details of the selected node (`enter`): full name, every sender, what was learned, and the
history the dashboard kept from its events."""

from __future__ import annotations

from pgcluster_tui.core.events import (
    NodeJoined,
    NodeState,
    NodeStateChanged,
    Notification,
    QueueUsageMeasured,
    SenderAttributed,
)
from pgcluster_tui.tui.history import ENTRIES, History
from pgcluster_tui.tui.keys import COMMANDS_HELP
from pgcluster_tui.tui.screens.details import DetailsScreen
from tests.tui.conftest import rows, select, shown
from tests.tui.replay import NOW, cluster, make_app
from tests.waiting import wait_until

LONG = "realtime@fdaa:0:d5a7:a7b:1f0:a3b5:4c2b:2"
DUPLICATE = ((9.0, 7001), (8.5, 7002), (4.0, 7001), (3.5, 7002))
"""Two backends beating under one name, interleaved."""


def test_history_keeps_the_last_entries_of_the_most_recent_nodes() -> None:
    history = History(nodes=2)
    flips = [
        NodeStateChanged(NOW + i, "a@h", NodeState.ALIVE, NodeState.LATE, 7.5) for i in range(50)
    ]
    history.add([NodeJoined(NOW, "a@h", 1), *flips, QueueUsageMeasured(NOW, 0.1)])
    kept = history.of("a@h")
    assert len(kept) == ENTRIES
    assert kept[-1] is flips[-1]
    history.add([NodeJoined(NOW, "b@h", 2), NodeJoined(NOW, "c@h", 3)])
    assert len(history) == 2
    assert history.of("a@h") == [], "the least recent node goes beyond the bound"
    assert [e.node for e in history.of("c@h")] == ["c@h"]


async def test_enter_shows_the_selected_node_in_full() -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        app.replay(
            [
                *cluster(),
                *(Notification(LONG, pid, NOW - ago) for ago, pid in DUPLICATE),
                SenderAttributed(NOW - 1, 7001, "fdaa::2", "[bold]realtime", "app", "2026-01-01"),
            ]
        )
        app.tick()
        await wait_until(lambda: LONG in rows(app))
        await select(app, LONG)
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, DetailsScreen))
        await pilot.pause()
        text = "\n".join(shown(app))
        assert LONG in text, "the whole name, never cut"
        words = " ".join(text.split())
        assert "7001 fdaa::2 [bold]realtime app 2026-01-01" in words, text
        assert "7002" in text
        assert "not looked up yet" in text
        assert "DUPLICATE" in text
        assert "5.00s learned, jitter ±0.00s" in text
        assert "joined from pid 7001" in text
        assert "duplicate: sent by pids" in text
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, DetailsScreen))


async def test_the_details_follow_the_node_and_say_when_it_is_gone() -> None:
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        app.replay(cluster())
        await wait_until(lambda: "web1@10.0.1.17" in rows(app))
        await select(app, "web1@10.0.1.17")
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, DetailsScreen))
        screen = app.screen
        assert isinstance(screen, DetailsScreen)
        await pilot.pause()
        assert "4.75s learned, jitter ±0.50s" in "\n".join(shown(app)), "\n".join(shown(app))
        app.model.forget("web1@10.0.1.17", NOW)
        screen.show()
        await pilot.pause()
        assert "no longer tracked" in "\n".join(shown(app))


async def test_details_is_a_key_a_palette_command_and_in_the_help() -> None:
    app = make_app()
    async with app.run_test(size=(150, 34)) as pilot:
        assert app.check_action("details", ()) is None, "no node selected: greyed"
        await pilot.press("enter")
        assert not isinstance(app.screen, DetailsScreen)
        app.replay(cluster())
        await wait_until(lambda: app.table.selected_name is not None)
        assert app.check_action("details", ()) is True
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Details" in titles
        assert ("⏎", COMMANDS_HELP["details"]) in app.key_help()
