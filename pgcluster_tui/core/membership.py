"""The membership model: a pure reducer from notifications, backend facts and ticks to events."""

from __future__ import annotations

import heapq
import math
from collections import Counter, OrderedDict
from collections.abc import Iterable

from pgcluster_tui.core.events import (
    BackendsChecked,
    DuplicateNameCleared,
    DuplicateNameDetected,
    Event,
    Heard,
    JunkReceived,
    JunkSuppressed,
    NameClaimedByOther,
    NamingMismatch,
    NodeEvicted,
    NodeJoined,
    NodeRecovered,
    NodeState,
    NodeStateChanged,
    Notification,
)
from pgcluster_tui.core.node import NO_SESSION, Node, NodeView, long_name
from pgcluster_tui.core.protocol import Junk, NodeName, classify
from pgcluster_tui.core.roster import BEAT_ORDERS, SORT_ORDERS, Roster, remember
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

_CLASSIFY_CACHE = 20_000

# Enum members as module names: reading them off the class costs ~50 ns each, per beat.
_NEW = NodeState.NEW
_ALIVE = NodeState.ALIVE
_STALE = NodeState.STALE


class Membership(Roster):
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
        # Session changes waiting for the server's word, by when beats decide instead.
        self._undecided: list[tuple[float, str]] = []
        self._checks: dict[int, None] = {}
        self._asking: OrderedDict[int, str] = OrderedDict()
        self._asked: OrderedDict[int, None] = OrderedDict()
        self._verdicts: dict[str, object] = {}
        self._resumed_at = -math.inf
        self._own_sender: int | None = None
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
        self._cap.report(None, events)
        return events

    def observe_many(self, notifications: Iterable[Notification]) -> list[Event]:
        """Apply a batch of notifications in order."""
        events: list[Event] = []
        observe = self._observe
        for n in notifications:
            observe(n.payload, n.pid, n.at, events)
        self._cap.report(None, events)
        return events

    def observe_heard(self, heard: Heard) -> list[Event]:
        """Apply notifications read at one instant; identical ones are counted, not replayed."""
        events: list[Event] = []
        observe = self._observe
        at = heard.at
        for (payload, pid), count in heard.counts.items():
            observe(payload, pid, at, events, count)
        self._cap.report(None, events)
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
            self._join(payload, pid, now, events, count)
            return
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

    def _other_backend(
        self, node: Node, pid: int, last: float | None, now: float, events: list[Event]
    ) -> None:
        if node.own_name:
            if pid == self._own_sender:
                self._own_beat(node, pid)
            else:
                self._claim(node, pid, now, events)
            node.remember(pid, now)
            return
        if last is None:
            if node.pending is not None:
                # A third session while the second is undecided: the first stayed silent.
                self._end_previous_session(node, now, events)
            if not node.duplicate and node.session in node.pid_last:
                self._begin_session_change(node, pid, now)
            else:
                node.begin_session(pid)
            node.remember(pid, now)
            return
        node.pid_last[pid] = now
        if now >= last:
            node.learn_gap(now - last)
        if pid == node.pending:
            # The previous session beats again: two live sessions, proven.
            self._undecide(node)
            self._mark_duplicate(node, now, events)
        elif not node.duplicate:
            silent = now - node.pid_last.get(node.pid, -math.inf)
            if self.thresholds.state_for(silent, self._interval(node)) is _ALIVE:
                self._mark_duplicate(node, now, events)

    def _begin_session_change(self, node: Node, pid: int, now: float) -> None:
        # A restart or a second process: no verdict until the server (or silence) tells.
        previous = node.session
        node.pending, node.pending_since = previous, now
        node.pending_beats = node.session_beats()
        node.pending_due = now + self._late_after(node)
        heapq.heappush(self._undecided, (node.pending_due, node.name))
        self._ask(previous, node.name)
        node.begin_session(pid)

    def _end_previous_session(self, node: Node, now: float, events: list[Event]) -> None:
        if node.pending is not None:
            self._asking.pop(node.pending, None)
        event = node.end_previous_session(now)
        self.roster_version += 1
        if event is not None:
            events.append(event)

    def _undecide(self, node: Node) -> None:
        if node.pending is not None:
            self._asking.pop(node.pending, None)
        node.pending, node.pending_due = None, math.inf

    def _own_beat(self, node: Node, pid: int) -> None:
        if not node.is_self:
            node.is_self = True
            self.roster_version += 1
        if node.session != pid:
            if node.session != NO_SESSION and node.session not in self._claims:
                # Our previous sender: we closed it ourselves when our connection dropped.
                node.pid_last.pop(node.session, None)
                node.sessions += 1
            node.begin_session(pid)

    def _claim(self, node: Node, pid: int, now: float, events: list[Event]) -> None:
        if pid not in self._claims:
            remember(self._claims, pid, None)
            events.append(NameClaimedByOther(now, node.name, pid))
        if not node.duplicate:
            node.duplicate = True
            self._duplicates.add(node.name)
            self.roster_version += 1

    def _mark_duplicate(
        self, node: Node, now: float, events: list[Event], also: int | None = None
    ) -> None:
        if node.duplicate:
            return
        node.duplicate = True
        self._duplicates.add(node.name)
        self.roster_version += 1
        pids = node.live_pids(now, self._window(node))
        if also is not None and also not in pids:
            pids += (also,)
        events.append(DuplicateNameDetected(now, node.name, pids))

    def _join(self, name: str, pid: int, now: float, events: list[Event], count: int) -> None:
        if self._naming is not None and long_name(name) != self._naming[1]:
            events.append(NamingMismatch(now, name, self._naming[0]))
            self._naming = None
        own_name = name == self.self_name
        nodes = self._nodes
        if len(nodes) >= self.max_nodes:
            victim = self._cap.victim(nodes, self._reference(now), self.thresholds)
            if victim is not None:
                self._remove(victim)
                events.append(NodeEvicted(now, victim.name, victim.state))
            elif not own_name:
                self._cap.untrack(name, now)
                return
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

    # Backend sessions

    def own_sender(self, pid: int | None) -> None:
        """The backend pid that sends our own beats (None while disconnected)."""
        self._own_sender = pid

    def take_backend_checks(self) -> list[int]:
        """Backend pids whose liveness the model needs to know, each asked once."""
        asking = self._asking
        pids = [pid for pid in self._checks if pid in asking]
        self._checks.clear()
        return pids

    def backends_checked(self, fact: BackendsChecked) -> list[Event]:
        """Apply the server's answer on which backends are still live sessions."""
        events: list[Event] = []
        nodes, asking, at = self._nodes, self._asking, fact.at
        for pid in fact.alive:
            node = nodes.get(asking.pop(pid, ""))
            if node is not None and node.pending == pid:
                self._undecide(node)
                self._mark_duplicate(node, at, events, also=pid)
        for pid in fact.gone:
            node = nodes.get(asking.pop(pid, ""))
            if node is None:
                continue
            if node.pending == pid:
                self._end_previous_session(node, at, events)
            elif node.pid_last.pop(pid, None) is not None and node.duplicate:
                self._maybe_clear_duplicate(node, at, events)
        return events

    def _ask(self, pid: int, name: str) -> None:
        self._checks[pid] = None
        remember(self._asking, pid, name)
        remember(self._asked, pid, None)

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
        self._cap.report(now, events)
        nodes, resumed = self._nodes, self._resumed_at
        undecided = self._undecided
        while undecided and undecided[0][0] <= now:
            when, name = heapq.heappop(undecided)
            node = nodes.get(name)
            if node is not None and node.pending is not None and node.pending_due == when:
                # No word from the server (a replay): the previous session stayed silent.
                self._end_previous_session(node, now, events)
        for name in list(self._duplicates):
            node = nodes[name]
            if now >= resumed + self._late_after(node):
                self._maybe_clear_duplicate(node, now, events)
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

    def _maybe_clear_duplicate(self, node: Node, now: float, events: list[Event]) -> None:
        live = node.live_pids(now, self._window(node))
        claims = self._claims
        if len(live) > 1 or (node.own_name and any(pid in claims for pid in live)):
            # Ask once about a backend gone quiet: a closed session clears the duplicate at once.
            t, interval = self.thresholds, self._interval(node)
            for pid, last in node.pid_last.items():
                quiet = t.state_for(now - last, interval) is not _ALIVE
                if quiet and pid not in self._asked:
                    self._ask(pid, node.name)
            return
        survivor = live[0] if live else node.pid
        for pid in [pid for pid in node.pid_last if pid != survivor]:
            del node.pid_last[pid]
        node.duplicate = False
        self._duplicates.discard(node.name)
        self.roster_version += 1
        node.pid = survivor
        if node.session != survivor and (not node.own_name or survivor == self._own_sender):
            node.begin_session(survivor)
        events.append(DuplicateNameCleared(now, node.name, survivor))

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
            if node.pending is not None:
                node.pending_due += outage
                heapq.heappush(self._undecided, (node.pending_due, node.name))
        self._frozen_at = None
        self._resumed_at = now
        self.beat_version += 1
