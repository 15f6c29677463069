"""The event log: bounded, timestamped, coloured by kind, following the newest line."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
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
from pgcluster_tui.core.format import clock_time, format_age
from pgcluster_tui.core.text import visible

BURST_LINES = 200
"""At most this many lines are written for one batch of events."""

JUNK_SHOWN_CHARS = 120
"""How much of a junk payload one log line shows."""


def describe(event: Event) -> tuple[str, str] | None:
    """The log kind and line for an event, or None for events the log does not show."""
    match event:
        case NodeJoined(node=node, pid=pid, is_self=is_self):
            us = " (us)" if is_self else ""
            return "joined", f"joined     {visible(node)}{us} from pid {pid}"
        case NodeStateChanged(node=node, state=NodeState.ALIVE, age=age):
            return "recovered", f"alive      {visible(node)} after {format_age(age)}"
        case NodeStateChanged(node=node, state=state, age=age):
            return state.value, f"{state.value:<10} {visible(node)} silent for {format_age(age)}"
        case NodeRecovered(node=node, pid=pid, silent_for=silent):
            return "recovered", f"recovered  {visible(node)} pid {pid} after {format_age(silent)}"
        case NodeReincarnated(node=node, pid=pid, previous_pid=previous):
            return "incarnation", f"restarted  {visible(node)}: new backend pid {previous} → {pid}"
        case DuplicateNameDetected(node=node, pids=pids):
            senders = ", ".join(str(p) for p in pids)
            return "duplicate", f"duplicate  {visible(node)} is sent by pids {senders}"
        case DuplicateNameCleared(node=node, pid=pid):
            return "recovered", f"unique     {visible(node)} only pid {pid} is left"
        case NodeForgotten(node=node):
            return "forgotten", f"forgotten  {visible(node)}"
        case NodeEvicted(node=node, state=state):
            return "forgotten", f"evicted    {visible(node)} ({state.value}) over the node cap"
        case JunkReceived(payload=payload, reason=reason, length=length, pid=pid):
            shown = visible(payload[:JUNK_SHOWN_CHARS])
            more = "…" if length > JUNK_SHOWN_CHARS else ""
            return "junk", f"junk       pid {pid} sent {length} chars ({reason}): {shown}{more}"
        case JunkSuppressed(count=count):
            return "junk", f"junk       {count} more junk payloads not shown"
        case Connecting(target=target, attempt=attempt):
            return "connection", f"connecting to {visible(target)} (attempt {attempt})"
        case Connected(target=target, server_version=version):
            return "connection", f"connected  {visible(target)}, PostgreSQL {visible(version)}"
        case Disconnected(reason=reason):
            return "problem", f"disconnected: {visible(reason)}"
        case HeartbeatSent(node=node, manual=True):
            return "connection", f"announced  {visible(node)}"
        case SendFailed(node=node, reason=reason):
            return "problem", f"send failed for {visible(node)}: {visible(reason)}"
        case ListenerSilent(silent_for=silent):
            return "problem", (
                f"listener silent for {format_age(silent)}: our probes do not come back "
                "(a transaction-mode pooler or a hot standby?)"
            )
        case NotificationsDropped(count=count):
            return "problem", (
                f"dropped {count} notifications: they arrived faster than the view could take them"
            )
        case ListenerHealthy(rtt_ms=rtt):
            return "recovered", f"listener receives again (probe {rtt:.1f} ms)"
        case SenderChurning(node=node, sessions=sessions):
            return "incarnation", (
                f"churning   {visible(node)} opens a new session for every beat "
                f"({sessions} sessions so far; not a restart)"
            )
        case NameClaimedByOther(node=node, pid=pid):
            return "duplicate", f"OUR NAME   {visible(node)} is also sent by pid {pid}"
        case NamingMismatch(node=node, ours=ours):
            return "problem", (
                f"naming     {visible(node)} and our {visible(ours)} differ in short/long names: "
                "such nodes never connect to each other"
            )
        case StallDetected(stalled_for=gap):
            return (
                "problem",
                f"stalled    this process did not run for {format_age(gap)}; ages held",
            )
        case NodesNotTracked(count=count, total=total):
            return "problem", (
                f"node cap   {count} new names not tracked ({total} in all): raise max_nodes"
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
        text.append(visible(message), style=self._style("note"))
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
                f"… {index} earlier events in this burst (watch --json lists all)",
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
        follow = self.is_vertical_scroll_end
        # Wrap at our own width: left alone, RichLog measures against the console's width.
        width = self.scrollable_content_region.width or None
        for text in lines:
            self.write(text, width=width, scroll_end=False)
        if follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def _style(self, kind: str) -> Style:
        return self.get_component_rich_style(f"event-log--{kind}", partial=True)
