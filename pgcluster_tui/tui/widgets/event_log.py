"""The event log: bounded, timestamped, coloured by kind, following the newest line."""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip

from pgcluster_tui.core.events import (
    Connected,
    Connecting,
    Disconnected,
    DuplicateNameCleared,
    DuplicateNameDetected,
    Event,
    HeartbeatSent,
    HeartbeatToggled,
    JunkReceived,
    JunkSuppressed,
    ListenerBehind,
    ListenerHealthy,
    ListenerSilent,
    NameClaimedByOther,
    NamingMismatch,
    NodeEvicted,
    NodeForgotten,
    NodeJoined,
    NodeRecovered,
    NodeReincarnated,
    NodesNotTracked,
    NodeState,
    NodeStateChanged,
    NotificationsDropped,
    SenderChurning,
    SendFailed,
    StallDetected,
)
from pgcluster_tui.core.format import clock_time, confirms, format_age, plural
from pgcluster_tui.core.text import mixed_scripts
from pgcluster_tui.tui.text import cells
from pgcluster_tui.tui.widgets.scrolling import QuietScrollView, set_virtual_size

BURST_LINES = 200
"""At most this many lines are described for one batch of events; earlier ones are counted."""

TIME_CELLS = 9
"""The time and the space after it: continuation rows are indented past them."""

JUNK_SHOWN_CHARS = 120
"""How much of a junk payload one log line shows."""


def describe(event: Event) -> tuple[str, str] | None:
    """The log kind and line for an event, or None for events the log does not show."""
    match event:
        case NodeJoined(node=node, pid=pid, is_self=is_self):
            us = " (us)" if is_self else ""
            if mixed_scripts(node):
                us += " (CONFUSABLE: its letters mix scripts)"
            return "joined", f"joined     {cells(node)}{us} from pid {pid}"
        case NodeStateChanged() if confirms(event):
            return None  # a deploy of 100 nodes would log 100 of these after its 100 joins
        case NodeStateChanged(node=node, state=NodeState.ALIVE, age=age):
            return "recovered", f"alive      {cells(node)} after {format_age(age)}"
        case NodeStateChanged(node=node, state=state, age=age):
            return state.value, f"{state.value:<10} {cells(node)} silent for {format_age(age)}"
        case NodeRecovered(node=node, pid=pid, silent_for=silent):
            return "recovered", f"recovered  {cells(node)} pid {pid} after {format_age(silent)}"
        case NodeReincarnated(node=node, pid=pid, previous_pid=previous):
            return "incarnation", f"restarted  {cells(node)}: new backend pid {previous} → {pid}"
        case DuplicateNameDetected(node=node, pids=pids):
            senders = ", ".join(str(p) for p in pids)
            return "duplicate", f"duplicate  {cells(node)} is sent by pids {senders}"
        case DuplicateNameCleared(node=node, pid=pid):
            return "recovered", f"unique     {cells(node)} only pid {pid} is left"
        case NodeForgotten(node=node):
            return "forgotten", f"forgotten  {cells(node)}"
        case NodeEvicted(node=node, state=state):
            return "forgotten", f"evicted    {cells(node)} ({state.value}) over the node cap"
        case JunkReceived(payload=payload, reason=reason, length=length, pid=pid):
            shown = cells(payload[:JUNK_SHOWN_CHARS])
            more = "…" if length > JUNK_SHOWN_CHARS else ""
            sent = plural(length, "char")
            return "junk", f"junk       pid {pid} sent {sent} ({reason}): {shown}{more}"
        case JunkSuppressed(count=count):
            return "junk", f"junk       {plural(count, 'more junk payload')} not shown"
        case Connecting(target=target, attempt=attempt):
            return "connection", f"connecting to {cells(target)} (attempt {attempt})"
        case Connected(target=target, server_version=version):
            return "connection", f"connected  {cells(target)}, PostgreSQL {cells(version)}"
        case Disconnected(reason=reason):
            return "problem", f"disconnected: {cells(reason)}"
        case HeartbeatSent(node=node, manual=True):
            return "connection", f"announced  {cells(node)}"
        case SendFailed(node=node, reason=reason):
            return "problem", f"send failed for {cells(node)}: {cells(reason)}"
        case ListenerSilent(silent_for=silent):
            return "problem", (
                f"listener silent for {format_age(silent)}: our probes do not come back "
                "(a transaction-mode pooler or a hot standby?)"
            )
        case ListenerBehind(late_for=late, read_since=read):
            return "problem", (
                f"listener behind a backlog: our probe is {format_age(late)} late while "
                f"{plural(read, 'notification')} arrived since it was sent (late, not lost)"
            )
        case NotificationsDropped(count=count):
            return "problem", (
                f"dropped {plural(count, 'notification')}: they arrived faster than the view "
                "could take them"
            )
        case ListenerHealthy(rtt_ms=rtt):
            return "recovered", f"listener receives again (probe {rtt:.1f} ms)"
        case SenderChurning(node=node, sessions=sessions):
            return "incarnation", (
                f"churning   {cells(node)} opens a new session for every beat "
                f"({plural(sessions, 'session')} so far; not a restart)"
            )
        case NameClaimedByOther(node=node, pid=pid):
            return "duplicate", f"OUR NAME   {cells(node)} is also sent by pid {pid}"
        case NamingMismatch(node=node, ours=ours):
            return "problem", (
                f"naming     {cells(node)} and our {cells(ours)} differ in short/long names: "
                "such nodes never connect to each other"
            )
        case StallDetected(stalled_for=gap):
            return (
                "problem",
                f"stalled    this process did not run for {format_age(gap)}; ages held",
            )
        case NodesNotTracked(count=count, total=total):
            return "problem", (
                f"node cap   {plural(count, 'new name')} not tracked ({total} in all): "
                "raise max_nodes"
            )
        case HeartbeatToggled():
            return None
    return None


