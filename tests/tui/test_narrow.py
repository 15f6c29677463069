"""80x24: every row reachable by the keys, the footer keeps help and quit, the help fits, and a
resize never freezes the event log."""

from __future__ import annotations

from pgcluster_tui.core.events import Notification
from tests.tui.conftest import rows, shown
from tests.tui.replay import NOW, make_app
from tests.waiting import wait_until

SMALL = (80, 24)

LONG = "realtime@fdaa:0:d5a7:a7b:1f0:a3b5:4c2b:{}"
"""An IPv6 node name: the table is wider than 80 columns and scrolls sideways."""


def nodes(count: int) -> list[Notification]:
    """`count` nodes with long names, zero-padded to sort by name."""
    return [Notification(LONG.format(f"{i:02d}"), 100 + i, NOW) for i in range(count)]


async def test_end_and_page_down_bring_the_last_row_above_the_scroll_bar() -> None:
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        app.replay(nodes(30))
        await wait_until(lambda: len(rows(app)) == 30)
        await pilot.pause()
        table = app.table
        assert table.show_horizontal_scrollbar, "the table is wider than 80 columns"
        last = LONG.format(29)
        await pilot.press("end")
        await pilot.pause()
        assert table.selected_name == last
        assert any(last in line for line in shown(app)), "\n".join(shown(app))
        # The cursor's line is above the horizontal scroll bar, not under it.
        line = table.cursor_row - round(table.scroll_offset.y) + 1
        assert line < table.scrollable_content_region.height
        await pilot.press("home")
        assert round(table.scroll_offset.y) == 0
        for _ in range(4):
            await pilot.press("pagedown")
        await pilot.pause()
        assert table.selected_name == last
        assert any(last in line for line in shown(app))


async def test_the_footer_keeps_help_and_quit_at_80_columns() -> None:
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        footer = shown(app)[-1]
        assert "? Help" in footer, footer
        assert "q Quit" in footer, footer


async def test_the_help_screen_fits_80x24_and_scrolls_to_its_end() -> None:
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("question_mark")
        await wait_until(lambda: app.help_panel.display)
        await pilot.pause()
        dialog = app.help_panel
        assert dialog.region.right <= SMALL[0]
        assert dialog.region.bottom <= SMALL[1]
        assert dialog.max_scroll_y > 0, "the help is longer than 24 lines: it scrolls"
        assert app.focused is dialog, "the keys scroll the help"
        await pilot.press("end")
        await pilot.pause()
        assert any("very probably gone" in line for line in shown(app)), "\n".join(shown(app))
        await pilot.press("escape")
        await wait_until(lambda: not app.help_panel.display)


async def test_a_resize_never_freezes_the_event_log() -> None:
    app = make_app()
    async with app.run_test(size=(150, 34)) as pilot:
        app.replay([Notification(f"{'x' * 100}{i}@h", i, NOW) for i in range(15)])
        await pilot.pause()
        log = app.events_log
        assert log.is_vertical_scroll_end
        await pilot.resize_terminal(*SMALL)
        await pilot.pause()
        app.replay([Notification("after@resize", 9, NOW)])
        await wait_until(lambda: any("joined     after@resize" in line for line in shown(app)))
        assert log.is_vertical_scroll_end
        assert not log.show_horizontal_scrollbar
        # Lines written at 150 columns are wrapped again at 80: nothing is cut.
        assert all(len(strip.text) <= log.scrollable_content_region.width for strip in log.lines)
        await pilot.resize_terminal(150, 34)
        await pilot.pause()
        app.replay([Notification("after@widening", 10, NOW)])
        await wait_until(lambda: any("joined     after@widening" in line for line in shown(app)))


async def test_a_reader_scrolled_up_stays_there_across_a_resize() -> None:
    app = make_app()
    async with app.run_test(size=(150, 34)) as pilot:
        app.replay([Notification(f"n{i}@h", i, NOW) for i in range(40)])
        await pilot.pause()
        log = app.events_log
        log.scroll_home(animate=False, immediate=True)
        await pilot.resize_terminal(*SMALL)
        await pilot.pause()
        app.replay([Notification("late@h", 99, NOW)])
        await pilot.pause()
        assert log.scroll_offset.y == 0
        assert not log.following
