"""The membership model: a pure reducer from notifications and clock ticks to events."""

from __future__ import annotations

import heapq
import math
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from pgcluster_tui.core.events import (
    BackendsChecked,
    DuplicateNameCleared,
    DuplicateNameDetected,
    Event,
    Heard,
    JunkReceived,
    JunkSuppressed,
    NodeEvicted,
    NodeForgotten,
    NodeJoined,
    NodeRecovered,
    NodeReincarnated,
    NodeState,
    NodeStateChanged,
    Notification,
    SenderAttributed,
)
from pgcluster_tui.core.protocol import Junk, classify

JUNK_PREVIEW_CHARS = 512
"""How much of a junk payload an event keeps."""

MIN_INTERVAL = 0.5
"""Floor on an estimated interval, so a flooding sender cannot make thresholds vanish."""

_PIDS_PER_NODE = 8
_SENDER_CACHE = 4096
_CLASSIFY_CACHE = 20_000
_OUTLIER_FACTOR = 4.0
_SEVERITY = {state: state.severity for state in NodeState}

SORT_ORDERS = ("state", "name", "age", "beats", "interval", "first", "since")
"""Orders `Membership.ordered` knows; each puts the notable nodes first."""

BEAT_ORDERS = frozenset({"age", "beats", "interval"})
"""Orders that any heartbeat can change; the others change only with the roster."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a silent node turns late, suspect and stale, as multiples of its interval."""

    interval: float = 5.0
    late: float = 1.5
    suspect: float = 3.0
    stale: float = 6.0

    def __post_init__(self) -> None:
        if not (self.interval > 0 and 1.0 <= self.late < self.suspect < self.stale):
            raise ValueError("thresholds need interval > 0 and 1 <= late < suspect < stale")


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
    duplicate: bool
    late_after: float
    suspect_after: float
    stale_after: float


@dataclass(slots=True)
class _Node:
    name: str
    is_self: bool
    first_seen: float
    last_beat: float
    age_from: float
    pid: int
    state: NodeState = NodeState.NEW
    state_since: float = 0.0
    beats: int = 1
    gaps: int = 0
    mean_gap: float = 0.0
    gap_deviation: float = 0.0
    outliers: int = 0
    duplicate: bool = False
    due: float = math.inf
    pid_last: dict[int, float] = field(default_factory=dict)


