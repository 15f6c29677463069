"""Node and Sender sized to what they show, the sort arrow kept, and the worst state first."""

from __future__ import annotations

from rich.text import Text

from pgcluster_tui.core.events import Notification, SenderAttributed
from pgcluster_tui.tui.widgets.columns import (
    FIXED_WIDTH,
    NAME_WIDTHS,
    SENDER_WIDTHS,
    NameWidths,
    cut_middle,
    header_label,
    layout,
)
from tests.tui.conftest import rows, screen_text, shown
from tests.tui.replay import NOW, cluster, make_app
from tests.waiting import wait_until

TWINS = ("realtime@fdaa:0:d5a7:a7b:1f0:a3b5:4c2b:2", "realtime@fdaa:0:d5a7:a7b:1f0:a3b5:4c2b:3")
"""Two IPv6 node names that differ in their last character only."""


def test_the_node_column_takes_its_widest_name_and_the_sender_column_what_is_left() -> None:
    fitted = layout(160, 40, 30)
    widths = dict(zip(("state", "name", "age", "beats", "interval"), fitted.widths, strict=False))
    assert widths["name"] == 40
    assert (widths["state"], widths["age"]) == (9, 14), "fixed columns keep their widths"
    assert fitted.widths[6] == 30
    assert fitted.total == FIXED_WIDTH + 70
    # Narrow: the name stays whole (the table scrolls sideways), the senders shrink first.
    narrow = layout(78, 40, 30)
    assert narrow.widths[1] == 40
    assert narrow.widths[6] == SENDER_WIDTHS[0]
    # Bounded both ways.
    assert layout(300, 500, 500).widths[1] == NAME_WIDTHS[1]
    assert layout(300, 2, 2).widths[1] == NAME_WIDTHS[0]
    assert layout(300, 500, 500).widths[6] == SENDER_WIDTHS[1]


def test_a_cut_name_keeps_its_end() -> None:
    cut = cut_middle(Text("realtime@fdaa:0:d5a7:a7b:1f0:a3b5:4c2b:2"), 20)
    assert cut.plain == "realtime@f…b5:4c2b:2"
    assert cut.cell_len == 20
    assert cut_middle(Text("short@h"), 20).plain == "short@h"


def test_a_cut_header_keeps_its_sort_arrow() -> None:
    assert header_label("Heartbeat age", 14, "↓").plain == "Heartbeat a… ↓"
    assert header_label("State", 9, "↑").plain == "State ↑"
    assert header_label("Beats", 5, "").plain == "Beats"


async def test_two_long_names_that_differ_at_the_end_show_in_full() -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        app.replay(
            [
                *cluster(),
                Notification(TWINS[0], 7001, NOW),
                Notification(TWINS[1], 7002, NOW),
                SenderAttributed(NOW, 7001, "fdaa:0:d5a7:a7b:1f0:a3b5:4c2b:2", "realtime", "u", ""),
            ]
        )
        await wait_until(lambda: set(TWINS) <= set(rows(app)))
        app.tick()
        await pilot.pause()
        text = screen_text(app)
        for name in TWINS:
            assert name in text, text
        # Wider: the spare width goes to the Sender column, the sender's address shows whole,
        # and every fixed column is on screen.
        await pilot.resize_terminal(170, 30)
        await pilot.pause()
        text = screen_text(app)
        assert "7001 fdaa:0:d5a7:a7b:1f0:a3b5:4c2b:2 realtime" in text, text
        assert text.splitlines()[0].rstrip().endswith("Since")


async def test_sorting_by_age_keeps_the_arrow_on_the_cut_header() -> None:
    app = make_app()
    async with app.run_test(size=(150, 34)) as pilot:
        app.replay(cluster())
        await wait_until(lambda: len(rows(app)) > 5)
        await pilot.press("s", "s")
        await pilot.pause()
        assert app.table.sort_by == "age"
        assert "Heartbeat a… ↓" in screen_text(app).splitlines()[0]


async def test_the_worst_state_comes_first_and_new_comes_before_alive() -> None:
    app = make_app()
    async with app.run_test(size=(150, 34)) as pilot:
        app.replay(cluster())
        app.tick()
        await pilot.pause()
        states = [app.model.state(name).value for name in rows(app)]
        order = ["stale", "suspect", "late", "new", "alive"]
        assert states == sorted(states, key=order.index), states
        await pilot.press("S")
        await pilot.pause()
        reversed_states = [app.model.state(name).value for name in rows(app)]
        assert reversed_states == sorted(states, key=order.index, reverse=True)
        assert rows(app) == sorted(
            rows(app), key=lambda n: (order.index(app.model.state(n).value), n), reverse=True
        )
        assert "State ↑" in "\n".join(shown(app))


def test_names_are_measured_as_shown() -> None:
    names = NameWidths()
    assert names.widest(["a\x1bb@h"], None) == len("a\\x1bb@h")
    assert names.widest(["a\\b@h", "ok@h"], None) == len("a\\\\b@h")
    assert names.widest(["漢字@h"], None) == 6
    assert names.widest(["us@h"], "us@h") == 6, "our own name with its star"
