"""Notifications read at one instant are applied together, identical ones counted."""

from __future__ import annotations

from pgcluster_tui.core.events import (
    Heard,
    JunkReceived,
    JunkSuppressed,
    NodeJoined,
    NodeReincarnated,
)
from pgcluster_tui.core.ingest import ingest
from pgcluster_tui.core.membership import Membership

T0 = 1_800_000_000.0


def test_a_small_chunk_is_applied_item_by_item_in_order() -> None:
    model = Membership()
    events = model.observe_heard(Heard(T0, [("c", "a@h", 1), ("c", "b@h", 2), ("c", "a@h", 3)]))
    kinds = [type(e) for e in events]
    assert kinds[:3] == [NodeJoined, NodeJoined, NodeReincarnated]
    assert model.view("a@h", T0).beats == 2


def test_a_flood_chunk_counts_repeats_without_learning_zero_gaps() -> None:
    model = Membership()
    model.observe_heard(Heard(T0, [("c", "a@h", 1)]))
    model.observe_heard(Heard(T0 + 5, [("c", "a@h", 1)]))
    model.observe_heard(Heard(T0 + 10, [("c", "a@h", 1)]))
    items = [("c", f"n{i % 100}@h", 7) for i in range(10_000)] + [("c", "a@h", 1)] * 50
    events = model.observe_heard(Heard(T0 + 15, items))
    assert model.beats_total == 3 + 10_000 + 50
    assert len([e for e in events if isinstance(e, NodeJoined)]) == 100
    assert model.view("n0@h", T0 + 15).beats == 100
    view = model.view("a@h", T0 + 15)
    assert view.beats == 53
    assert view.interval == 5.0


def test_repeated_junk_in_a_chunk_is_counted_and_summarised() -> None:
    model = Membership(junk_burst=5)
    items = [("c", "junk", 9)] * 40
    events = model.observe_heard(Heard(T0, items))
    assert model.junk_counts["no @"] == 40
    assert len([e for e in events if isinstance(e, JunkReceived)]) == 1
    later = model.tick(T0 + 2)
    assert sum(e.count for e in later if isinstance(e, JunkSuppressed)) == 39


def test_ingest_expands_nothing_and_keeps_order() -> None:
    model = Membership()
    heard = Heard(T0, [("c", "a@h", 1)])
    assert heard.notifications()[0].payload == "a@h"
    events = ingest(model, [heard])
    assert isinstance(events[0], NodeJoined)
