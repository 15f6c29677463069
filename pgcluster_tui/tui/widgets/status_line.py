"""The status line: connection, channel, our node and mode, counts, probe and queue health."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from pgcluster_tui.core.events import (
    BackendsChecked,
    Event,
    HeartbeatSent,
    NodeState,
    ProbeMeasured,
    QueueUsageMeasured,
    RetryScheduled,
    SenderAttributed,
)
from pgcluster_tui.core.format import GLYPHS, clock_time, format_age, plural
from pgcluster_tui.core.link import LinkState
from pgcluster_tui.tui.alerts import QUEUE_LOUD
from pgcluster_tui.tui.text import cells

STATUS_ONLY = (
    ProbeMeasured,
    QueueUsageMeasured,
    HeartbeatSent,
    RetryScheduled,
    SenderAttributed,
    BackendsChecked,
)
"""Events that change only the status line (or nothing shown), not the table."""

TICK_SHOWS = (ProbeMeasured, QueueUsageMeasured, SenderAttributed, BackendsChecked)
"""Events that only move a figure: the next 1 Hz tick shows them, no frame of their own."""


def worth_a_frame(event: Event) -> bool:
    """Whether a status-only event should be shown before the next tick (it logs a line)."""
    if isinstance(event, HeartbeatSent):
        return event.manual
    return not isinstance(event, TICK_SHOWS)


@dataclass(slots=True)
class Status:
    """Everything the status line shows, at one instant."""

    link: LinkState
    channel: str
    node: str
    now: float
    counts: Counter[NodeState] = field(default_factory=Counter)
    paused: bool = False
    filter_text: str = ""
    sort_label: str = "state"
    reverse: bool = False
    embedded: bool = False
    failure: str | None = None
    untracked: int = 0
    """Names heard at max_nodes that nothing could make room for."""


def countdown(at: float, now: float) -> str:
    """Whole seconds until `at`, never below zero."""
    return f"{max(0, math.ceil(at - now - 1e-9))}s"


def not_connected(link: LinkState) -> str:
    """Why we cannot send now, in one line."""
    if link.phase == "connecting":
        return "Still connecting to the database: try again in a moment."
    if link.phase == "stopped":
        return "The channel worker has stopped: nothing can be sent any more."
    why = (
        f"Not connected to the database ({cells(link.reason)})" if link.reason else "Not connected"
    )
    if link.retry_at is not None:
        return f"{why}; the next attempt is at {clock_time(link.retry_at)}."
    return f"{why}."


class StatusLine(Widget):
    """Two lines at the top: where we are connected and how the channel is doing.

    A Line API widget: each line is cut to the width once per change, and only a line that
    changed is redrawn (the countdown at each tick, the counts as nodes come and go).
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-line--ok",
        "status-line--warn",
        "status-line--bad",
        "status-line--dim",
        "status-line--badge",
        "status-line--new",
        "status-line--alive",
        "status-line--late",
        "status-line--suspect",
        "status-line--stale",
    }

    _shown: Text | None = None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[Text] = []
        self._strips: list[Strip | None] = []
        """Each line cut to `_cut_width`; None until it is drawn again."""
        self._cut_width = -1
        self._styles: dict[str, Style] = {}

    def show(self, status: Status) -> None:
        """Redraw from a status snapshot: only the lines that changed."""
        text = self.render_status(status)
        if text == self._shown:
            return
        self._shown = text
        old, self._lines = self._lines, list(text.split("\n"))
        kept = self._strips
        self._strips = [None] * len(self._lines)
        # The height is fixed in the stylesheet, so no layout pass is needed.
        for y in range(max(len(old), len(self._lines))):
            if old[y : y + 1] == self._lines[y : y + 1] and y < len(kept):
                self._strips[y] = kept[y]
            else:
                self.refresh(Region(0, y, self.size.width, 1))

    def render(self) -> Text:
        """The two lines as text (what the widget shows, uncut)."""
        return self._shown if self._shown is not None else Text()

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        if width != self._cut_width:
            self._strips, self._cut_width = [None] * len(self._lines), width
        if y >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        strip = self._strips[y]
        if strip is None:
            strip = self._strips[y] = self._cut(self._lines[y], width)
        return strip

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cut_width = -1  # the base style may have changed (a theme)
        self._styles.clear()

    def _cut(self, line: Text, width: int) -> Strip:
        base = self.rich_style
        line = line.copy()
        line.truncate(width, overflow="ellipsis")
        return (
            Strip(line.render(self.app.console, end=""))
            .apply_style(base)
            .crop_extend(0, width, base)
        )

    def render_status(self, s: Status) -> Text:
        """Build the two lines; every outside string goes in literally."""
        ok, warn, bad, dim = (self._style(n) for n in ("ok", "warn", "bad", "dim"))
        link = s.link
        text = Text(no_wrap=True, overflow="ellipsis")
        where = "embedded server" if s.embedded else cells(link.target) or "the database"
        if link.phase == "connected":
            text.append("● connected ", style=ok)
            text.append(where)
            if link.server_version:
                text.append(f" · PG {cells(link.server_version)}", style=dim)
        elif link.phase == "connecting":
            text.append("◌ connecting ", style=warn)
            text.append(where)
            if link.attempt > 1:
                text.append(f" (attempt {link.attempt})", style=dim)
        elif s.failure is not None:
            text.append("✕ stopped: ", style=bad)
            text.append(cells(s.failure), style=bad)
        elif link.phase == "stopped":
            text.append("○ stopped", style=dim)
        else:
            text.append("✕ disconnected", style=bad)
            if link.retry_at is not None:
                text.append(f" · retry in {countdown(link.retry_at, s.now)}", style=warn)
                text.append(f" (attempt {link.attempt})", style=dim)
            if link.reason:
                text.append(" · ", style=dim)
                text.append(cells(link.reason), style=bad)
            text.append(" · ", style=dim)
            text.append(where)
        text.append(" · channel ", style=dim)
        text.append(cells(s.channel))
        text.append(" · node ", style=dim)
        text.append(cells(s.node))
        if link.heartbeat:
            text.append(" heartbeating", style=ok)
            if link.next_beat_at is not None and link.phase == "connected":
                text.append(f", next in {countdown(link.next_beat_at, s.now)}")
        else:
            text.append(" observing", style=dim)
        text.append("\n")
        if s.paused:
            # First, so no width cuts it off: the counts and the table are held.
            text.append(" PAUSED ", style=self._style("badge"))
            text.append(" ")
        text.append(plural(sum(s.counts.values()), "node"))
        for state in NodeState:
            if s.counts[state]:
                text.append(" ")
                text.append(f"{GLYPHS[state]}{s.counts[state]} {state.value}", self._style(state))
        text.append(" │ ", style=dim)
        if link.listener_silent:
            text.append("probe LOST", style=bad)
        elif link.listener_behind is not None:
            behind = link.listener_behind
            late = s.now - behind.at + behind.late_for
            text.append(f"probe BEHIND {format_age(late)}", style=warn)
        elif link.rtt_ms is not None:
            text.append(f"probe {link.rtt_ms:.1f}ms")
        else:
            text.append("probe –", style=dim)
        text.append(f" · reconnects {link.reconnects}", style=bad if link.reconnects else "")
        if link.queue_usage is not None:
            if link.queue_usage > QUEUE_LOUD:
                text.append(f" · QUEUE {link.queue_usage:.1%} FULL", style=bad)
            else:
                text.append(f" · queue {link.queue_usage:.1%}", style=dim)
        if s.untracked:
            # After the probe: a flood's count must not push the listener's health off the line.
            text.append(f" · cap reached: {s.untracked} not tracked", style=bad)
        if s.sort_label != "state" or s.reverse:
            arrow = "↑" if s.reverse else "↓"
            text.append(f" · sort {s.sort_label} {arrow}", style=dim)
        if s.filter_text:
            text.append(" · filter ", style=dim)
            text.append(cells(s.filter_text), style=warn)
        return text

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.get_component_rich_style(
                f"status-line--{name}", partial=True
            )
        return style
