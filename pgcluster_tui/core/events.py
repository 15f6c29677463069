"""Facts the core reports, as frozen dataclasses named in the past tense."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar


class NodeState(StrEnum):
    """How fresh a node's heartbeat is, from best to worst."""

    NEW = "new"
    ALIVE = "alive"
    LATE = "late"
    SUSPECT = "suspect"
    STALE = "stale"

    @property
    def severity(self) -> int:
        """Order from best (0) to worst."""
        return _SEVERITY[self]


_SEVERITY = {
    NodeState.NEW: 0,
    NodeState.ALIVE: 0,
    NodeState.LATE: 1,
    NodeState.SUSPECT: 2,
    NodeState.STALE: 3,
}


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, at a wall-clock time in epoch seconds."""

    kind: ClassVar[str] = "event"
    at: float

    def to_json(self) -> dict[str, Any]:
        """Return the stable NDJSON shape: `event`, ISO 8601 `at`, then the fields."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.pop("at")
        out: dict[str, Any] = {"event": self.kind, "at": iso(self.at)}
        for key, value in fields.items():
            if isinstance(value, tuple):
                value = list(value)
            out[key] = value
        return out


def iso(epoch: float) -> str:
    """Format epoch seconds as ISO 8601 UTC with milliseconds."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class NodeJoined(Event):
    """A node name was heard for the first time (or again after being forgotten)."""

    kind: ClassVar[str] = "node_joined"
    node: str
    pid: int
    is_self: bool = False


@dataclass(frozen=True, slots=True)
class NodeStateChanged(Event):
    """A node moved between freshness states."""

    kind: ClassVar[str] = "node_state_changed"
    node: str
    previous: NodeState
    state: NodeState
    age: float


@dataclass(frozen=True, slots=True)
class NodeRecovered(Event):
    """A stale node was heard again."""

    kind: ClassVar[str] = "node_recovered"
    node: str
    pid: int
    silent_for: float


@dataclass(frozen=True, slots=True)
class NodeReincarnated(Event):
    """A known name arrived from a new backend: the node (or its connection) restarted."""

    kind: ClassVar[str] = "node_reincarnated"
    node: str
    pid: int
    previous_pid: int


@dataclass(frozen=True, slots=True)
class DuplicateNameDetected(Event):
    """Two live backends announce the same node name."""

    kind: ClassVar[str] = "duplicate_name"
    node: str
    pids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DuplicateNameCleared(Event):
    """Only one backend still announces a name that had duplicates."""

    kind: ClassVar[str] = "duplicate_cleared"
    node: str
    pid: int


@dataclass(frozen=True, slots=True)
class NodeForgotten(Event):
    """A node was removed by the user; it comes back if it beats again."""

    kind: ClassVar[str] = "node_forgotten"
    node: str


@dataclass(frozen=True, slots=True)
class NodeEvicted(Event):
    """A node was dropped to keep the table within its cap."""

    kind: ClassVar[str] = "node_evicted"
    node: str
    state: NodeState


@dataclass(frozen=True, slots=True)
class JunkReceived(Event):
    """A payload that is not a node name; `payload` is cut to a bounded preview."""

    kind: ClassVar[str] = "junk_received"
    payload: str
    reason: str
    length: int
    pid: int


@dataclass(frozen=True, slots=True)
class JunkSuppressed(Event):
    """Junk payloads left out of the event stream by the rate limit."""

    kind: ClassVar[str] = "junk_suppressed"
    count: int


@dataclass(frozen=True, slots=True)
class Connecting(Event):
    """The worker is opening its connections."""

    kind: ClassVar[str] = "connecting"
    target: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Connected(Event):
    """Both connections are open and the listener has run LISTEN."""

    kind: ClassVar[str] = "connected"
    target: str
    server_version: str
    user: str
    listener_pid: int
    sender_pid: int


@dataclass(frozen=True, slots=True)
class Disconnected(Event):
    """The connection was lost or could not be opened; `final` when no retry can help."""

    kind: ClassVar[str] = "disconnected"
    reason: str
    final: bool = False


@dataclass(frozen=True, slots=True)
class RetryScheduled(Event):
    """The next connection attempt (number `attempt`) is due in `delay` seconds."""

    kind: ClassVar[str] = "retry_scheduled"
    delay: float
    attempt: int

    @property
    def retry_at(self) -> float:
        """When the next attempt starts, in epoch seconds."""
        return self.at + self.delay


@dataclass(frozen=True, slots=True)
class HeartbeatSent(Event):
    """We sent a node name on the channel."""

    kind: ClassVar[str] = "heartbeat_sent"
    node: str
    manual: bool
    next_at: float | None = None
    """When the next periodic beat is due (None: not heartbeating)."""


@dataclass(frozen=True, slots=True)
class HeartbeatToggled(Event):
    """We started (a full peer) or stopped (an observer) sending our name every interval."""

    kind: ClassVar[str] = "heartbeat_toggled"
    on: bool


@dataclass(frozen=True, slots=True)
class SendFailed(Event):
    """A heartbeat or announce could not be sent."""

    kind: ClassVar[str] = "send_failed"
    node: str
    reason: str
    next_at: float | None = None  # for a periodic beat, when the next is due


@dataclass(frozen=True, slots=True)
class ProbeMeasured(Event):
    """Our side-channel probe came back: the listener receives, with this round trip."""

    kind: ClassVar[str] = "probe_measured"
    rtt_ms: float


@dataclass(frozen=True, slots=True)
class ListenerSilent(Event):
    """Our probes stopped coming back: LISTEN is not receiving (pooler or replica?)."""

    kind: ClassVar[str] = "listener_silent"
    silent_for: float


@dataclass(frozen=True, slots=True)
class ListenerBehind(Event):
    """Our probe is late while notifications keep arriving: behind a backlog, not lost."""

    kind: ClassVar[str] = "listener_behind"
    late_for: float
    read_since: int


@dataclass(frozen=True, slots=True)
class ListenerHealthy(Event):
    """Probes come back again after a silence."""

    kind: ClassVar[str] = "listener_healthy"
    rtt_ms: float


@dataclass(frozen=True, slots=True)
class QueueUsageMeasured(Event):
    """The server's notification queue usage, 0.0 to 1.0."""

    kind: ClassVar[str] = "queue_usage"
    usage: float