class Membership:
    """Who heartbeats on the channel, how fresh each node is, and what changed."""

    def __init__(
        self,
        thresholds: Thresholds | None = None,
        *,
        self_name: str | None = None,
        max_nodes: int = 10_000,
        junk_burst: int = 20,
    ) -> None:
        self.thresholds = thresholds or Thresholds()
        self.self_name = self_name
        self.max_nodes = max(1, max_nodes)
        self.junk_burst = junk_burst
        self.junk_counts: Counter[str] = Counter()
        self.beats_total = 0
        self.roster_version = 0
        """Bumped whenever a node joins, leaves, changes state or duplicate flag."""
        self.beat_version = 0
        """Bumped by every heartbeat."""
        self._nodes: dict[str, _Node] = {}
        self._counts: Counter[NodeState] = Counter()
        self._duplicates: set[str] = set()
        # Next state deadlines, (due, name), lazily corrected: a tick looks only at nodes due.
        self._due: list[tuple[float, str]] = []
        self._senders: OrderedDict[int, SenderAttributed] = OrderedDict()
        self._verdicts: dict[str, object] = {}
        self._frozen_at: float | None = None
        self._own_sender: int | None = None
        self._grace_until = -math.inf
        self._junk_window = -math.inf
        self._junk_in_window = 0
        self._junk_suppressed = 0

    # Input

    def observe(self, notification: Notification) -> list[Event]:
        """Apply one notification received on the cluster channel."""
        events: list[Event] = []
        self._observe(notification.payload, notification.pid, notification.at, events)
        return events

    def observe_many(self, notifications: Iterable[Notification]) -> list[Event]:
        """Apply a batch of notifications in order."""
        events: list[Event] = []
        observe = self._observe
        for n in notifications:
            observe(n.payload, n.pid, n.at, events)
        return events

    def observe_heard(self, heard: Heard) -> list[Event]:
        """Apply notifications read at one instant; identical ones are counted, not replayed."""
        events: list[Event] = []
        observe = self._observe
        at = heard.at
        for (payload, pid), count in heard.counts.items():
            observe(payload, pid, at, events, count)
        return events

    def _observe(
        self, payload: str, pid: int, now: float, events: list[Event], count: int = 1
    ) -> None:
        verdict = self._verdicts.get(payload)
        if verdict is None:
            verdict = classify(payload)
            if len(self._verdicts) >= _CLASSIFY_CACHE:
                self._verdicts.clear()
            if len(payload) <= JUNK_PREVIEW_CHARS:
                self._verdicts[payload] = verdict
        if isinstance(verdict, Junk):
            self._junk(payload, verdict, pid, now, events, count)
            return
        self.beats_total += count
        self.beat_version += 1
        node = self._nodes.get(payload)
        if node is None:
            self._join(payload, pid, now, events)
            self._nodes[payload].beats = count
            return
        previous_beat_of_pid = node.pid_last.get(pid)
        if previous_beat_of_pid is None:
            if node.pid_last:
                events.append(NodeReincarnated(now, payload, pid, node.pid))
            self._remember_pid(node, pid, now)
        else:
            node.pid_last[pid] = now
            gap = now - previous_beat_of_pid
            # The wall clock may step back (such a gap says nothing); our own beats include
            # manual announces, and our interval is known anyway.
            if gap >= 0 and not node.is_self:
                self._learn_gap(node, gap)
            if pid != node.pid and not node.duplicate:
                other_last = node.pid_last.get(node.pid, -math.inf)
                if now - other_last <= self._after(node, self.thresholds.late):
                    node.duplicate = True
                    self._duplicates.add(payload)
                    self.roster_version += 1
                    events.append(DuplicateNameDetected(now, payload, self._live_pids(node, now)))
        node.pid = pid
        node.beats += count
        node.last_beat = now
        silent_for = now - node.age_from
        node.age_from = now
        state = node.state
        if state is NodeState.STALE:
            self._move(node, NodeState.ALIVE, now)
            events.append(NodeRecovered(now, payload, pid, silent_for))
        elif state is not NodeState.ALIVE:
            self._move(node, NodeState.ALIVE, now)
            events.append(NodeStateChanged(now, payload, state, NodeState.ALIVE, silent_for))
        due = now + self._after(node, self.thresholds.late)
        if due < node.due:
            self._schedule(node, due)

    def _join(self, name: str, pid: int, now: float, events: list[Event]) -> None:
        if len(self._nodes) >= self.max_nodes:
            self._evict(now, events)
        is_self = name == self.self_name
        node = _Node(name, is_self, now, now, now, pid, state_since=now)
        node.pid_last[pid] = now
        self._nodes[name] = node
        self._counts[NodeState.NEW] += 1
        self.roster_version += 1
        self._schedule(node, now + self._after(node, self.thresholds.late))
        events.append(NodeJoined(now, name, pid, is_self))

    def _move(self, node: _Node, state: NodeState, now: float) -> None:
        counts = self._counts
        counts[node.state] -= 1
        counts[state] += 1
        node.state, node.state_since = state, now
        self.roster_version += 1

    def _remove(self, node: _Node) -> None:
        del self._nodes[node.name]
        self._counts[node.state] -= 1
        self._duplicates.discard(node.name)
        self.roster_version += 1

    def _schedule(self, node: _Node, due: float) -> None:
        node.due = due
        heapq.heappush(self._due, (due, node.name))

    def _evict(self, now: float, events: list[Event]) -> None:
        # Evict a percent at a time so a flood of new names costs O(log n) per name.
        # Worst state first, then the longest silent; our own node is never evicted.
        count = max(1, len(self._nodes) // 100)
        candidates = [n for n in self._nodes.values() if not n.is_self]
        victims = sorted(candidates, key=lambda n: (-n.state.severity, n.age_from, n.name))[:count]
        for victim in victims:
            self._remove(victim)
            events.append(NodeEvicted(now, victim.name, victim.state))

    def _remember_pid(self, node: _Node, pid: int, now: float) -> None:
        node.pid_last[pid] = now
        if len(node.pid_last) > _PIDS_PER_NODE:
            oldest = min(node.pid_last, key=node.pid_last.__getitem__)
            del node.pid_last[oldest]

    def _learn_gap(self, node: _Node, gap: float) -> None:
        # Smoothed mean and mean deviation, as TCP estimates round trips (RFC 6298);
        # a gap over 4x the mean is an outlier (a silence), unless three come in a row.
        if node.gaps >= 2 and gap > _OUTLIER_FACTOR * node.mean_gap:
            node.outliers += 1
            if node.outliers < 3:
                return
            node.gaps, node.outliers = 0, 0
        node.outliers = 0
        n = node.gaps
        if n == 0:
            node.mean_gap, node.gap_deviation = gap, 0.0
        else:
            # Plain averages over the first gaps, so a regular sender shows no jitter at once.
            node.gap_deviation += max(1 / n, 0.25) * (abs(gap - node.mean_gap) - node.gap_deviation)
            node.mean_gap += max(1 / (n + 1), 0.125) * (gap - node.mean_gap)
        node.gaps += 1

    def _junk(
        self,
        payload: str,
        verdict: Junk,
        pid: int,
        now: float,
        events: list[Event],
        count: int = 1,
    ) -> None:
        self.junk_counts[verdict.reason.value] += count
        if now - self._junk_window >= 1.0:
            if self._junk_suppressed:
                events.append(JunkSuppressed(now, self._junk_suppressed))
            self._junk_window, self._junk_in_window, self._junk_suppressed = now, 0, 0
        self._junk_suppressed += count - 1
        if self._junk_in_window >= self.junk_burst:
            self._junk_suppressed += 1
            return
        self._junk_in_window += 1
        preview = payload[:JUNK_PREVIEW_CHARS]
        events.append(JunkReceived(now, preview, verdict.reason.value, len(payload), pid))

    def attribute(self, sender: SenderAttributed) -> None:
        """Remember what pg_stat_activity said about a sending backend."""
        self._senders[sender.pid] = sender
        self._senders.move_to_end(sender.pid)
        if len(self._senders) > _SENDER_CACHE:
            self._senders.popitem(last=False)

    def own_sender(self, pid: int | None) -> None:
        """The backend pid that sends our own beats (None while disconnected)."""
        self._own_sender = pid

    def take_backend_checks(self) -> list[int]:
        """Backend pids whose liveness the model needs to know, each asked once."""
        return []

    def backends_checked(self, fact: BackendsChecked) -> list[Event]:
        """Apply the server's answer on which backends are still live sessions."""
        return []

    def sender(self, pid: int) -> SenderAttributed | None:
        """Return what is known of the backend with this pid."""
        return self._senders.get(pid)

    # Time

    def tick(self, now: float) -> list[Event]:
        """Move silent nodes to worse states and report every transition."""
        events: list[Event] = []
        if self._frozen_at is not None:
            return events
        pending = self._junk_suppressed
        if pending and now - self._junk_window >= 1.0:
            events.append(JunkSuppressed(now, pending))
            self._junk_window, self._junk_in_window, self._junk_suppressed = now, 0, 0
        for name in list(self._duplicates):
            self._maybe_clear_duplicate(self._nodes[name], now, events)
        if now < self._grace_until:
            return events
        due, nodes, t = self._due, self._nodes, self.thresholds
        later: list[tuple[float, str]] = []
        while due and due[0][0] <= now:
            when, name = heapq.heappop(due)
            node = nodes.get(name)
            if node is None or node.due != when:
                continue  # forgotten, or rescheduled since
            age = now - node.age_from
            interval = self._interval(node)
            if age > t.stale * interval:
                target = NodeState.STALE
            elif age > t.suspect * interval:
                target = NodeState.SUSPECT
            elif age > t.late * interval:
                target = NodeState.LATE
            else:
                target = NodeState.ALIVE
            if target.severity > _SEVERITY[node.state]:
                previous = node.state
                self._move(node, target, now)
                events.append(NodeStateChanged(now, name, previous, target, age))
            node.due = math.inf
            threshold = _NEXT_THRESHOLD.get(node.state)
            if threshold is not None:
                node.due = node.age_from + getattr(t, threshold) * interval
                later.append((node.due, name))
        for entry in later:
            heapq.heappush(due, entry)
        if len(due) > 4 * len(nodes) + 1024:
            self._due = [(n.due, n.name) for n in nodes.values() if n.due < math.inf]
            heapq.heapify(self._due)
        return events

    def _maybe_clear_duplicate(self, node: _Node, now: float, events: list[Event]) -> None:
        if len(self._live_pids(node, now)) <= 1:
            node.duplicate = False
            self._duplicates.discard(node.name)
            self.roster_version += 1
            events.append(DuplicateNameCleared(now, node.name, node.pid))

    def _live_pids(self, node: _Node, now: float) -> tuple[int, ...]:
        window = self._after(node, self.thresholds.suspect)
        if len(node.pid_last) == 1:
            ((pid, last),) = node.pid_last.items()
            return (pid,) if now - last <= window else ()
        live = [(t, p) for p, t in node.pid_last.items() if now - t <= window]
        return tuple(p for _, p in sorted(live, reverse=True))

    def freeze(self, now: float) -> None:
        """Stop ages while our own listener is disconnected."""
        if self._frozen_at is None:
            self._frozen_at = now

    def resume(self, now: float) -> None:
        """Restart ages after reconnecting, with a grace period of one late threshold."""
        if self._frozen_at is None:
            return
        frozen_at = self._frozen_at
        outage = max(0.0, now - frozen_at)
        for node in self._nodes.values():
            # A node heard during the outage (a late batch) ages from that beat.
            if node.age_from <= frozen_at:
                node.age_from += outage
        self._frozen_at = None
        self.beat_version += 1
        self._grace_until = now + self.thresholds.late * self.thresholds.interval

    @property
    def frozen(self) -> bool:
        """Whether ages are stopped."""
        return self._frozen_at is not None

    # User actions

    def forget(self, name: str, now: float) -> list[Event]:
        """Remove a node; it comes back if it beats again."""
        node = self._nodes.get(name)
        if node is None:
            return []
        self._remove(node)
        return [NodeForgotten(now, name)]

    def forget_stale(self, now: float) -> list[Event]:
        """Remove every stale node."""
        stale = [n.name for n in self._nodes.values() if n.state is NodeState.STALE]
        events: list[Event] = []
        for name in stale:
            events.extend(self.forget(name, now))
        return events

    # Reading

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    def names(self) -> list[str]:
        """Every tracked node name."""
        return list(self._nodes)

    def age(self, name: str, now: float) -> float:
        """Seconds since the node's last heartbeat, not counting our own outages."""
        node = self._nodes[name]
        reference = self._frozen_at if self._frozen_at is not None else now
        return max(0.0, reference - node.age_from)

    def state(self, name: str) -> NodeState:
        """The node's current state."""
        return self._nodes[name].state

    def view(self, name: str, now: float) -> NodeView:
        """Snapshot one node."""
        node = self._nodes[name]
        age = self.age(name, now)
        interval = self._interval(node)
        jitter = node.gap_deviation if node.gaps >= 2 else 0.0
        t = self.thresholds
        return NodeView(
            name=node.name,
            is_self=node.is_self,
            state=node.state,
            state_since=node.state_since,
            first_seen=node.first_seen,
            last_beat=node.last_beat,
            age=age,
            beats=node.beats,
            interval=interval,
            interval_estimated=node.gaps >= 2,
            jitter=jitter,
            phi=phi(age, interval, jitter),
            pids=self._live_pids(node, now) or (node.pid,),
            duplicate=node.duplicate,
            late_after=t.late * interval,
            suspect_after=t.suspect * interval,
            stale_after=t.stale * interval,
        )

    def views(self, now: float) -> list[NodeView]:
        """Snapshot every node, worst state first, then by name."""
        return [self.view(name, now) for name in self.ordered("state")]

    def counts(self) -> Counter[NodeState]:
        """How many nodes are in each state."""
        return Counter({state: n for state, n in self._counts.items() if n})

    def ordered(
        self, by: str = "state", *, reverse: bool = False, words: Sequence[str] = ()
    ) -> list[str]:
        """Node names in one of SORT_ORDERS, keeping those whose name or state fits every word."""
        nodes: Iterable[_Node] = self._nodes.values()
        if words:
            nodes = [n for n in nodes if _matches(n, words)]
        return [n.name for n in sorted(nodes, key=self._sort_key(by), reverse=reverse)]

    def _sort_key(self, by: str) -> Callable[[_Node], tuple[object, ...]]:
        if by == "state":
            return lambda n: (-_SEVERITY[n.state], n.name)
        if by == "name":
            return lambda n: (n.name,)
        if by == "age":
            return lambda n: (n.age_from, n.name)
        if by == "beats":
            return lambda n: (-n.beats, n.name)
        if by == "interval":
            return lambda n: (-self._interval(n), n.name)
        if by == "first":
            return lambda n: (n.first_seen, n.name)
        if by == "since":
            return lambda n: (n.state_since, n.name)
        raise ValueError(f"unknown sort order {by!r}; one of {', '.join(SORT_ORDERS)}")

    def _interval(self, node: _Node) -> float:
        if node.gaps >= 2:
            return max(MIN_INTERVAL, node.mean_gap)
        return self.thresholds.interval

    def _after(self, node: _Node, factor: float) -> float:
        return factor * self._interval(node)


_NEXT_THRESHOLD = {
    NodeState.NEW: "late",
    NodeState.ALIVE: "late",
    NodeState.LATE: "suspect",
    NodeState.SUSPECT: "stale",
}
"""The Thresholds field a silent node crosses next, by its state (stale is the last)."""


def _matches(node: _Node, words: Sequence[str]) -> bool:
    name = node.name.lower()
    state = node.state.value
    return all(word in name or state.startswith(word) for word in words)


def phi(age: float, interval: float, deviation: float) -> float:
    """Phi-accrual suspicion (Hayashibara et al.), with a floor on the deviation."""
    std = max(deviation * 1.25, 0.25 * interval, 0.1)
    y = (age - interval) / std
    exponent = -y * (1.5976 + 0.070566 * y * y)
    if exponent > 700:
        return 0.0
    if exponent < -700:
        return 300.0
    e = math.exp(exponent)
    if age > interval:
        return min(300.0, -math.log10(e / (1.0 + e)))
    return -math.log10(1.0 - 1.0 / (1.0 + e))
