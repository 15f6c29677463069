"""The membership model: a pure reducer from notifications, backend facts and ticks to events."""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable

from pgcluster_tui.core.events import (
    Event,
    Heard,
    JunkReceived,
    JunkSuppressed,
    NamingMismatch,
    NodeEvicted,
    NodeJoined,
    NodeRecovered,
    NodeState,
    NodeStateChanged,
    Notification,
)
from pgcluster_tui.core.node import NO_SESSION, Node, NodeView, long_name
from pgcluster_tui.core.protocol import NodeName, classify, junk_reason
from pgcluster_tui.core.roster import BEAT_ORDERS, SORT_ORDERS
from pgcluster_tui.core.sessions import Sessions
from pgcluster_tui.core.thresholds import MIN_INTERVAL, WORSE, Thresholds, phi

__all__ = [
    "BEAT_ORDERS",
    "JUNK_PREVIEW_CHARS",
    "MIN_INTERVAL",
    "SORT_ORDERS",
    "Membership",
    "NodeView",
    "Thresholds",
    "phi",
]

JUNK_PREVIEW_CHARS = 512
"""How much of a junk payload an event keeps."""

# Enum members as module names: reading them off the class costs ~50 ns each, per beat.
_NEW = NodeState.NEW
_ALIVE = NodeState.ALIVE
_STALE = NodeState.STALE


