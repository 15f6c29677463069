"""The event log: bounded, timestamped, coloured by kind, following the newest line."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.widgets import RichLog

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
from pgcluster_tui.core.format import clock_time, format_age, plural
from pgcluster_tui.tui.text import cells

BURST_LINES = 200
"""At most this many lines are written for one batch of events, and in one frame."""

REWRAP_LINES = 5000
"""Logs up to this size are wrapped again on resize (about 70 ms a thousand lines); a bigger
one keeps its lines as wrapped, cut at the right edge when the terminal narrows."""

JUNK_SHOWN_CHARS = 120
"""How much of a junk payload one log line shows."""


def describe(event: Event) -> tuple[str, str] | None:
    """The log kind and line for an event, or None for events the log does not show."""
    match event:
        case NodeJoined(node=node, pid=pid, is_self=is_self):
            us = " (us)" if is_self else ""
            return "joined", f"joined     {cells(node)}{us} from pid {pid}"
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


class EventLog(RichLog):
    """What happened on the channel; follows the newest line unless scrolled up."""

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
        super().__init__(id=id, max_lines=size, wrap=True, markup=False, auto_scroll=False)
        self.capacity = size
        self.paused = False
        self._held: deque[Text] = deque(maxlen=size)
        self._pending: deque[Text] = deque(maxlen=size)
        self._written: deque[Text] = deque(maxlen=size if size <= REWRAP_LINES else 0)
        """Every line shown, unwrapped: wrapped again when the width changes."""
        self._wrapped_at = 0
        self.following = True
        """Whether the newest line is kept in view (until the user scrolls up)."""

    def line(self, event: Event) -> Text | None:
        """Render one event as a log line, or None if the log does not show it."""
        described = describe(event)
        if described is None:
            return None
        kind, message = described
        text = Text()
        text.append(clock_time(event.at), style=self._style("time"))
        text.append(" ")
        text.append(message, style=self._style(kind))
        return text

    def note(self, at: float, message: str) -> None:
        """Log a line of our own (an action the user took); shown at the next flush."""
        text = Text()
        text.append(clock_time(at), style=self._style("time"))
        text.append(" ")
        text.append(cells(message), style=self._style("note"))
        self._write([text])

    def add(self, events: Sequence[Event]) -> None:
        """Log the events the log shows (at the next flush); a burst is cut to its last lines."""
        keep = min(self.capacity, BURST_LINES)
        lines: list[Text] = []
        index = len(events)
        while index and len(lines) < keep:
            index -= 1
            line = self.line(events[index])
            if line is not None:
                lines.append(line)
        lines.reverse()
        if index:
            # Rendering thousands of lines at once would stall the screen; count them instead.
            summary = Text()
            summary.append(clock_time(events[index].at), style=self._style("time"))
            summary.append(" ")
            summary.append(
                f"… {plural(index, 'earlier event')} in this burst (watch --json lists all)",
                style=self._style("note"),
            )
            lines.insert(0, summary)
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
        self._written.clear()
        super().clear()
        return self

    def _write(self, lines: list[Text]) -> None:
        (self._held if self.paused else self._pending).extend(lines)

    def flush(self) -> None:
        """Write the lines added since the last frame: one repaint for all of them."""
        if not self._pending:
            return
        lines = list(self._pending)
        self._pending.clear()
        if len(lines) > BURST_LINES:
            # Several bursts between two frames: writing them all would stall this frame.
            skipped = len(lines) - BURST_LINES
            summary = Text()
            summary.append(lines[0].plain[:8], style=self._style("time"))
            summary.append(" ")
            summary.append(
                f"… {plural(skipped, 'earlier line')} of this burst (watch --json lists all)",
                style=self._style("note"),
            )
            lines = [summary, *lines[skipped:]]
        self._written.extend(lines)
        self._write_wrapped(lines)

    def _write_wrapped(self, lines: Iterable[Text]) -> None:
        following = self.following
        # Wrap at our own width: left alone, RichLog measures against the console's width.
        width = self._wrapped_at = self.scrollable_content_region.width
        for text in lines:
            self.write(text, width=width or None, scroll_end=False)
        self.following = following
        if following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def on_resize(self, event: events.Resize) -> None:
        # Lines wrapped for another width would be cut (narrower) or short (wider): wrap them
        # again, and keep following the newest line if we were. (RichLog's own handler runs
        # next, as Textual calls every class's.)
        width = self.scrollable_content_region.width
        if not self._wrapped_at:
            self._wrapped_at = width  # lines written before now are wrapped at this width
        elif self._written and width != self._wrapped_at:
            top = self.scroll_y
            RichLog.clear(self)
            self._write_wrapped(self._written)
            if not self.following:
                self.scroll_to(y=top, animate=False, immediate=True)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        # Only scrolling moves this: lines written below a reader who scrolled up do not.
        self.following = new >= self.max_scroll_y

    def _style(self, kind: str) -> Style:
        return self.get_component_rich_style(f"event-log--{kind}", partial=True)
