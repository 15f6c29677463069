"""One node as the model keeps it: its beats, its backend sessions, and its snapshot."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field

from pgcluster_tui.core.events import Event, NodeReincarnated, NodeState, SenderChurning

NO_SESSION = -1
"""`Node.session` of our own name before our own sender was heard under it."""

PIDS_PER_NODE = 8
"""Backends remembered per name: enough for duplicates, bounded against a churning sender."""

OUTLIER_FACTOR = 4.0
"""A gap over this many mean gaps is a silence, not a new interval (unless three in a row)."""

CHURN_SESSIONS = 2
"""One-beat sessions in a row that make a sender churning."""

SETTLED_BEATS = 3
"""Beats after which a session is no longer churn: the sender has settled."""


@dataclass(frozen=True, slots=True)
class NodeView:
    """An immutable snapshot of one node at one instant."""

    name: str
    is_self: bool
    state: NodeState
    state_since: float
    first_seen: float
    last_beat: float
    age: float
    beats: int
    interval: float
    interval_estimated: bool
    jitter: float
    phi: float
    pids: tuple[int, ...]
    """Backends heard recently, latest first; the last one known if none is."""
    duplicate: bool
    late_after: float
    suspect_after: float
    stale_after: float
    sessions: int = 0
    """Backend sessions that replaced a closed one under this name."""
    churning: bool = False
    """The sender opens a new session for (almost) every beat."""
    claimed_by_other: bool = False
    """Our own name, sent by a backend that is not ours."""
    zone: NodeState = NodeState.ALIVE
    """The state its age alone calls for now (the table's age bar; the state moves on ticks)."""


@dataclass(slots=True)
class Node:
    """What the model keeps about one node name; changed only by the model."""

    name: str
    first_seen: float
    age_from: float
    pid: int
    """The backend of the latest beat."""
    session: int
    """The backend of the current session (never one that claims our name)."""
    own_name: bool = False
    """The name is ours: never evicted, never an estimated interval (manual announces)."""
    is_self: bool = False
    """Our own sender was heard under this name."""
    once: bool = True
    """Heard at one instant only, so far."""
    last_beat: float = 0.0
    state: NodeState = NodeState.NEW
    state_since: float = 0.0
    beats: int = 1
    session_from: int = 0
    """`beats` when the current session began."""
    gaps: int = 0
    mean_gap: float = 0.0
    gap_deviation: float = 0.0
    outliers: int = 0
    duplicate: bool = False
    due: float = math.inf
    pending: int | None = None
    """The previous session's backend, while it is unknown whether it closed."""
    pending_since: float = 0.0
    pending_beats: int = 0
    pending_due: float = math.inf
    sessions: int = 0
    """Backends replaced under this name after they closed."""
    churn_run: int = 0
    """One-beat sessions replaced in a row."""
    churning: bool = False
    """SenderChurning was reported and no session has settled since."""
    pid_last: dict[int, float] = field(default_factory=dict)

    def learn_gap(self, gap: float) -> None:
        """Fold one gap between beats into the interval and jitter estimates."""
        # Smoothed mean and mean deviation, as TCP estimates round trips (RFC 6298);
        # a gap over 4x the mean is an outlier (a silence), unless three come in a row.
        if self.gaps >= 2 and gap > OUTLIER_FACTOR * self.mean_gap:
            self.outliers += 1
            if self.outliers < 3:
                return
            self.gaps, self.outliers = 0, 0
        self.outliers = 0
        n = self.gaps
        if n == 0:
            self.mean_gap, self.gap_deviation = gap, 0.0
        else:
            # Plain averages over the first gaps, so a regular sender shows no jitter at once.
            self.gap_deviation += max(1 / n, 0.25) * (abs(gap - self.mean_gap) - self.gap_deviation)
            self.mean_gap += max(1 / (n + 1), 0.125) * (gap - self.mean_gap)
        self.gaps += 1

    def remember(self, pid: int, now: float) -> None:
        """Record a beat from `pid`, keeping a bounded number of backends."""
        pid_last = self.pid_last
        pid_last[pid] = now
        if len(pid_last) > PIDS_PER_NODE:
            del pid_last[min(pid_last, key=pid_last.__getitem__)]

    def live_pids(self, now: float, window: float) -> tuple[int, ...]:
        """Backends heard within `window` seconds, latest first."""
        if len(self.pid_last) == 1:
            ((pid, last),) = self.pid_last.items()
            return (pid,) if now - last <= window else ()
        live = [(t, p) for p, t in self.pid_last.items() if now - t <= window]
        return tuple(p for _, p in sorted(live, reverse=True))

    def session_beats(self) -> int:
        """Beats heard from the current session."""
        return self.beats - self.session_from

    def begin_session(self, pid: int) -> None:
        """Make `pid` the current session, before its first beat is counted."""
        self.session, self.session_from = pid, self.beats

    def end_previous_session(self, now: float) -> Event | None:
        """The previous session closed: count it, learn its gap, and say what it was."""
        previous, self.pending, self.pending_due = self.pending, None, math.inf
        assert previous is not None
        last = self.pid_last.pop(previous, None)
        self.sessions += 1
        if last is not None and not self.own_name and self.pending_since >= last:
            # Per name across sessions: a sender with a new session per beat has an interval too.
            self.learn_gap(self.pending_since - last)
        if self.pending_beats <= 1:
            self.churn_run += 1
            if self.churn_run >= CHURN_SESSIONS and not self.churning:
                self.churning = True
                return SenderChurning(now, self.name, self.sessions)
            return None
        self.churn_run = 0
        if self.pending_beats >= SETTLED_BEATS:
            self.churning = False
        return None if self.churning else NodeReincarnated(now, self.name, self.session, previous)

    def churning_now(self) -> bool:
        """Whether the sender churns: flagged, and the current session has not settled."""
        return self.churning and self.session_beats() < SETTLED_BEATS


def long_name(name: str) -> bool:
    """Whether a node name is a long name (`app@10.0.0.5`, `app@host.example.com`, `app@::1`)."""
    host = name.partition("@")[2]
    if "." in host:
        return True
    if ":" not in host:
        return False
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True
