"""Backend sessions under each name: restarts, duplicates, churn, and our own name claimed."""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict

from pgcluster_tui.core.events import (
    BackendsChecked,
    DuplicateNameCleared,
    DuplicateNameDetected,
    Event,
    NameClaimedByOther,
    NodeState,
)
from pgcluster_tui.core.node import NO_SESSION, Node
from pgcluster_tui.core.roster import Roster, remember
from pgcluster_tui.core.thresholds import Thresholds

_ALIVE = NodeState.ALIVE


class Sessions(Roster):
    """Which backends send each name, and what the server is asked about them."""

    def __init__(self, thresholds: Thresholds | None, max_nodes: int) -> None:
        super().__init__(thresholds, max_nodes)
        # Session changes waiting for the server's word, by when beats decide instead.
        self._undecided: list[tuple[float, str]] = []
        self._checks: dict[int, None] = {}
        self._asking: OrderedDict[int, str] = OrderedDict()
        self._asked: OrderedDict[int, None] = OrderedDict()
        self._own_sender: int | None = None

    def own_sender(self, pid: int | None) -> None:
        """The backend pid that sends our own beats (None while disconnected)."""
        self._own_sender = pid
        if pid is not None:
            self._claims.pop(pid, None)  # the server reused a claimer's pid for our sender

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
                self._mark_duplicate(node, at, events, also=(node.session, pid))
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
        if node.pending is not None and now >= node.pending_due:
            # Its deadline passed before a tick came (a replay): silence has decided.
            self._end_previous_session(node, now, events)
            last = node.pid_last.get(pid)
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
            self._mark_duplicate(node, now, events, also=(node.session, pid))
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
        self, node: Node, now: float, events: list[Event], also: tuple[int, ...] = ()
    ) -> None:
        if node.duplicate:
            return
        node.duplicate = True
        self._duplicates.add(node.name)
        self.roster_version += 1
        pids = node.live_pids(now, self._window(node))
        pids += tuple(pid for pid in also if pid not in pids)
        events.append(DuplicateNameDetected(now, node.name, pids))

    def _decide_sessions(self, now: float, events: list[Event]) -> None:
        nodes, undecided = self._nodes, self._undecided
        while undecided and undecided[0][0] <= now:
            when, name = heapq.heappop(undecided)
            node = nodes.get(name)
            if node is not None and node.pending is not None and node.pending_due == when:
                # No word from the server (a replay): the previous session stayed silent.
                self._end_previous_session(node, now, events)
        for name in list(self._duplicates):
            node = nodes[name]
            if now >= self._resumed_at + self._late_after(node):
                self._maybe_clear_duplicate(node, now, events)

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
        # Forget a claimer of our name even if it is the last one heard: if it comes back,
        # it is a new claim on the name, not a beat of ours.
        keep = None if node.own_name and survivor in claims else survivor
        for pid in [pid for pid in node.pid_last if pid != keep]:
            del node.pid_last[pid]
        node.duplicate = False
        self._duplicates.discard(node.name)
        self.roster_version += 1
        node.pid = survivor
        if node.session != survivor and (not node.own_name or survivor == self._own_sender):
            node.begin_session(survivor)
        events.append(DuplicateNameCleared(now, node.name, survivor))
