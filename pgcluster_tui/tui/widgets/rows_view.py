"""A scrolling list of named rows under a one-line header, with a cursor that follows its row."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message

from pgcluster_tui.tui.widgets.scrolling import QuietScrollView, set_virtual_size


class RowsView(QuietScrollView):
    """Rows named in `order`, the first line a header; the cursor stays on its name."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move('up')", "Up", show=False),
        Binding("down,j", "move('down')", "Down", show=False),
        Binding("pageup", "move('page_up')", "Page up", show=False),
        Binding("pagedown", "move('page_down')", "Page down", show=False),
        Binding("home", "move('first')", "First", show=False),
        Binding("end", "move('last')", "Last", show=False),
    ]

    class Highlighted(Message):
        """The cursor is on another row, or on none."""

        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.order: list[str] = []
        """Names shown, top to bottom."""
        self.cursor_row = 0
        self.selected_name: str | None = None
        """The row under the cursor, if any; followed when the order changes."""
        self._index: dict[str, int] | None = None

    def set_order(self, order: list[str], width: int) -> None:
        """Take a new order, the cursor following its row; redraw only the rows that moved."""
        top, page, cursor = round(self.scroll_offset.y), self._page(), self.cursor_row
        before = self.order[top : top + page]
        selected = self.selected_name
        was_visible = self._on_screen(self.cursor_row)
        self.order = order
        self._index = None
        set_virtual_size(self, Size(width, len(order) + 1))
        row = self.index_of(selected) if selected is not None else None
        if row is None:
            row = min(self.cursor_row, max(0, len(order) - 1))
        self.cursor_row = row
        self._set_selected(order[row] if order else None)
        if was_visible:
            self._scroll_to_cursor()
        if round(self.scroll_offset.y) != top:
            return  # scrolled: Textual redraws every line
        after = order[top : top + page]
        moved = [
            y for y in range(max(len(before), len(after))) if before[y : y + 1] != after[y : y + 1]
        ]
        moved += [y for y in (cursor - top, row - top) if cursor != row and 0 <= y < page]
        if moved:
            self.refresh_rows(min(moved), max(moved))

    def refresh_rows(self, first: int, last: int) -> None:
        """Redraw the rows on screen from `first` to `last` (offsets under the header): one
        region, and only the rows, not the scroll bar beside them."""
        width = self.scrollable_content_region.width
        self.refresh(Region(0, first + 1, width, last - first + 1))

    def shown(self) -> list[str]:
        """The names on screen, top to bottom."""
        top = round(self.scroll_offset.y)
        return self.order[top : top + self._page()]

    # Cursor

    def index_of(self, name: str) -> int | None:
        """The row of a name in the order, if there."""
        if self._index is None:
            self._index = {name: i for i, name in enumerate(self.order)}
        return self._index.get(name)

    def move_cursor(self, row: int) -> None:
        """Put the cursor on a row (clamped) and scroll it into view."""
        if not self.order:
            return
        row = max(0, min(row, len(self.order) - 1))
        if row != self.cursor_row:
            self.refresh_lines(self.cursor_row + 1)
            self.refresh_lines(row + 1)
            self.cursor_row = row
        self._set_selected(self.order[row])
        self._scroll_to_cursor()

    def select(self, name: str) -> bool:
        """Put the cursor on a name; return whether it is shown."""
        row = self.index_of(name)
        if row is not None:
            self.move_cursor(row)
        return row is not None

    def _set_selected(self, name: str | None) -> None:
        if name != self.selected_name:
            self.selected_name = name
            self.post_message(self.Highlighted(name))

    def _page(self) -> int:
        # The rows under the header, above the horizontal scroll bar when there is one.
        return max(1, self.scrollable_content_region.height - 1)

    def _on_screen(self, row: int) -> bool:
        top = round(self.scroll_offset.y)
        return top <= row < top + self._page()

    def _scroll_to_cursor(self) -> None:
        # At once, not after the next refresh: the move and the scroll make one frame.
        top, page = round(self.scroll_offset.y), self._page()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, force=True, immediate=True)
        elif self.cursor_row >= top + page:
            y = self.cursor_row - page + 1
            self.scroll_to(y=y, animate=False, force=True, immediate=True)

    def action_move(self, where: str) -> None:
        """Move the cursor a row or a screen up or down, or to the first or the last row."""
        row, page = self.cursor_row, self._page()
        moves = {"up": row - 1, "down": row + 1, "page_up": row - page, "page_down": row + page}
        self.move_cursor({**moves, "first": 0, "last": len(self.order) - 1}[where])