class Membership(Sessions):
    """Who heartbeats on the channel, how fresh each node is, and what changed."""

    def __init__(
        self,
        thresholds: Thresholds | None = None,
        *,
        self_name: str | None = None,
        max_nodes: int = 10_000,
        junk_burst: int = 20,
    ) -> None:
        super().__init__(thresholds, max_nodes)
        self.self_name = self_name
        self.junk_burst = junk_burst
        self.junk_counts: Counter[str] = Counter()
        self.beats_total = 0
        self._naming: tuple[str, bool] | None = None
        """Our name and whether it is long, until a node named the other way is heard."""
        if self_name is not None and isinstance(classify(self_name), NodeName):
            self._naming = (self_name, long_name(self_name))
        self._junk_window = -math.inf
        self._junk_in_window = 0
        self._junk_suppressed = 0

    # Input

    def observe(self, notification: Notification) -> list[Event]:
        """Apply one notification received on the cluster channel."""
        events: list[Event] = []
        self._observe(notification.payload, notification.pid, notification.at, events)
        self._cap.report(events)
        return events

    def observe_many(self, notifications: Iterable[Notification]) -> list[Event]:
        """Apply a batch of notifications in order."""
        events: list[Event] = []
        observe = self._observe
        for n in notifications:
            observe(n.payload, n.pid, n.at, events)
        self._cap.report(events)
        return events

    def observe_heard(self, heard: Heard) -> list[Event]:
        """Apply notifications read at one instant; identical ones are counted, not replayed."""
        events: list[Event] = []
        observe = self._observe
        at = heard.at
        for (payload, pid), count in heard.counts.items():
            observe(payload, pid, at, events, count)
        self._cap.report(events)
        return events

    def _observe(
        self, payload: str, pid: int, now: float, events: list[Event], count: int = 1
    ) -> None:
        node = self._nodes.get(payload)
        if node is None:
            # Only a name not tracked needs a verdict: a tracked one was valid when it joined.
            reason = junk_reason(payload)
            if reason is not None:
                self._junk(payload, reason.value, pid, now, events, count)
                return
            self.beats_total += count
            self._join(payload, pid, now, events, count)
            return
        self.beats_total += count
        self.beat_version += 1
        last = node.pid_last.get(pid)
        if last is None or pid != node.pid:
            self._other_backend(node, pid, last, now, events)
        else:
            node.pid_last[pid] = now
            gap = now - last
            # The wall clock may step back (such a gap says nothing); our own beats include
            # manual announces, and our interval is known anyway.
            if gap >= 0 and not node.own_name:
                node.learn_gap(gap)
        node.pid = pid
        node.beats += count
        node.last_beat = now
        silent_for = now - node.age_from
        node.age_from = now
        state = node.state
        if state is _STALE:
            self._move(node, _ALIVE, now)
            events.append(NodeRecovered(now, payload, pid, silent_for))
        elif state is not _ALIVE:
            self._move(node, _ALIVE, now)
            events.append(NodeStateChanged(now, payload, state, _ALIVE, silent_for))
        # thresholds.worse_after(ALIVE, ...) inlined: this runs for every beat.
        due = now + self.thresholds.late * self._interval(node)
        if due < node.due:
            self._schedule(node, due)

    def _join(self, name: str, pid: int, now: float, events: list[Event], count: int) -> None:
        if self._naming is not None and long_name(name) != self._naming[1]:
            events.append(NamingMismatch(now, name, self._naming[0]))
            self._naming = None
        own_name = name == self.self_name
        nodes = self._nodes
        if len(nodes) >= self.max_nodes:
            # At the cap a name is tracked from its second beat: a flood of one-shot names
            # costs a count each, never a node, an eviction or an event.
            cap = self._cap
            if not own_name and not cap.heard_before(name, now):
                return
            victim = cap.victim(nodes, self._reference(now), self.thresholds)
            if victim is None and not own_name:
                return
            cap.tracked(name)
            if victim is not None:
                self._remove(victim)
                events.append(NodeEvicted(now, victim.name, victim.state))
        self.beat_version += 1
        ours = own_name and pid == self._own_sender
        session = NO_SESSION if own_name and not ours else pid
        node = Node(name, now, now, pid, session, own_name, ours, last_beat=now, state_since=now)
        node.beats = count
        node.pid_last[pid] = now
        nodes[name] = node
        self._counts[_NEW] += 1
        self.roster_version += 1
        t = self.thresholds
        self._schedule_joined(node, now + t.worse_after(_ALIVE, t.interval))
        events.append(NodeJoined(now, name, pid, ours))
        if own_name and not ours:
            self._claim(node, pid, now, events)
        self._cap.joined(node)

    def _junk(
        self,
        payload: str,
        reason: str,
        pid: int,
        now: float,
        events: list[Event],
        count: int = 1,
    ) -> None:
        self.junk_counts[reason] += count
        if now - self._junk_window >= 1.0:
            if self._junk_suppressed:
                events.append(JunkSuppressed(now, self._junk_suppressed))
            self._junk_window, self._junk_in_window, self._junk_suppressed = now, 0, 0
        if self._junk_in_window >= self.junk_burst:
            self._junk_suppressed += count
            return
        self._junk_suppressed += count - 1
        self._junk_in_window += 1
        preview = payload[:JUNK_PREVIEW_CHARS]
        events.append(JunkReceived(now, preview, reason, len(payload), pid))

    # Time

    def tick(self, now: float) -> list[Event]:
        """Move silent nodes to worse states, one state at a time, and report each move."""
        events: list[Event] = []
        if self._frozen_at is not None:
            return events
        pending = self._junk_suppressed
        if pending and now - self._junk_window >= 1.0:
            events.append(JunkSuppressed(now, pending))
            self._junk_window, self._junk_in_window, self._junk_suppressed = now, 0, 0
        self._cap.report(events, now)
        self._decide_sessions(now, events)
        self._worsen_due(now, events)
        return events

    def _worsen_due(self, now: float, events: list[Event]) -> None:
        nodes, t, resumed = self._nodes, self.thresholds, self._resumed_at
        joined, due = self._joined_due, self._due
        later: list[tuple[float, str]] = []
        while True:
            if joined and joined[0][0] <= now and (not due or joined[0] <= due[0]):
                when, name = joined.popleft()
            elif due and due[0][0] <= now:
                when, name = heapq.heappop(due)
            else:
                break
            node = nodes.get(name)
            if node is None or node.due != when:
                continue  # forgotten, or rescheduled since
            interval = self._interval(node)
            if resumed > -math.inf:
                hold = resumed + t.worse_after(_ALIVE, interval)
                if now < hold:
                    # After our own outage each node has one late threshold of its own.
                    node.due = hold
                    later.append((hold, name))
                    continue
            age = now - node.age_from
            target = t.state_for(age, interval).severity
            state = node.state
            while target > state.severity:
                worse = WORSE[state]
                self._move(node, worse, now)
                events.append(NodeStateChanged(now, name, state, worse, age))
                state = worse
            node.due = node.age_from + t.worse_after(state, interval)
            if node.due < math.inf:
                later.append((node.due, name))
        for entry in later:
            heapq.heappush(due, entry)
        if len(due) > 4 * len(nodes) + 1024:
            self._due = [(n.due, n.name) for n in nodes.values() if n.due < math.inf]
            heapq.heapify(self._due)
            joined.clear()  # every deadline is in the heap now

    def freeze(self, now: float) -> None:
        """Stop ages while our own listener is disconnected."""
        if self._frozen_at is None:
            self._frozen_at = now

    def resume(self, now: float) -> None:
        """Restart ages after reconnecting; each node has one late threshold to be heard."""
        if self._frozen_at is None:
            return
        frozen_at = self._frozen_at
        outage = max(0.0, now - frozen_at)
        for node in self._nodes.values():
            # A node heard during the outage (a late batch) ages from that beat.
            if node.age_from <= frozen_at:
                node.age_from += outage
            pid_last = node.pid_last
            for pid, last in pid_last.items():
                if last <= frozen_at:
                    pid_last[pid] = last + outage
            if node.pending is not None:
                node.pending_due += outage
                heapq.heappush(self._undecided, (node.pending_due, node.name))
        self._frozen_at = None
        self._resumed_at = now
        self.beat_version += 1
