"""The help over the table: shown and hidden by its keys, the table's cursor kept in view."""

from __future__ import annotations

from pgcluster_tui.core.events import Notification
from tests.tui.conftest import shown
from tests.tui.replay import NOW, make_app
from tests.waiting import wait_until

SIZE = (100, 30)


async def test_rows_that_come_under_the_help_leave_the_cursor_in_view() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.replay([Notification(f"m{i:03d}@h", 100 + i, NOW) for i in range(60)])
        await wait_until(lambda: len(app.table.order) == 60)
        table = app.table
        page = table.scrollable_content_region.height - 1
        for _ in range(page - 1):
            await pilot.press("down")
        await pilot.pause()
        selected, top = table.selected_name, round(table.scroll_offset.y)
        assert top == 0, "the first row shown"
        assert table.cursor_row == page - 1, "the cursor on the last row shown"
        assert selected is not None
        await pilot.press("question_mark")
        await wait_until(lambda: app.help_panel.display)
        await pilot.pause()
        assert not any(selected in line for line in shown(app)), "the help covers the table"
        # Names that sort first push the selected row down while the table is hidden.
        app.replay([Notification(f"a{i:02d}@h", 200 + i, NOW + 1) for i in range(10)])
        await wait_until(lambda: len(table.order) == 70)
        await pilot.press("escape")
        await wait_until(lambda: not app.help_panel.display)
        await pilot.pause()
        assert table.selected_name == selected
        assert any(selected in line for line in shown(app)), "\n".join(shown(app))
        assert app.focused is table
