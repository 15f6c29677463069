"""Notifications read at one instant are applied together, identical ones counted."""

from __future__ import annotations

from collections import Counter

from pgcluster_tui.core.events import (
    Event,
    Fact,
    Heard,
    JunkReceived,
    JunkSuppressed,
    NodeJoined,
    NodeStateChanged,
)
from pgcluster_tui.core.membership import Membership
from pgcluster_tui.core.monitor import Monitor, ReplaySource


def ingest(model: Membership, facts: list[Fact]) -> list[Event]:
    """Apply facts through a Monitor over a replay source, as the front ends do."""
    return Monitor(ReplaySource(), model).apply(facts)


T0 = 1_800_000_000.0


def heard(at: float, items: list[tuple[str, int]]) -> Heard:
    """A Heard chunk as the worker builds it."""
    return Heard(at, Counter(items))


def test_a_chunk_is_applied_in_first_arrival_order() -> None:
    model = Membership()
    events = model.observe_heard(heard(T0, [("a@h", 1), ("b@h", 2), ("a@h", 3)]))
    kinds = [type(e) for e in events]
    # The second backend of a@h: no verdict until the server says whether pid 1 lives on.
    assert kinds == [NodeJoined, NodeJoined, NodeStateChanged]
    assert model.take_backend_checks() == [1]
    assert model.view("a@h", T0).beats == 2


def test_a_flood_chunk_counts_repeats_without_learning_zero_gaps() -> None:
    model = Membership()
    for k in range(3):
        model.observe_heard(heard(T0 + 5 * k, [("a@h", 1)]))
    items = [(f"n{i % 100}@h", 7) for i in range(10_000)] + [("a@h", 1)] * 50
    chunk = heard(T0 + 15, items)
    assert chunk.total == 10_050
    events = model.observe_heard(chunk)
    assert model.beats_total == 3 + 10_000 + 50
    assert len([e for e in events if isinstance(e, NodeJoined)]) == 100
    assert model.view("n0@h", T0 + 15).beats == 100
    view = model.view("a@h", T0 + 15)
    assert view.beats == 53
    assert view.interval == 5.0


def test_repeated_junk_in_a_chunk_is_counted_and_summarised() -> None:
    model = Membership(junk_burst=5)
    events = model.observe_heard(heard(T0, [("junk", 9)] * 40))
    assert model.junk_counts["no @"] == 40
    assert len([e for e in events if isinstance(e, JunkReceived)]) == 1
    later = model.tick(T0 + 2)
    assert sum(e.count for e in later if isinstance(e, JunkSuppressed)) == 39


def test_expansion_and_ingest() -> None:
    chunk = heard(T0, [("a@h", 1), ("a@h", 1), ("b@h", 2)])
    assert [(n.payload, n.pid) for n in chunk.notifications()] == [
        ("a@h", 1),
        ("a@h", 1),
        ("b@h", 2),
    ]
    events = ingest(Membership(), [chunk])
    assert isinstance(events[0], NodeJoined)
