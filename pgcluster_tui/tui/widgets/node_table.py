"""The node table: a Line API view of the membership model that renders only the rows on screen."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from pgcluster_tui.core.events import NodeState
from pgcluster_tui.core.membership import BEAT_ORDERS, SORT_ORDERS, Membership, NodeView
from pgcluster_tui.tui.widgets.columns import (
    COLUMNS,
    SENDERS,
    NameWidths,
    header,
    joined,
    layout,
    line,
)
from pgcluster_tui.tui.widgets.node_cells import (
    SORT_LABELS,
    STEADY,
    Cells,
    SenderLookup,
    sender_details,
)
from pgcluster_tui.tui.widgets.rows_view import RowsView
from pgcluster_tui.tui.widgets.scrolling import set_virtual_size

PARTS = ("header", "cursor", "self", "duplicate", "bar-empty", "dim", "doctor-ok", "doctor-fail")
"""The table's component classes besides the states."""


@dataclass(slots=True)
class _Row:
    """One row on screen: what each cell shows (its key), the cells drawn, and the joined line."""

    view: NodeView
    keys: list[object]
    cells: list[list[Segment]]
    styled: list[list[Segment]]
    """The cells on the table's own style, merged: a row off the cursor is these joined."""
    senders_width: int = 0
    """The cells the Sender column needs for this row."""
    strips: dict[tuple[bool, int], Strip] = field(default_factory=dict)


