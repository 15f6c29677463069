"""How states, ages and times read, the same on every surface (terminal, lines, exports)."""

from __future__ import annotations

import time

from pgcluster_tui.core.events import Event, NodeState, NodeStateChanged, iso

GLYPHS = {
    NodeState.NEW: "◇",
    NodeState.ALIVE: "●",
    NodeState.LATE: "◔",
    NodeState.SUSPECT: "◑",
    NodeState.STALE: "✕",
}
"""A glyph per state, so state never rests on colour alone."""

__all__ = ["GLYPHS", "clock_time", "format_age", "format_seconds", "iso", "plural"]


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


def format_seconds(seconds: float) -> str:
    """Seconds with at most three decimals and no trailing zeros: 2, 0.25, 1.333."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def clock_time(epoch: float) -> str:
    """Local wall-clock time of day, HH:MM:SS."""
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def plural(count: int, noun: str) -> str:
    """`1 node`, `2 nodes`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def confirms(event: Event) -> bool:
    """Whether the event is a new node's second beat: expected, not news (the table shows it)."""
    return isinstance(event, NodeStateChanged) and (event.previous, event.state) == (
        NodeState.NEW,
        NodeState.ALIVE,
    )
