"""The node cap: which node a new name may evict, found in O(1), and the names left untracked."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping

from pgcluster_tui.core.events import Event, NodesNotTracked, NodeState
from pgcluster_tui.core.node import Node
from pgcluster_tui.core.thresholds import Thresholds

UNTRACKED_MEMORY = 65_536
"""Untracked names remembered (hashes, least recently heard dropped): each counted once, and
tracked when heard again; a flood of more distinct names per interval delays a real newcomer."""

# Enum members as module names: reading them off the class costs ~50 ns each, per beat.
_NEW = NodeState.NEW
_ALIVE = NodeState.ALIVE
_STALE = NodeState.STALE


class Cap:
    """Nodes a new name may evict, oldest first, kept as states change; and the untracked count."""

    def __init__(self) -> None:
        self.stale: OrderedDict[str, None] = OrderedDict()
        self.once: OrderedDict[str, None] = OrderedDict()
        """Nodes heard at one instant only, in the order they joined."""
        self.untracked = 0
        """Distinct names heard at the cap and not tracked, in all."""
        self._seen: OrderedDict[int, float] = OrderedDict()
        """Untracked names by hash, with when each was first heard."""
        self._new = 0
        self._reported_at = -math.inf
        self._heard_at = -math.inf

    def joined(self, node: Node) -> None:
        """A node joined (never our own name: it is never evicted)."""
        if not node.own_name:
            self.once[node.name] = None

    def moving(self, node: Node, state: NodeState) -> None:
        """A node is about to move to `state`."""
        if node.own_name:
            return
        if state is _STALE:
            self.stale[node.name] = None
        elif node.state is _STALE:
            self.stale.pop(node.name, None)
        if state is _ALIVE and node.once:
            node.once = False
            self.once.pop(node.name, None)

    def removed(self, name: str) -> None:
        """A node left the model."""
        self.stale.pop(name, None)
        self.once.pop(name, None)

    def victim(self, nodes: Mapping[str, Node], now: float, t: Thresholds) -> Node | None:
        """The node a new name may evict: stale, else heard once and no longer fresh; or none."""
        # Established nodes and fresh ones stay: a flood of one-shot names must not push
        # out real nodes, nor real nodes over the cap push out each other forever.
        if self.stale:
            return nodes[next(iter(self.stale))]
        if self.once:
            node = nodes[next(iter(self.once))]
            # Ticks may not have run (a replay): its age says whether it is still fresh.
            if node.state is not _NEW:
                return node
            if t.state_for(now - node.age_from, t.interval) is not _ALIVE:
                return node
        return None

    def heard_before(self, name: str, now: float) -> bool:
        """Count a name heard at the cap once; whether it was heard at an earlier instant."""
        key = hash(name)
        seen = self._seen
        self._heard_at = now
        first = seen.get(key)
        if first is not None:
            seen.move_to_end(key)
            return first < now
        seen[key] = now
        if len(seen) > UNTRACKED_MEMORY:
            seen.popitem(last=False)
        self.untracked += 1
        self._new += 1
        return False

    def tracked(self, name: str) -> None:
        """A name heard at the cap made it in: it is no longer remembered as untracked."""
        self._seen.pop(hash(name), None)

    def report(self, events: list[Event], now: float | None = None) -> None:
        """Report names newly left untracked, at most once a second (by default, as heard)."""
        if not self._new:
            return
        at = self._heard_at if now is None else now
        if at - self._reported_at >= 1.0:
            events.append(NodesNotTracked(at, self._new, self.untracked))
            self._new, self._reported_at = 0, at
