"""The node cap: who a new name may evict, and the names counted instead of tracked."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from pgcluster_tui.core.events import (
    Event,
    NodeEvicted,
    NodeJoined,
    NodesNotTracked,
    NodeState,
    Notification,
)
from pgcluster_tui.core.membership import Membership

# Default thresholds: interval 5 s, late after 7.5 s, suspect after 15 s, stale after 30 s.


def beat(model: Membership, at: float, node: str, pid: int = 100) -> list[Event]:
    """Apply one notification from `pid` carrying `node`."""
    return model.observe(Notification(node, pid, at))


def beats(model: Membership, times: Sequence[float], node: str, pid: int = 100) -> None:
    """Apply a series of notifications."""
    for at in times:
        beat(model, at, node, pid)


def of(kind: type[Event], events: Sequence[Event]) -> list[Event]:
    """The events of one kind."""
    return [e for e in events if isinstance(e, kind)]


def test_the_node_stale_longest_makes_room_first() -> None:
    model = Membership(max_nodes=3)
    beats(model, [0.0, 5.0], node="x@1")
    beats(model, [1.0, 6.0], node="y@1")
    beats(model, [30.0, 35.0], node="z@1")
    model.tick(40.0)  # x and y stale
    assert beat(model, 40.0, node="w@1") == [NodesNotTracked(40.0, 1, 1)]  # heard once: counted
    events = beat(model, 45.0, node="w@1")
    assert events == [NodeEvicted(45.0, "x@1", NodeState.STALE), NodeJoined(45.0, "w@1", 100)]
    assert len(model) == 3
    beat(model, 46.0, node="v@1")
    assert beat(model, 51.0, node="v@1")[0] == NodeEvicted(51.0, "y@1", NodeState.STALE)


def test_a_stale_node_heard_again_is_no_longer_evictable() -> None:
    model = Membership(max_nodes=3)
    beats(model, [0.0, 5.0], node="x@1")
    beats(model, [1.0, 6.0], node="y@1")
    beats(model, [30.0, 35.0, 40.0], node="z@1")
    model.tick(40.0)
    beat(model, 40.5, node="x@1")  # recovered
    beats(model, [41.0, 41.5], node="w@1")
    assert model.names() == ["x@1", "z@1", "w@1"]  # y made room
    assert beat(model, 42.0, node="v@1") == [NodesNotTracked(42.0, 1, 2)]
    assert beat(model, 47.0, node="v@1") == []  # heard again, but no room
    assert model.names() == ["x@1", "z@1", "w@1"]
    assert model.names() == ["x@1", "z@1", "w@1"]


def test_a_one_shot_name_that_never_came_back_makes_room() -> None:
    model = Membership(max_nodes=2)
    beats(model, [0.0, 5.0, 10.0], node="real@1")
    beat(model, 1.0, node="once@1", pid=2)
    beat(model, 3.6, node="new@1", pid=3)
    # No tick yet: its age (7.6 s > 7.5 s) says it is no longer fresh.
    events = beat(model, 8.6, node="new@1", pid=3)
    assert events == [NodeEvicted(8.6, "once@1", NodeState.NEW), NodeJoined(8.6, "new@1", 3)]


def test_established_twice_heard_and_fresh_nodes_are_never_evicted() -> None:
    model = Membership(max_nodes=3)
    beats(model, [1.0, 2.0, 3.0, 4.0], node="fast@1", pid=2)  # 1 s interval: late at 5.5
    beats(model, [0.0, 1.0], node="twice@1", pid=3)  # late at 8.5
    beat(model, 5.0, node="fresh@1", pid=4)
    model.tick(9.0)
    assert [model.state(n) for n in ("fast@1", "twice@1", "fresh@1")] == [
        NodeState.SUSPECT,
        NodeState.LATE,
        NodeState.NEW,
    ]
    assert beat(model, 9.0, node="n@1") == [NodesNotTracked(9.0, 1, 1)]
    assert beat(model, 9.5, node="n@1") == []  # heard again, but nobody may make room
    assert model.names() == ["fast@1", "twice@1", "fresh@1"]
    assert model.untracked == 1


def test_our_own_node_is_never_evicted_and_always_tracked() -> None:
    model = Membership(max_nodes=2, self_name="me@1")
    model.own_sender(7)
    beat(model, 0.0, node="me@1", pid=7)
    beat(model, 1.0, node="x@1")
    model.tick(100.0)  # both stale
    beat(model, 100.0, node="y@1")
    assert beat(model, 105.0, node="y@1")[0] == NodeEvicted(105.0, "x@1", NodeState.STALE)
    assert beat(model, 105.0, node="z@1") == [NodesNotTracked(105.0, 1, 2)]
    assert beat(model, 110.0, node="z@1") == []  # no room: counted once
    assert "me@1" in model
    crowded = Membership(max_nodes=1, self_name="me@1")
    crowded.own_sender(7)
    beats(crowded, [0.0, 5.0, 10.0], node="x@1")
    assert beat(crowded, 10.0, node="me@1", pid=7) == [NodeJoined(10.0, "me@1", 7, True)]
    assert len(crowded) == 2


def test_101_nodes_beating_with_a_cap_of_100_do_not_churn() -> None:
    model = Membership(max_nodes=100)
    names = [f"n{i:03d}@10.0.0.{i}" for i in range(101)]
    per_cycle: list[list[Event]] = []
    second = 0
    for cycle in range(8):
        events: list[Event] = []
        for i, name in enumerate(names):
            at = cycle * 5.0 + i * 0.049
            while second <= at:
                events += model.tick(float(second))
                second += 1
            events += beat(model, at, name, pid=1000 + i)
        per_cycle.append(events)
    assert len(of(NodeJoined, per_cycle[0])) == 100
    assert of(NodeEvicted, per_cycle[0]) == []
    for events in per_cycle[1:]:
        assert of(NodeJoined, events) == of(NodeEvicted, events) == []
    assert model.names() == names[:100]
    assert model.counts() == {NodeState.ALIVE: 100}
    assert model.untracked == 1
    assert [e for events in per_cycle for e in of(NodesNotTracked, events)] == [
        NodesNotTracked(100 * 0.049, 1, 1)
    ]


def test_an_alive_node_survives_ten_thousand_one_shot_names() -> None:
    model = Membership(max_nodes=100)
    events: list[Event] = []
    for second in range(100):
        events += model.tick(float(second))
        events += beat(model, float(second), node="real@10.0.0.1", pid=1)
        if second >= 50:  # a real newcomer, beating every second, once the model is full
            events += beat(model, float(second), node="late@10.0.0.3", pid=2)
        for k in range(100):
            i = second * 100 + k
            events += beat(model, second + k / 100, node=f"once{i}@10.0.0.2", pid=10 + i)
    events += model.tick(100.0)
    evicted = [e.node for e in events if isinstance(e, NodeEvicted)]
    assert len(evicted) == 1, "only the real newcomer made room: one-shot names are counted"
    assert evicted[0].startswith("once")
    assert model.state("real@10.0.0.1") is NodeState.ALIVE
    assert "late@10.0.0.3" in model
    assert len(model) == 100
    assert len(of(NodeJoined, events)) == 101
    reports = of(NodesNotTracked, events)
    assert sum(e.count for e in reports if isinstance(e, NodesNotTracked)) == model.untracked
    assert model.untracked == 10_000 - 99 + 1  # every one-shot name past the cap, and the newcomer
    times = [e.at for e in reports]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))


def test_untracked_names_are_counted_once_and_reported_at_most_once_a_second() -> None:
    model = Membership(max_nodes=1)
    beats(model, [0.0, 5.0, 10.0], node="x@1")
    batch = [Notification(f"n{i}@1", i, 10.0) for i in range(50)]
    assert model.observe_many(batch) == [NodesNotTracked(10.0, 50, 50)]
    again = [Notification(f"n{i}@1", i, 10.5) for i in range(45, 60)]
    assert model.observe_many(again) == []  # within the second
    assert model.untracked == 60
    assert model.tick(10.9) == []
    assert model.tick(11.0) == [NodesNotTracked(11.0, 10, 60)]
    assert model.tick(12.0) == []
    assert model.observe_many(batch) == []  # names already counted
    assert model.untracked == 60
    assert model.names() == ["x@1"]


def test_a_flood_of_one_shot_names_at_the_cap_costs_no_node_and_no_event_per_name() -> None:
    model = Membership(max_nodes=50)
    events: list[Event] = []
    for i in range(1000):
        if i % 100 == 0:
            events += model.tick(i * 0.1)
        events += beat(model, i * 0.1, node=f"n{i}@h", pid=i)
    assert len(model) == 50
    assert of(NodeEvicted, events) == []
    assert len(of(NodeJoined, events)) == 50
    assert model.untracked == 950
    times = [e.at for e in of(NodesNotTracked, events)]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))  # at most one a second


def test_the_schedule_stays_small_under_a_flood_of_names() -> None:
    model = Membership(max_nodes=50)
    for i in range(20_000):
        beat(model, i / 1000, node=f"n{i}@h", pid=i)
        if i % 1000 == 0:
            model.tick(i / 1000)
    model.tick(100.0)
    assert len(model) == 50
    assert len(model._due) <= 4 * 50 + 1024
    assert model.counts() == {NodeState.STALE: 50}
