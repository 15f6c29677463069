"""The event log draws what is on screen: a burst costs a frame its visible lines, not all."""

from __future__ import annotations

from pgcluster_tui.core.events import JunkReceived, NodeState, NodeStateChanged, Notification
from pgcluster_tui.headless import noisy
from pgcluster_tui.tui.widgets.event_log import describe
from tests.tui.conftest import make_settings
from tests.tui.replay import NOW, replay_app
from tests.waiting import wait_until

SIZE = (120, 36)


async def test_only_the_lines_on_screen_are_rendered() -> None:
    app = replay_app(make_settings("c", log_size=1000))
    async with app.run_test(size=SIZE) as pilot:
        app.replay([Notification(f"n{i}@h.example", i, NOW) for i in range(150)])
        await wait_until(lambda: len(app.model) == 150)
        await pilot.pause()
        log = app.events_log
        kept = log._kept()
        assert len(kept) == 150
        rendered = [line for line in kept if line.width]
        assert 0 < len(rendered) <= log.size.height, "only the rows on screen were cut"
        assert rendered[-1] is kept[-1], "the newest line is in view"
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        assert kept[0].width, "a line scrolled into view is rendered then"


async def test_a_long_line_wraps_with_its_continuation_under_the_message() -> None:
    app = replay_app(make_settings("c"))
    async with app.run_test(size=(80, 24)) as pilot:
        payload = "y" * 200
        app.replay([JunkReceived(NOW, payload, "no @", len(payload), 7)])
        await wait_until(lambda: any("junk" in strip.text for strip in app.events_log.lines))
        await pilot.pause()
        rows = [strip.text for strip in app.events_log.lines]
        first = next(i for i, row in enumerate(rows) if "junk" in row)
        width = app.events_log.scrollable_content_region.width
        assert all(len(row) <= width for row in rows)
        continued = rows[first + 1 :]
        assert len(continued) >= 2
        assert all(row.startswith(" " * 9 + "y") for row in continued[:2])
        assert sum(row.count("y") for row in rows[first:]) == 120  # JUNK_SHOWN_CHARS, all shown


def test_a_new_node_confirmed_alive_is_not_news_a_node_back_from_late_is() -> None:
    confirmed = NodeStateChanged(NOW, "a@h", NodeState.NEW, NodeState.ALIVE, 5.0)
    back = NodeStateChanged(NOW, "a@h", NodeState.LATE, NodeState.ALIVE, 12.0)
    # A deploy of 100 nodes logs its 100 joins, not 100 more lines a beat later.
    assert describe(confirmed) is None
    assert noisy(confirmed), "watch prints it with --all only"
    line = describe(back)
    assert line is not None
    assert line[0] == "recovered"
    assert "a@h" in line[1]
    assert not noisy(back)