class NodeTable(RowsView, can_focus=True):
    """Nodes on the channel, worst first; sorted and filtered by the model, drawn where visible."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"node-table--{name}" for name in (*PARTS, *NodeState)}

    class HeaderClicked(Message):
        """A column header was clicked."""

        def __init__(self, column: str) -> None:
            super().__init__()
            self.column = column

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sort_by = "state"
        self.reverse = False
        self.filter_words: tuple[str, ...] = ()
        self.model: Membership | None = None
        self.now = 0.0
        """The instant the rows on screen show."""
        self._ordered_for: tuple[object, ...] = ()
        """What the order was computed for (_order_key)."""
        self._peeked: tuple[tuple[object, ...], list[str]] | None = None
        """An order shows_change found, and what for: the next sync takes it."""
        self._rows: dict[str, _Row] = {}
        self._styles: dict[str, Style] = {}
        self.cells = Cells(self._style)
        self._header: dict[tuple[int, str, bool], Strip] = {}
        self.columns = layout(0, 0, 0)
        """The width of every column, fitted to the widget and to what the rows show."""
        self._names = NameWidths()
        self._name_need = 0
        self.virtual_size = Size(self.columns.total, 1)

    # Settings

    def set_filter(self, text: str) -> None:
        """Show only nodes whose name holds, or whose state starts with, every word."""
        self.filter_words = tuple(text.lower().split())

    def next_sort(self) -> str:
        """Move to the next sort order; return its label."""
        self.sort_by = SORT_ORDERS[(SORT_ORDERS.index(self.sort_by) + 1) % len(SORT_ORDERS)]
        self.reverse = False
        return SORT_LABELS[self.sort_by]

    def sort_on(self, column: str) -> bool:
        """Sort by a column, or reverse if it is the sort column; False if it does not sort."""
        if column not in SORT_LABELS:
            return False
        if self.sort_by == column:
            self.reverse = not self.reverse
        else:
            self.sort_by, self.reverse = column, False
        return True

    # Update

    def reset(self) -> None:
        """Drop every row and the selection: the next sync shows another model from scratch."""
        self.order, self._index, self._rows, self._ordered_for = [], None, {}, ()
        self.cursor_row, self.model = 0, None
        self._set_selected(None)
        self.virtual_size = Size(self.columns.total, 1)
        self.scroll_to(0, 0, animate=False, force=True)
        self.refresh()

    def shows_change(self, model: Membership, names: Set[str]) -> bool:
        """Whether a sync would change a row on screen: one comes, goes or moves there, or one
        of `names` (nodes whose cells changed) is there. The order it finds is kept for it."""
        key = self._order_key(model)
        top, page = round(self.scroll_offset.y), self._page()
        shown = self.order[top : top + page]
        if key != self._ordered_for:
            if key[:2] != self._ordered_for[:2] or model is not self.model:
                return True
            order = model.ordered(self.sort_by, reverse=self.reverse, words=self.filter_words)
            self._peeked = (key, order)
            if order[top : top + page] != shown:
                return True
        return not names.isdisjoint(shown)

    def sync(self, model: Membership, now: float, *, ages: bool = True) -> None:
        """Show the model at `now`: re-sort if rows may have moved, redraw changed visible rows.

        With `ages` False, rows whose only change is their age (every row, every instant) wait
        for the next call with `ages`: the 1 Hz tick.
        """
        self.model, self.now = model, now
        key = self._order_key(model)
        if key != self._ordered_for:
            if key[:2] != self._ordered_for[:2]:
                self.refresh()  # the header's sort arrow
            self._ordered_for = key
            peeked, self._peeked = self._peeked, None
            if peeked is not None and peeked[0] == key:
                order = peeked[1]
            else:
                order = model.ordered(self.sort_by, reverse=self.reverse, words=self.filter_words)
            if order != self.order:
                self._name_need = self._names.widest(order, model.self_name)
                self.set_order(order, self.columns.total)
        self._refresh_visible(ages)
        self._fit_columns()

    def _order_key(self, model: Membership) -> tuple[object, ...]:
        """What the order depends on: re-sorting is skipped while it stays the same."""
        moved_by = model.beat_version if self.sort_by in BEAT_ORDERS else 0
        return (self.sort_by, self.reverse, self.filter_words, (model.roster_version, moved_by))

    def _refresh_visible(self, ages: bool) -> None:
        model = self.model
        assert model is not None
        shown = self.shown()
        rows: dict[str, _Row] = {}
        senders = model.sender
        changed: list[int] = []
        for offset, name in enumerate(shown):
            row = self._rows.get(name)
            if name not in model:
                if row is not None:
                    rows[name] = row  # gone from the model: keep its last look until re-sorted
                continue
            view = model.view(name, self.now)
            if row is None:
                row = self._build(view, senders)
                changed.append(offset)
            elif self._update(row, view, senders, ages):
                changed.append(offset)
            rows[name] = row
        self._rows = rows
        if changed:
            self.refresh_rows(changed[0], changed[-1])

    def _fit_columns(self) -> None:
        """Size Node and Sender to the rows; redraw every row if a width changed."""
        senders = max((row.senders_width for row in self._rows.values()), default=0)
        fitted = layout(self.scrollable_content_region.width, self._name_need, senders)
        if fitted == self.columns:
            return
        self.columns = fitted
        set_virtual_size(self, Size(fitted.total, len(self.order) + 1))
        if self.model is not None:
            for row in self._rows.values():
                row.keys = [None] * len(COLUMNS)
                self._update(row, row.view, self.model.sender, ages=True)
        self._header.clear()
        self.refresh()

    def on_resize(self) -> None:
        self._fit_columns()

    def _build(self, view: NodeView, senders: SenderLookup) -> _Row:
        row = _Row(view, [None] * len(COLUMNS), [[] for _ in COLUMNS], [[] for _ in COLUMNS])
        self._update(row, view, senders, ages=True)
        return row

    def _update(self, row: _Row, view: NodeView, senders: SenderLookup, ages: bool) -> bool:
        """Redraw the cells whose key changed; return whether any did."""
        details = sender_details(view.pids, senders)
        keys = self.cells.keys(view, details)
        if keys == row.keys:
            return False
        if not ages and all(keys[i] == row.keys[i] for i in STEADY):
            return False
        row.view = view
        console = self.app.console
        for index, width in enumerate(self.columns.widths):
            key = keys[index]
            if key != row.keys[index]:
                cell = self.cells.drawn(index, key, view, details, width, console)
                row.cells[index], row.styled[index], cells = cell
                if index == SENDERS:
                    row.senders_width = cells
        row.keys = keys
        row.strips.clear()
        return True

    def notify_style_update(self) -> None:
        # Colours come from the theme and from focus: every cell is drawn again.
        super().notify_style_update()
        self._styles.clear()
        self.cells.forget_drawn()
        self._rows.clear()
        self._header.clear()
        self.refresh()

    # Mouse

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        scroll_x, scroll_y = self.scroll_offset
        if offset.y == 0:
            column = self.columns.column_at(offset.x + scroll_x)
            if column is not None:
                self.post_message(self.HeaderClicked(column))
        elif scroll_y + offset.y - 1 < len(self.order):
            self.move_cursor(scroll_y + offset.y - 1)

    # Drawing

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        shown = self.size.width
        width = max(shown, self.columns.total)
        if y == 0:
            strip = self._header_strip(width)
        else:
            index = scroll_y + y - 1
            if index >= len(self.order):
                return Strip.blank(shown, self._style(""))
            strip = self._row_strip(index, width)
        if scroll_x == 0 and width == shown:
            return strip
        return strip.crop_extend(scroll_x, scroll_x + shown, self._style(""))

    def _row_strip(self, index: int, width: int) -> Strip:
        name = self.order[index]
        row = self._row(name)
        if row is None:
            return Strip.blank(width, self._style(""))
        cursor = index == self.cursor_row
        strip = row.strips.get((cursor, width))
        if strip is None:
            if cursor:
                base = self._style("") + self._style("cursor")
                segments = [segment for cell in row.cells for segment in cell]
                strip = line(segments, base, width, self.columns.total)
            else:
                strip = joined(row.styled, self._style(""), width, self.columns.total)
            row.strips.clear()
            row.strips[(cursor, width)] = strip
        return strip

    def _row(self, name: str) -> _Row | None:
        row = self._rows.get(name)
        model = self.model
        if row is None and model is not None and name in model:
            # Scrolled into view since the last sync: drawn as of that sync.
            row = self._build(model.view(name, self.now), model.sender)
            self._rows[name] = row
        return row

    def _header_strip(self, width: int) -> Strip:
        key = (width, self.sort_by, self.reverse)
        strip = self._header.get(key)
        if strip is None:
            style = self._style("") + self._style("header")
            arrow = ("↑" if self.reverse else "↓", self.sort_by)
            strip = header(self.columns, arrow, style, width, self.app.console)
            self._header = {key: strip}
        return strip

    def get_cell(self, name: str, column: str) -> Text:
        """What one cell shows now (for tests and for reading the table)."""
        row = self._row(name)
        if row is None:
            raise KeyError(name)
        assert self.model is not None
        details = sender_details(row.view.pids, self.model.sender)
        return self.cells.cell(column, row.view, details)

    # Cells

    def _style(self, name: str) -> Style:
        # A component's colours, or the widget's own (""): both are computed anew on every call.
        style = self._styles.get(name)
        if style is None:
            component = f"node-table--{name}"
            style = (
                self.get_component_rich_style(component, partial=True) if name else self.rich_style
            )
            self._styles[name] = style
        return style
