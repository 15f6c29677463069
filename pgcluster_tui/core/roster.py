"""The tracked nodes: storage, per-state counts, deadlines, the cap's indexes, and snapshots."""

from __future__ import annotations

import heapq
import math
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from pgcluster_tui.core.cap import Cap
from pgcluster_tui.core.events import Event, NodeForgotten, NodeState, SenderAttributed
from pgcluster_tui.core.node import Node, NodeView
from pgcluster_tui.core.thresholds import MIN_INTERVAL, Thresholds, phi

SORT_ORDERS = ("state", "name", "age", "beats", "interval", "first", "since")
"""Orders `Roster.ordered` knows; each puts the notable nodes first."""

BEAT_ORDERS = frozenset({"age", "beats", "interval"})
"""Orders that any heartbeat can change; the others change only with the roster."""

PIDS_REMEMBERED = 4096
"""Backend pids remembered model-wide (senders, claims, questions), least recent dropped."""

_K = TypeVar("_K")
_V = TypeVar("_V")


class Roster:
    """The nodes tracked and how they read; `Membership` is what changes them."""

    def __init__(self, thresholds: Thresholds | None, max_nodes: int) -> None:
        self.thresholds = thresholds or Thresholds()
        self.max_nodes = max(1, max_nodes)
        self.roster_version = 0
        """Bumped whenever a node joins, leaves, changes state or duplicate flag."""
        self.beat_version = 0
        """Bumped by every heartbeat."""
        self._nodes: dict[str, Node] = {}
        self._counts: Counter[NodeState] = Counter()
        self._duplicates: set[str] = set()
        self._cap = Cap()
        # Next state deadlines, (due, name), lazily corrected: a tick looks only at nodes due.
        self._due: list[tuple[float, str]] = []
        # First deadlines of new nodes come in time order: a queue is cheaper than the heap.
        self._joined_due: deque[tuple[float, str]] = deque()
        self._claims: OrderedDict[int, None] = OrderedDict()
        """Backends that sent our own name without being our sender."""
        self._senders: OrderedDict[int, SenderAttributed] = OrderedDict()
        self._frozen_at: float | None = None
        self._resumed_at = -math.inf

    def _move(self, node: Node, state: NodeState, now: float) -> None:
        counts = self._counts
        counts[node.state] -= 1
        counts[state] += 1
        self._cap.moving(node, state)
        node.state, node.state_since = state, now
        self.roster_version += 1

    def _remove(self, node: Node) -> None:
        del self._nodes[node.name]
        self._counts[node.state] -= 1
        self._duplicates.discard(node.name)
        self._cap.removed(node.name)
        self.roster_version += 1

    def _schedule(self, node: Node, due: float) -> None:
        node.due = due
        heapq.heappush(self._due, (due, node.name))

    def _schedule_joined(self, node: Node, due: float) -> None:
        joined = self._joined_due
        if joined and due < joined[-1][0]:
            self._schedule(node, due)  # the clock stepped back: keep the queue in order
            return
        node.due = due
        joined.append((due, node.name))

    def _interval(self, node: Node) -> float:
        if node.gaps >= 2:
            return max(MIN_INTERVAL, node.mean_gap)
        return self.thresholds.interval

    def _window(self, node: Node) -> float:
        """How long a backend counts as live after its last beat: until it would be suspect."""
        return self.thresholds.worse_after(NodeState.LATE, self._interval(node))

    def _late_after(self, node: Node) -> float:
        """One late threshold of the node's own interval."""
        return self.thresholds.worse_after(NodeState.ALIVE, self._interval(node))

    def _reference(self, now: float) -> float:
        return self._frozen_at if self._frozen_at is not None else now

    @property
    def frozen(self) -> bool:
        """Whether ages are stopped."""
        return self._frozen_at is not None

    # Senders

    def attribute(self, sender: SenderAttributed) -> None:
        """Remember what pg_stat_activity said about a sending backend."""
        remember(self._senders, sender.pid, sender)

    def sender(self, pid: int) -> SenderAttributed | None:
        """Return what is known of the backend with this pid."""
        return self._senders.get(pid)

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

    @property
    def untracked(self) -> int:
        """Distinct names heard at max_nodes that no node could make room for, in all."""
        return self._cap.untracked

    def names(self) -> list[str]:
        """Every tracked node name."""
        return list(self._nodes)

    def age(self, name: str, now: float) -> float:
        """Seconds since the node's last heartbeat, not counting our own outages."""
        return max(0.0, self._reference(now) - self._nodes[name].age_from)

    def state(self, name: str) -> NodeState:
        """The node's current state."""
        return self._nodes[name].state

    def view(self, name: str, now: float) -> NodeView:
        """Snapshot one node."""
        node = self._nodes[name]
        age = max(0.0, self._reference(now) - node.age_from)
        interval = self._interval(node)
        jitter = node.gap_deviation if node.gaps >= 2 else 0.0
        t = self.thresholds
        # worse_after() of alive, late and suspect, inline: a scrape views every node.
        late_after, suspect_after = t.late * interval, t.suspect * interval
        live = node.live_pids(now, suspect_after)
        if node.pending is not None:
            # Most likely replaced: listed again if the server or a beat says it lives on.
            live = tuple(pid for pid in live if pid != node.pending)
        claims = self._claims
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
            pids=live or tuple(pid for pid in (node.pid,) if pid in node.pid_last),
            duplicate=node.duplicate,
            late_after=late_after,
            suspect_after=suspect_after,
            stale_after=t.stale * interval,
            sessions=node.sessions,
            churning=node.churning_now(),
            claimed_by_other=node.own_name and any(pid in claims for pid in live),
            zone=t.state_for(age, interval),
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
        nodes: Iterable[Node] = self._nodes.values()
        if words:
            nodes = [n for n in nodes if _matches(n, words)]
        return [n.name for n in sorted(nodes, key=self._sort_key(by), reverse=reverse)]

    def _sort_key(self, by: str) -> Callable[[Node], tuple[object, ...]]:
        if by == "state":
            return lambda n: (_LIST_RANK[n.state], n.name)
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


_LIST_RANK = {
    NodeState.STALE: 0,
    NodeState.SUSPECT: 1,
    NodeState.LATE: 2,
    NodeState.NEW: 3,
    NodeState.ALIVE: 4,
}
"""Worst first: a new node was heard once and is not known to be alive yet, so it lists before
the alive ones (for transitions the two weigh the same: see NodeState.severity)."""


def _matches(node: Node, words: Sequence[str]) -> bool:
    name = node.name.lower()
    state = node.state.value
    return all(word in name or state.startswith(word) for word in words)


def remember(remembered: OrderedDict[_K, _V], key: _K, value: _V) -> None:
    """Put `key` last in a bounded recency map, dropping the least recent beyond the bound."""
    remembered[key] = value
    remembered.move_to_end(key)
    if len(remembered) > PIDS_REMEMBERED:
        remembered.popitem(last=False)
