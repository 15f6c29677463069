"""Toasts for what must not be missed in the log: a filling queue, our name taken."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pgcluster_tui.core.events import Event, NameClaimedByOther, QueueUsageMeasured
from pgcluster_tui.tui.text import cells

QUEUE_LOUD = 0.05
"""Queue usage above which we shout: a stuck listener is filling it."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One toast."""

    title: str
    message: str
    severity: Literal["information", "warning", "error"]


class Alerts:
    """Turns events into toasts, each condition once until it clears."""

    def __init__(self) -> None:
        self._queue_loud = False

    def raised(self, events: Iterable[Event]) -> list[Alert]:
        """The toasts these events call for."""
        out: list[Alert] = []
        for event in events:
            if isinstance(event, QueueUsageMeasured):
                loud = event.usage > QUEUE_LOUD
                if loud and not self._queue_loud:
                    out.append(
                        Alert(
                            "Notification queue",
                            f"The server's notification queue is {event.usage:.1%} full: a "
                            "listener somewhere is not reading. When it fills, every NOTIFY fails.",
                            "warning",
                        )
                    )
                self._queue_loud = loud
            elif isinstance(event, NameClaimedByOther):
                out.append(
                    Alert(
                        "Our name is taken",
                        f"Backend pid {event.pid} sends our own node name {cells(event.node)}: "
                        "two processes now claim it, and every node will connect to either.",
                        "error",
                    )
                )
        return out
