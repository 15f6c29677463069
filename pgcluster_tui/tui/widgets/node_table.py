"""The node table: one row per node name, updated as a diff, selection kept across sorts."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey

from pgcluster_tui.core.events import NodeState, SenderAttributed
from pgcluster_tui.core.membership import NodeView
from pgcluster_tui.core.text import visible
from pgcluster_tui.tui.text import plain

GLYPHS = {
    NodeState.NEW: "◇",
    NodeState.ALIVE: "●",
    NodeState.LATE: "◔",
    NodeState.SUSPECT: "◑",
    NodeState.STALE: "✕",
}
"""A glyph per state, so state never rests on colour alone."""

BAR_CELLS = 7

VOLATILE = frozenset({"age", "phi"})
"""Columns that change every second on every row: kept current only where visible."""

SenderLookup = Callable[[int], SenderAttributed | None]


@dataclass(frozen=True, slots=True)
class SortOrder:
    """One way to order the table: a label and a key over node views."""

    label: str
    key: Callable[[NodeView], tuple[object, ...]]


SORT_COLUMNS = {"state": "state", "name": "name", "age": "age", "beats": "beats"}
SORT_COLUMNS |= {"interval": "interval", "first": "first", "since": "since"}
"""The column each sort order marks with an arrow."""

SORTS: dict[str, SortOrder] = {
    "state": SortOrder("state", lambda v: (-v.state.severity, v.name)),
    "name": SortOrder("name", lambda v: (v.name,)),
    "age": SortOrder("age", lambda v: (-v.age, v.name)),
    "beats": SortOrder("beats", lambda v: (-v.beats, v.name)),
    "interval": SortOrder("interval", lambda v: (-v.interval, v.name)),
    "first": SortOrder("joined", lambda v: (v.first_seen, v.name)),
    "since": SortOrder("state since", lambda v: (v.state_since, v.name)),
}
"""Sort orders in the order `s` cycles through them; each puts the notable rows first."""

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("state", "State", 9),
    ("name", "Node", 20),
    ("age", "Heartbeat age", 14),
    ("beats", "Beats", 5),
    ("interval", "Interval", 10),
    ("phi", "φ", 4),
    ("senders", "Sender pid addr app", 20),
    ("first", "Joined", 8),
    ("since", "Since", 8),
)
"""Column key, header and width."""

NAME_INDEX = [key for key, _, _ in COLUMNS].index("name")

MAX_NEW_ROWS = 1000
"""Rows added per redraw; more wait for the next frame."""


def format_age(seconds: float) -> str:
    """A short age: 4.2s, 3m05s, 2h10m, 3d04h."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def clock_time(epoch: float) -> str:
    """Local wall-clock time of day, HH:MM:SS."""
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def matches(view: NodeView, words: Sequence[str]) -> bool:
    """Whether every filter word is in the node name or starts the state's name."""
    name = view.name.lower()
    return all(word in name or view.state.value.startswith(word) for word in words)


