"""What each cell of the node table shows: its text, and a cheap key that says when it changed."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from pgcluster_tui.core.events import NodeState, SenderAttributed
from pgcluster_tui.core.format import GLYPHS, clock_time, format_age
from pgcluster_tui.core.membership import NodeView
from pgcluster_tui.core.text import mixed_scripts
from pgcluster_tui.tui.text import cells, plain
from pgcluster_tui.tui.widgets.columns import COLUMN_KEYS, cut_middle, fit

BAR_CELLS = 7

DRAWN_CELLS = 8192
"""Cells kept drawn for reuse (by column, key and width) before the cache starts over."""

Drawn = tuple[list[Segment], list[Segment], int]

SORT_LABELS = {
    "state": "state",
    "name": "name",
    "age": "age",
    "beats": "beats",
    "interval": "interval",
    "first": "joined",
    "since": "state since",
}
"""How the status line names each sort order; `s` cycles through them in this order."""

STEADY = tuple(i for i, key in enumerate(COLUMN_KEYS) if key not in ("age", "phi"))
"""Columns that change only when something happens (not merely as time passes)."""

CONFUSABLE = "≈"
"""Marks a name whose letters mix scripts: it may impersonate another node's name."""


SenderLookup = Callable[[int], SenderAttributed | None]

Mark = tuple[str, bool | None]
"""A doctor's mark before the senders: its text, and passed (True), failed or running (None)."""

MARK_STYLES = {True: "doctor-ok", False: "doctor-fail", None: "dim"}


def no_mark(name: str) -> Mark | None:
    """No node has a mark."""
    return None


def sender_details(pids: Sequence[int], senders: SenderLookup) -> tuple[str, ...]:
    details: list[str] = []
    for pid in pids:
        who = senders(pid)
        if who is not None:
            detail = " ".join(part for part in (who.client_addr, who.application_name) if part)
            if detail and detail not in details:
                details.append(detail)
    return tuple(details)


class Cells:
    """Draws cells with the table's component styles."""

    def __init__(self, style: Callable[[str], Style]) -> None:
        self._style = style
        self.marks: Callable[[str], Mark | None] = no_mark
        """Each node's doctor mark, if it has one."""
        self._drawn: dict[tuple[int, object, int], Drawn] = {}

    def drawn(
        self,
        index: int,
        key: object,
        view: NodeView,
        details: tuple[str, ...],
        width: int,
        console: Console,
    ) -> Drawn:
        """Column `index` as `key` says, at `width`: raw, on the table's style, cells needed."""
        # Ages and phis repeat across rows and ticks: most cells are drawn once.
        found = self._drawn.get((index, key, width))
        if found is None:
            if len(self._drawn) > DRAWN_CELLS:
                self._drawn.clear()
            column = COLUMN_KEYS[index]
            text = self.cell(column, view, details)
            needed = text.cell_len
            raw = fit(cut_middle(text, width) if column == "name" else text, width, console)
            styled = list(Segment.simplify(Segment.apply_style(raw, self._style(""))))
            found = self._drawn[index, key, width] = (raw, styled, needed)
        return found

    def forget_drawn(self) -> None:
        """Draw every cell anew (the theme changed)."""
        self._drawn.clear()

    @staticmethod
    def zone(v: NodeView) -> NodeState:
        return v.zone

    @staticmethod
    def filled(v: NodeView) -> int:
        return min(BAR_CELLS, round(v.age / v.stale_after * BAR_CELLS)) if v.stale_after else 0

    def keys(self, v: NodeView, details: tuple[str, ...]) -> list[object]:
        """What each cell shows, cheaply, in column order: a cell is redrawn if its key changes."""
        return [
            v.state,
            (v.name, v.is_self),
            (format_age(v.age), self.zone(v), self.filled(v)),
            v.beats,
            (f"{v.interval:.1f}", v.interval_estimated, f"{v.jitter:.2f}"),
            f"{min(v.phi, 99.9):.1f}",
            (v.pids, details, v.duplicate, self.marks(v.name)),
            int(v.first_seen),
            int(v.state_since),
        ]

    def cell(self, column: str, v: NodeView, details: tuple[str, ...]) -> Text:
        dim = self._style("dim")
        if column == "state":
            return Text(f"{GLYPHS[v.state]} {v.state.value}", style=self._style(v.state.value))
        if column == "name":
            if v.is_self:
                name = Text("★ ", style=self._style("self"))
                name.append(plain(v.name, style=self._style("self")))
                return name
            if mixed_scripts(v.name):
                # Letters of two scripts: it can pass for another node's name (а vs a).
                name = Text(f"{CONFUSABLE} ", style=self._style("duplicate"))
                name.append(plain(v.name))
                return name
            return plain(v.name)
        if column == "age":
            filled = self.filled(v)
            bar = Text(no_wrap=True)
            bar.append("█" * filled, style=Style(color=self._style(self.zone(v).value).color))
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
            mark = self.marks(v.name)
            if mark is not None:
                text.append(f"{mark[0]} ", style=self._style(MARK_STYLES[mark[1]]))
            if v.duplicate:
                text.append("DUP ", style=self._style("duplicate"))
            text.append(", ".join(map(str, v.pids)))
            if details:
                text.append(" " + cells("; ".join(details)), style=dim)
            return text
        if column == "first":
            return Text(clock_time(v.first_seen), style=dim)
        return Text(clock_time(v.state_since), style=dim)