@dataclass(slots=True)
class Line:
    """One logged line: rendered only when on screen, at the width it is shown."""

    at: float
    kind: str
    message: str
    cells: int
    """Display width of the whole line, time included."""
    rows: list[Strip] = field(default_factory=list)
    width: int = 0
    """The width `rows` were cut for (0: not rendered)."""


class EventLog(QuietScrollView, can_focus=True):
    """What happened on the channel; follows the newest line unless scrolled up.

    Lines are kept as text and cut into rows only when they are on screen, so a burst costs a
    frame what it shows, not what it logs. Long lines wrap, continuation rows indented past
    the time.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "event-log--time",
        "event-log--joined",
        "event-log--late",
        "event-log--suspect",
        "event-log--stale",
        "event-log--recovered",
        "event-log--forgotten",
        "event-log--duplicate",
        "event-log--incarnation",
        "event-log--junk",
        "event-log--connection",
        "event-log--problem",
        "event-log--note",
    }

    def __init__(self, size: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.capacity = size
        self.paused = False
        self.following = True
        """Whether the newest line is kept in view (until the user scrolls up)."""
        self._held: deque[Line] = deque(maxlen=size)
        self._pending: list[Line] = []
        self._lines: list[Line] = []
        self._first = 0
        """Index in `_lines` of the oldest line kept (older ones await compaction)."""
        self._starts: list[int] = []
        """The first row of each of `_lines`, counted from the first line ever kept."""
        self._rows = 0
        """Rows of every line in `_lines`, dropped ones included."""
        self._width = 0
        self._styles: dict[str, Style] = {}

    # What is logged

    def line(self, event: Event) -> Line | None:
        """Describe one event as a log line, or None if the log does not show it."""
        described = describe(event)
        if described is None:
            return None
        kind, message = described
        return Line(event.at, kind, message, TIME_CELLS + cell_len(message))

    def note(self, at: float, message: str) -> None:
        """Log a line of our own (an action the user took); shown at the next flush."""
        shown = cells(message)
        self._write([Line(at, "note", shown, TIME_CELLS + cell_len(shown))])

    def add(self, events: Sequence[Event]) -> None:
        """Log the events the log shows (at the next flush); a burst is cut to its last lines."""
        keep = min(self.capacity, BURST_LINES)
        lines: list[Line] = []
        index = len(events)
        while index and len(lines) < keep:
            index -= 1
            line = self.line(events[index])
            if line is not None:
                lines.append(line)
        lines.reverse()
        if index:
            message = f"… {plural(index, 'earlier event')} in this burst (watch --json lists all)"
            lines.insert(0, Line(events[index].at, "note", message, TIME_CELLS + len(message)))
        self._write(lines)

    def hold(self, paused: bool) -> None:
        """Pause (hold new lines back) or resume (write what was held)."""
        self.paused = paused
        if not paused and self._held:
            self._pending.extend(self._held)
            self._held.clear()
            self.flush()

    def clear(self) -> EventLog:
        """Remove every line, held and pending ones too."""
        self._held.clear()
        self._pending.clear()
        self._lines, self._starts, self._first, self._rows = [], [], 0, 0
        self.following = True
        self._resize_virtual()
        self.refresh()
        return self

    def _write(self, lines: list[Line]) -> None:
        if self.paused:
            self._held.extend(lines)
        else:
            self._pending.extend(lines)

    def flush(self) -> None:
        """Show the lines added since the last frame: one repaint for all of them."""
        if not self._pending:
            return
        pending, self._pending = self._pending[-self.capacity :], []
        width = self._wrap_width()
        for line in pending:
            self._starts.append(self._rows)
            self._lines.append(line)
            self._rows += _rows_for(line.cells, width)
        excess = len(self._lines) - self._first - self.capacity
        if excess > 0:
            self._first += excess
            if self._first > len(self._lines) // 2:
                del self._lines[: self._first], self._starts[: self._first]
                self._first = 0
        self._resize_virtual()
        if self.following:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True, force=True)
        self.refresh()

    @property
    def lines(self) -> list[Strip]:
        """Every row of the log as drawn at the current width (renders all: for tests)."""
        width = self._wrap_width()
        return [row for line in self._kept() for row in self._rows_of(line, width)]

    # Layout

    def _kept(self) -> list[Line]:
        return self._lines[self._first :]

    def _wrap_width(self) -> int:
        # The scrollbar's column is always kept free: its coming and going must not rewrap.
        return max(TIME_CELLS + 10, self.size.width - 1)

    def _top(self) -> int:
        return self._starts[self._first] if self._first < len(self._starts) else self._rows

    def _resize_virtual(self) -> None:
        set_virtual_size(self, Size(self._wrap_width(), self._rows - self._top()))

    def on_resize(self) -> None:
        width = self._wrap_width()
        if width != self._width:
            self._width = width
            # Rows per line depend on the width: count them again (lines are cut when shown).
            following, top_line = self.following, self._line_at(int(self.scroll_y))
            self._starts, rows = [], 0
            for line in self._lines:
                self._starts.append(rows)
                rows += _rows_for(line.cells, width)
            self._rows = rows
            self._resize_virtual()
            if following:
                self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True, force=True)
            elif top_line is not None:
                top = self._starts[top_line] - self._top()
                self.scroll_to(y=top, animate=False, immediate=True, force=True)
            self.following = following

    def _line_at(self, row: int) -> int | None:
        """The index in `_lines` of the line drawn at `row` (0: the top of the log)."""
        absolute = self._top() + row
        if row < 0 or absolute >= self._rows:
            return None
        return bisect.bisect_right(self._starts, absolute, lo=self._first) - 1

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        # Only scrolling moves this: lines written below a reader who scrolled up do not.
        self.following = new >= self.max_scroll_y

    # Drawing

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row = int(self.scroll_y) + y
        index = self._line_at(row)
        if index is None:
            return Strip.blank(width, self.rich_style)
        line = self._lines[index]
        rows = self._rows_of(line, self._wrap_width())
        offset = self._top() + row - self._starts[index]
        if offset >= len(rows):
            return Strip.blank(width, self.rich_style)
        return rows[offset].extend_cell_length(width, self.rich_style)

    def _rows_of(self, line: Line, width: int) -> list[Strip]:
        if line.width != width:
            line.rows, line.width = self._cut(line, width), width
        return line.rows

    def _cut(self, line: Line, width: int) -> list[Strip]:
        base = self.rich_style
        text = Text()
        text.append(clock_time(line.at), style=self._style("time"))
        text.append(" ")
        text.append(line.message, style=self._style(line.kind))
        whole = Strip(text.render(self.app.console, end="")).apply_style(base)
        rows = [whole.crop_extend(0, width, base)]
        indent = Segment(" " * TIME_CELLS, base)
        step = width - TIME_CELLS
        for start in range(width, line.cells, step):
            rest = whole.crop(start, start + step)
            rows.append(Strip([indent, *rest]).extend_cell_length(width, base))
        return rows

    def notify_style_update(self) -> None:
        # Colours come from the theme: every line is cut again when next shown.
        super().notify_style_update()
        self._styles.clear()
        for line in self._lines:
            line.width = 0

    def _style(self, kind: str) -> Style:
        style = self._styles.get(kind)
        if style is None:
            style = self.get_component_rich_style(f"event-log--{kind}", partial=True)
            self._styles[kind] = style
        return style


def _rows_for(line_cells: int, width: int) -> int:
    """Rows a line of this display width takes when wrapped at `width`."""
    if line_cells <= width:
        return 1
    step = width - TIME_CELLS
    return 1 + -(-(line_cells - width) // step)
