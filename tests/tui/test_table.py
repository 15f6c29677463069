"""The node table on its own terms: only rows on screen are drawn, the cursor, the mouse."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pgcluster_tui.core.events import Notification
from pgcluster_tui.core.membership import NodeView
from pgcluster_tui.tui.app import PgClusterApp
from tests.tui.conftest import NODE, SIZE, rows, screen_text
from tests.tui.replay import NOW, cluster, make_app
from tests.waiting import wait_until

MANY = 10_000


def many(count: int = MANY) -> list[Notification]:
    """`count` nodes, each heard twice (so alive), zero-padded to sort by name."""
    names = [f"n{i:05d}@10.0.0.1" for i in range(count)]
    return [Notification(name, 5000, NOW - ago) for ago in (5.0, 0.1) for name in names]


def count_views(app: PgClusterApp) -> Callable[[], int]:
    """Count the snapshots the table takes of the model from now on."""
    taken = [0]
    view = app.model.view

    def counting(name: str, now: float) -> NodeView:
        taken[0] += 1
        return view(name, now)

    app.model.view = counting  # type: ignore[method-assign]
    return lambda: taken[0]


async def test_a_tick_at_ten_thousand_nodes_draws_only_the_rows_on_screen() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.replay(many())
        await wait_until(lambda: len(rows(app)) == MANY + 0, what="every node in the table")
        await pilot.pause()
        page = app.table.size.height - 1
        assert 10 < page < 40
        views = count_views(app)
        app.tick()
        await pilot.pause()
        assert 0 < views() <= page, "ages are read for the visible rows only"
        assert len(app.table._rows) <= page
        assert "n00000@10.0.0.1" in screen_text(app)


async def test_rows_scrolled_into_view_are_drawn_from_the_model() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.replay(many(500))
        await wait_until(lambda: len(rows(app)) == 500)
        await pilot.pause()  # laid out: the scroll bar is there to use
        app.table.scroll_to(y=300, animate=False)
        await pilot.pause()
        text = screen_text(app)
        assert "n00300@10.0.0.1" in text
        assert "n00000@10.0.0.1" not in text
        assert text.splitlines()[0].lstrip().startswith("State ↓")


async def test_keys_move_the_cursor_and_keep_it_on_screen() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.replay(many(500))
        await wait_until(lambda: len(rows(app)) == 500)
        table = app.table
        await pilot.press("down", "j")
        assert table.selected_name == "n00002@10.0.0.1"
        await pilot.press("end")
        assert table.selected_name == "n00499@10.0.0.1"
        assert "n00499@10.0.0.1" in screen_text(app)
        await pilot.press("pageup")
        page = table.size.height - 1
        assert table.cursor_row == 499 - page
        await pilot.press("home", "up", "k")
        assert table.selected_name == "n00000@10.0.0.1"
        assert round(table.scroll_offset.y) == 0


async def test_the_selection_follows_its_node_when_the_order_changes() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.replay(many(50))
        await wait_until(lambda: len(rows(app)) == 50)
        assert app.table.select("n00007@10.0.0.1")
        await pilot.press("S")  # reversed: n00049 first
        await wait_until(lambda: rows(app)[0] == "n00049@10.0.0.1")
        assert app.table.selected_name == "n00007@10.0.0.1"
        assert app.table.cursor_row == 42
        app.model.forget("n00007@10.0.0.1", NOW)
        app._redraw_now()
        assert app.table.cursor_row == 42, "a vanished selection leaves the cursor in place"
        assert app.table.selected_name == "n00006@10.0.0.1"


async def test_clicking_a_row_selects_it_and_clicking_a_header_sorts() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.replay(cluster())
        await wait_until(lambda: NODE in rows(app))
        await pilot.pause()
        table = app.table
        assert await pilot.click(table, offset=(15, 4))  # the border, the header, then rows
        assert table.cursor_row == 2
        assert table.selected_name == rows(app)[2]
        assert await pilot.click(table, offset=(15, 1))  # the "Node" header
        await wait_until(lambda: table.sort_by == "name")
        assert rows(app) == sorted(rows(app))
        assert await pilot.click(table, offset=(15, 1))
        await wait_until(lambda: table.reverse)
        assert rows(app) == sorted(rows(app), reverse=True)
        assert "Node ↑" in screen_text(app)


@pytest.mark.parametrize("widget", ["events_log", "table"])
async def test_a_tick_while_the_app_tears_down_does_nothing(widget: str) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.replay(cluster())
        await wait_until(lambda: NODE in rows(app))
        await getattr(app, widget).remove()
        app.tick()
        app.frames.due()
        app.replay(cluster())
        await pilot.pause()
