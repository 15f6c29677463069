"""What happened to each node lately, for its details: kept by the dashboard from its events."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from pgcluster_tui.core.events import (
    DuplicateNameCleared,
    DuplicateNameDetected,
    Event,
    NameClaimedByOther,
    NodeEvicted,
    NodeForgotten,
    NodeJoined,
    NodeRecovered,
    NodeReincarnated,
    NodeState,
    NodeStateChanged,
    SenderChurning,
)
from pgcluster_tui.core.format import format_age

ENTRIES = 20
"""Entries kept per node: the newest."""

NodeEvent = (
    NodeJoined
    | NodeStateChanged
    | NodeRecovered
    | NodeReincarnated
    | DuplicateNameDetected
    | DuplicateNameCleared
    | SenderChurning
    | NameClaimedByOther
    | NodeForgotten
    | NodeEvicted
)


def entry(event: NodeEvent) -> str:
    """One line of a node's history, without its name (the details say whose it is)."""
    match event:
        case NodeJoined(pid=pid):
            return f"joined from pid {pid}"
        case NodeStateChanged(state=NodeState.ALIVE, previous=previous, age=age):
            return f"{previous.value} → alive: heard after {format_age(age)}"
        case NodeStateChanged(state=state, previous=previous, age=age):
            return f"{previous.value} → {state.value}: silent for {format_age(age)}"
        case NodeRecovered(pid=pid, silent_for=silent):
            return f"recovered: pid {pid} after {format_age(silent)} silent"
        case NodeReincarnated(pid=pid, previous_pid=previous):
            return f"restarted: new backend pid {previous} → {pid}"
        case DuplicateNameDetected(pids=pids):
            return f"duplicate: sent by pids {', '.join(map(str, pids))}"
        case DuplicateNameCleared(pid=pid):
            return f"unique again: only pid {pid} is left"
        case SenderChurning(sessions=sessions):
            return f"churning: a new session for every beat ({sessions} sessions)"
        case NameClaimedByOther(pid=pid):
            return f"our name, also sent by pid {pid}"
        case NodeForgotten():
            return "forgotten"
        case NodeEvicted(state=state):
            return f"evicted over the node cap ({state.value})"
    return type(event).__name__  # pragma: no cover - every member of NodeEvent is matched


class History:
    """The last ENTRIES events of each node, for at most `nodes` nodes (the least recent go)."""

    def __init__(self, nodes: int) -> None:
        self.nodes = nodes
        self._events: OrderedDict[str, list[NodeEvent]] = OrderedDict()

    def add(self, events: Iterable[Event]) -> None:
        """Keep the events that are about one node."""
        kept = self._events
        for event in events:
            if not isinstance(event, NodeEvent):
                continue
            name = event.node
            entries = kept.get(name)
            if entries is None:
                entries = kept[name] = []
                if len(kept) > self.nodes:
                    kept.popitem(last=False)
            else:
                kept.move_to_end(name)
            entries.append(event)
            if len(entries) > 2 * ENTRIES:
                del entries[:-ENTRIES]  # trimmed in steps, not on every event

    def of(self, name: str) -> list[NodeEvent]:
        """A node's last ENTRIES events, oldest first."""
        return self._events.get(name, [])[-ENTRIES:]

    def __len__(self) -> int:
        return len(self._events)