class NodeTable(DataTable[Text]):
    """Nodes on the channel, worst first; rows keyed by node name."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "node-table--new",
        "node-table--alive",
        "node-table--late",
        "node-table--suspect",
        "node-table--stale",
        "node-table--self",
        "node-table--duplicate",
        "node-table--bar-empty",
        "node-table--dim",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.sort_by = "state"
        self.reverse = False
        self.filter_words: tuple[str, ...] = ()
        self._signatures: dict[str, dict[str, object]] = {}
        self._styles: dict[str, Style] = {}
        self.synced_scroll = 0
        self._name_cells: dict[str, Text] = {}
        self.shown: list[NodeView] = []
        self.incomplete = False
        self._marked: tuple[str, bool] = ("", False)

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(Text(label, no_wrap=True), width=width, key=key)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        # Cells carry their colours: forget every key so the next sync rebuilds each cell.
        for signature in self._signatures.values():
            signature.clear()

    # State

    @property
    def selected_name(self) -> str | None:
        """The node under the cursor, if any."""
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key
        except CellDoesNotExist:
            return None
        return key.value

    def set_filter(self, text: str) -> None:
        """Show only nodes whose name holds, or whose state starts with, every word."""
        self.filter_words = tuple(text.lower().split())

    def next_sort(self) -> str:
        """Move to the next sort order; return its label."""
        keys = list(SORTS)
        self.sort_by = keys[(keys.index(self.sort_by) + 1) % len(keys)]
        self.reverse = False
        return SORTS[self.sort_by].label

    # Update

    def sync(self, views: Sequence[NodeView], senders: SenderLookup) -> None:
        """Make the table show `views` (filtered and sorted) by adding, updating and removing."""
        self._styles.clear()
        selected = self.selected_name
        words = self.filter_words
        wanted = [v for v in views if matches(v, words)] if words else list(views)
        wanted.sort(key=SORTS[self.sort_by].key, reverse=self.reverse)
        self.shown = wanted
        names = {v.name for v in wanted}
        # Ages change every second on every row; off-screen rows get them when scrolled to.
        top = round(self.scroll_offset.y)
        first, last = top - 2, top + self.size.height + 2
        self.synced_scroll = top
        with self.app.batch_update():
            for name in [n for n in self._signatures if n not in names]:
                self.remove_row(name)
                del self._signatures[name]
                del self._name_cells[name]
            added = 0
            self.incomplete = False
            for index, view in enumerate(wanted):
                if view.name not in self._signatures:
                    if added >= MAX_NEW_ROWS:
                        # Thousands of new names at once: add them over several frames,
                        # so keys are answered in between.
                        self.incomplete = True
                        continue
                    added += 1
                self._put(view, senders, visible=first <= index <= last)
            order = [v.name for v in wanted if v.name in self._signatures]
            if [row.key.value for row in self.ordered_rows] != order:
                rank = {id(self._name_cells[name]): i for i, name in enumerate(order)}
                self.sort("name", key=lambda cell: rank[id(cell)])
            self._mark_sorted_column()
            if selected is not None and selected in names:
                index = self.get_row_index(selected)
                if index != self.cursor_row:
                    self.move_cursor(row=index, animate=False)

    def _mark_sorted_column(self) -> None:
        if self._marked == (self.sort_by, self.reverse):
            return
        self._marked = (self.sort_by, self.reverse)
        marked = SORT_COLUMNS[self.sort_by]
        for key, label, _ in COLUMNS:
            column = self.columns[ColumnKey(key)]
            arrow = (" ↑" if self.reverse else " ↓") if key == marked else ""
            column.label = Text(label + arrow, no_wrap=True)
        self.refresh()

    def _put(self, view: NodeView, senders: SenderLookup, *, visible: bool) -> None:
        details = self._details(view.pids, senders)
        keys = self._keys(view, details)
        old = self._signatures.get(view.name)
        if old is None:
            cells = [self._cell(column, view, details) for column, _, _ in COLUMNS]
            self.add_row(*cells, key=view.name)
            self._name_cells[view.name] = cells[NAME_INDEX]
            self._signatures[view.name] = keys
            return
        for column, key in keys.items():
            if old.get(column) == key or (not visible and column in VOLATILE and column in old):
                continue
            cell = self._cell(column, view, details)
            self.update_cell(view.name, column, cell)
            old[column] = key
            if column == "name":
                self._name_cells[view.name] = cell

    # Cells

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self.get_component_rich_style(f"node-table--{name}", partial=True)
            self._styles[name] = style
        return style

    @staticmethod
    def _zone(v: NodeView) -> NodeState:
        if v.age > v.stale_after:
            return NodeState.STALE
        if v.age > v.suspect_after:
            return NodeState.SUSPECT
        if v.age > v.late_after:
            return NodeState.LATE
        return NodeState.ALIVE

    @staticmethod
    def _filled(v: NodeView) -> int:
        return min(BAR_CELLS, round(v.age / v.stale_after * BAR_CELLS)) if v.stale_after else 0

    @staticmethod
    def _details(pids: Sequence[int], senders: SenderLookup) -> tuple[str, ...]:
        details: list[str] = []
        for pid in pids:
            who = senders(pid)
            if who is not None:
                detail = " ".join(part for part in (who.client_addr, who.application_name) if part)
                if detail and detail not in details:
                    details.append(detail)
        return tuple(details)

    def _keys(self, v: NodeView, details: tuple[str, ...]) -> dict[str, object]:
        """What each cell shows, cheaply: a cell is rebuilt only when its key changes."""
        return {
            "state": v.state,
            "name": (v.name, v.is_self),
            "age": (format_age(v.age), self._zone(v), self._filled(v)),
            "beats": v.beats,
            "interval": (f"{v.interval:.1f}", v.interval_estimated, f"{v.jitter:.2f}"),
            "phi": f"{min(v.phi, 99.9):.1f}",
            "senders": (v.pids, details, v.duplicate),
            "first": int(v.first_seen),
            "since": int(v.state_since),
        }

    def _cell(self, column: str, v: NodeView, details: tuple[str, ...]) -> Text:
        dim = self._style("dim")
        if column == "state":
            return Text(f"{GLYPHS[v.state]} {v.state.value}", style=self._style(v.state.value))
        if column == "name":
            if v.is_self:
                name = Text("★ ", style=self._style("self"))
                name.append(plain(v.name, style=self._style("self")))
                return name
            return plain(v.name)
        if column == "age":
            filled = self._filled(v)
            bar = Text(no_wrap=True)
            bar.append("█" * filled, style=Style(color=self._style(self._zone(v).value).color))
            bar.append("░" * (BAR_CELLS - filled), style=self._style("bar-empty"))
            bar.append(f" {format_age(v.age):>6}")
            return bar
        if column == "beats":
            return Text(str(v.beats), justify="right")
        if column == "interval":
            interval = Text(f"{v.interval:.1f}s", no_wrap=True)
            if v.interval_estimated:
                interval.append(f" ±{v.jitter:.2f}", style=dim)
            else:
                interval.append(" (cfg)", style=dim)
            return interval
        if column == "phi":
            return Text(f"{min(v.phi, 99.9):.1f}", justify="right")
        if column == "senders":
            text = Text(no_wrap=True, overflow="ellipsis")
            if v.duplicate:
                text.append("DUP ", style=self._style("duplicate"))
            text.append(", ".join(map(str, v.pids)))
            if details:
                text.append(" " + visible("; ".join(details)), style=dim)
            return text
        if column == "first":
            return Text(clock_time(v.first_seen), style=dim)
        return Text(clock_time(v.state_since), style=dim)