@dataclass(frozen=True, slots=True)
class SenderAttributed(Event):
    """What pg_stat_activity says about a backend that sent on the channel."""

    kind: ClassVar[str] = "sender_attributed"
    pid: int
    client_addr: str
    application_name: str
    usename: str
    backend_start: str


@dataclass(frozen=True, slots=True)
class BackendsChecked(Event):
    """Which of the backend pids asked about are still live sessions on the server."""

    kind: ClassVar[str] = "backends_checked"
    alive: tuple[int, ...]
    gone: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SenderChurning(Event):
    """A node's sender opens a new session for (almost) every beat: one fact, not a restart each."""

    kind: ClassVar[str] = "sender_churning"
    node: str
    sessions: int


@dataclass(frozen=True, slots=True)
class NameClaimedByOther(Event):
    """Another backend sends our own node name: two processes now claim it."""

    kind: ClassVar[str] = "name_claimed_by_other"
    node: str
    pid: int


@dataclass(frozen=True, slots=True)
class NamingMismatch(Event):
    """The nodes heard use short names (`app@host`) while ours is long, or the reverse."""

    kind: ClassVar[str] = "naming_mismatch"
    node: str
    ours: str


@dataclass(frozen=True, slots=True)
class StallDetected(Event):
    """Our own process did not run for a while (stopped, paused VM): treated as an outage."""

    kind: ClassVar[str] = "stall_detected"
    stalled_for: float


@dataclass(frozen=True, slots=True)
class NodesNotTracked(Event):
    """New names heard while at max_nodes with no node that may be evicted; counted, not kept."""

    kind: ClassVar[str] = "nodes_not_tracked"
    count: int
    total: int


@dataclass(frozen=True, slots=True)
class NotificationsDropped(Event):
    """Notifications the worker read but dropped because nobody consumed them in time."""

    kind: ClassVar[str] = "notifications_dropped"
    count: int


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification as received on the cluster channel (an input, not an event)."""

    payload: str
    pid: int
    at: float


@dataclass(frozen=True, slots=True)
class Heard:
    """Notifications read from the cluster channel at one instant, counted by (payload, pid).

    The mapping keeps first-arrival order; identical notifications in one read are one entry.
    """

    at: float
    counts: Mapping[tuple[str, int], int]

    @property
    def total(self) -> int:
        """How many notifications this holds."""
        return sum(self.counts.values())

    def notifications(self) -> list[Notification]:
        """The same notifications one by one."""
        at = self.at
        return [
            Notification(payload, pid, at)
            for (payload, pid), count in self.counts.items()
            for _ in range(count)
        ]


Fact = Heard | Notification | Event
"""What a fact source reports: notifications heard on the cluster channel, or an event."""

MEMBERSHIP_EVENTS: tuple[type[Event], ...] = (
    NodeJoined,
    NodeStateChanged,
    NodeRecovered,
    NodeReincarnated,
    DuplicateNameDetected,
    DuplicateNameCleared,
    NodeForgotten,
    NodeEvicted,
    JunkReceived,
    JunkSuppressed,
    SenderChurning,
    NameClaimedByOther,
    NamingMismatch,
    NodesNotTracked,
)
