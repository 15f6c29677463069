"""The membership model with a frozen clock: every transition, bound and edge, no I/O."""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgcluster_tui.core.events import (
    DuplicateNameCleared,
    DuplicateNameDetected,
    Event,
    JunkReceived,
    JunkSuppressed,
    NodeForgotten,
    NodeJoined,
    NodeRecovered,
    NodeReincarnated,
    NodeState,
    NodeStateChanged,
    Notification,
    SenderAttributed,
)
from pgcluster_tui.core.membership import (
    JUNK_PREVIEW_CHARS,
    MIN_INTERVAL,
    SORT_ORDERS,
    Membership,
    NodeView,
    Thresholds,
    phi,
)

A = "a@10.0.0.1"
B = "b@10.0.0.2"
C = "c@10.0.0.3"

# Default thresholds: interval 5 s, late after 7.5 s, suspect after 15 s, stale after 30 s.


def beat(model: Membership, at: float, node: str = A, pid: int = 100) -> list[Event]:
    """Apply one notification from `pid` carrying `node`."""
    return model.observe(Notification(node, pid, at))


def beats(model: Membership, times: Sequence[float], node: str = A, pid: int = 100) -> None:
    """Apply a regular series of notifications."""
    for at in times:
        beat(model, at, node, pid)


def kinds(events: Sequence[Event]) -> list[str]:
    """The kinds of a list of events, in order."""
    return [e.kind for e in events]


def changes(events: Sequence[Event]) -> list[tuple[NodeState, NodeState]]:
    """The (previous, state) pairs of the state changes in a list of events."""
    return [(e.previous, e.state) for e in events if isinstance(e, NodeStateChanged)]


# Transitions


def test_first_beat_joins_as_new_and_second_makes_alive() -> None:
    model = Membership()
    assert beat(model, 0.0) == [NodeJoined(0.0, A, 100, False)]
    assert model.state(A) is NodeState.NEW
    assert beat(model, 5.0) == [NodeStateChanged(5.0, A, NodeState.NEW, NodeState.ALIVE, 5.0)]
    assert model.state(A) is NodeState.ALIVE
    assert beat(model, 10.0) == []
    view = model.view(A, 10.0)
    assert (view.beats, view.first_seen, view.last_beat, view.state_since) == (3, 0.0, 10.0, 5.0)


def test_silence_goes_alive_late_suspect_stale_one_step_at_a_time() -> None:
    model = Membership()
    beats(model, [0.0, 5.0])
    assert model.tick(12.4) == []  # age 7.4 < 7.5
    assert model.tick(12.6) == [NodeStateChanged(12.6, A, NodeState.ALIVE, NodeState.LATE, 7.6)]
    assert model.tick(19.9) == []
    assert changes(model.tick(20.1)) == [(NodeState.LATE, NodeState.SUSPECT)]
    assert model.tick(34.9) == []
    assert changes(model.tick(35.1)) == [(NodeState.SUSPECT, NodeState.STALE)]
    assert model.state(A) is NodeState.STALE
    assert model.view(A, 35.1).state_since == 35.1
    assert model.tick(1000.0) == []  # stale is the end of the line


def test_a_long_gap_between_ticks_reports_every_state_in_order() -> None:
    model = Membership()
    beats(model, [0.0, 5.0])
    assert model.tick(100.0) == [
        NodeStateChanged(100.0, A, NodeState.ALIVE, NodeState.LATE, 95.0),
        NodeStateChanged(100.0, A, NodeState.LATE, NodeState.SUSPECT, 95.0),
        NodeStateChanged(100.0, A, NodeState.SUSPECT, NodeState.STALE, 95.0),
    ]
    assert model.counts() == {NodeState.STALE: 1}
    assert model.tick(200.0) == []


def test_a_new_node_that_falls_silent_goes_late() -> None:
    model = Membership()
    beat(model, 0.0)
    assert changes(model.tick(8.0)) == [(NodeState.NEW, NodeState.LATE)]


def test_late_node_heard_again_is_alive() -> None:
    model = Membership()
    beats(model, [0.0, 5.0])
    model.tick(13.0)
    assert model.state(A) is NodeState.LATE
    assert beat(model, 14.0) == [NodeStateChanged(14.0, A, NodeState.LATE, NodeState.ALIVE, 9.0)]


def test_suspect_node_heard_again_is_alive() -> None:
    model = Membership()
    beats(model, [0.0, 5.0])
    model.tick(21.0)
    assert model.state(A) is NodeState.SUSPECT
    assert changes(beat(model, 22.0)) == [(NodeState.SUSPECT, NodeState.ALIVE)]


def test_stale_node_heard_again_has_recovered() -> None:
    model = Membership()
    beats(model, [0.0, 5.0])
    model.tick(40.0)
    assert model.state(A) is NodeState.STALE
    assert beat(model, 65.0) == [NodeRecovered(65.0, A, 100, 60.0)]
    assert model.state(A) is NodeState.ALIVE
    assert model.view(A, 65.0).state_since == 65.0


def test_counts_and_views_order_worst_first() -> None:
    model = Membership()
    beats(model, [0.0, 5.0], node=B)
    beats(model, [20.0, 25.0], node=A)
    beat(model, 29.0, node=C)
    model.tick(29.0)
    assert model.counts() == {NodeState.SUSPECT: 1, NodeState.ALIVE: 1, NodeState.NEW: 1}
    # New lists before alive: heard once, it is not known to be alive yet.
    assert [v.name for v in model.views(29.0)] == [B, C, A]
    assert len(model) == 3
    assert A in model
    assert "x@y" not in model
    assert model.names() == [B, A, C]


# Interval, jitter and thresholds


def test_interval_and_jitter_are_estimated_from_the_nodes_own_gaps() -> None:
    model = Membership()
    beats(model, [0.0, 2.0])
    view = model.view(A, 2.0)
    assert not view.interval_estimated  # one gap is not an estimate
    assert view.interval == 5.0
    beat(model, 4.0)
    view = model.view(A, 4.0)
    assert view.interval_estimated
    assert view.interval == pytest.approx(2.0)
    assert view.jitter == 0.0  # a regular sender shows no jitter
    assert (view.late_after, view.suspect_after, view.stale_after) == pytest.approx((3, 6, 12))


def test_jitter_follows_irregular_gaps() -> None:
    model = Membership()
    at = 0.0
    for gap in [0.0, 4.0, 6.0, 4.0, 6.0, 4.0, 6.0, 4.0, 6.0]:
        at += gap
        beat(model, at)
    view = model.view(A, at)
    assert view.interval == pytest.approx(5.0, abs=0.3)
    assert 0.5 < view.jitter < 2.0


def test_outlier_gaps_do_not_move_the_estimate() -> None:
    model = Membership()
    beats(model, [0.0, 5.0, 10.0, 15.0])
    beat(model, 75.0)  # a 60 s silence
    beat(model, 80.0)
    view = model.view(A, 80.0)
    assert view.interval == pytest.approx(5.0)
    assert view.jitter == 0.0


def test_three_outliers_in_a_row_mean_the_node_changed_its_interval() -> None:
    model = Membership()
    beats(model, [0.0, 5.0, 10.0, 15.0])
    beats(model, [75.0, 135.0, 195.0, 255.0, 315.0])
    assert model.view(A, 315.0).interval == pytest.approx(60.0)


def test_thresholds_follow_the_nodes_own_interval() -> None:
    model = Membership()
    beats(model, [0.0, 1.0, 2.0, 3.0])  # a 1 s sender: late after 1.5 s
    assert changes(model.tick(4.6)) == [(NodeState.ALIVE, NodeState.LATE)]


def test_thresholds_fall_back_to_the_configured_interval() -> None:
    model = Membership(Thresholds(interval=2.0))
    beats(model, [0.0, 1.0])  # one gap: not enough to estimate
    assert model.tick(3.9) == []
    assert changes(model.tick(4.1)) == [(NodeState.ALIVE, NodeState.LATE)]


def test_estimated_interval_has_a_floor() -> None:
    model = Membership()
    beats(model, [0.0, 0.0, 0.0, 0.01, 0.02])
    view = model.view(A, 0.02)
    assert view.interval == MIN_INTERVAL
    assert view.late_after == 1.5 * MIN_INTERVAL


def test_thresholds_say_which_state_an_age_has_reached_and_when_the_next_comes() -> None:
    t = Thresholds()  # late after 1.5 intervals, suspect after 3, stale after 6
    ages = [7.5, 7.6, 15.0, 15.1, 30.0, 30.1]
    assert [t.state_for(age, 5.0) for age in ages] == [
        NodeState.ALIVE,
        NodeState.LATE,
        NodeState.LATE,
        NodeState.SUSPECT,
        NodeState.SUSPECT,
        NodeState.STALE,
    ]
    assert [t.worse_after(s, 2.0) for s in NodeState] == [3.0, 3.0, 6.0, 12.0, math.inf]


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="late < suspect < stale"):
        Thresholds(late=3.0, suspect=2.0)
    with pytest.raises(ValueError, match="interval > 0"):
        Thresholds(interval=0.0)


# Phi


def test_phi_grows_with_silence_and_stays_finite() -> None:
    model = Membership()
    beats(model, [0.0, 5.0, 10.0, 15.0])
    values = [model.view(A, 15.0 + age).phi for age in (0.0, 2.0, 5.0, 7.5, 10.0, 30.0, 1e6)]
    assert values == sorted(values)
    assert values[0] < 0.01
    assert values[-1] == 300.0
    assert all(math.isfinite(v) for v in values)


@settings(deadline=None)  # no flakes on a loaded machine
@given(
    st.floats(0, 1e7),
    st.floats(0, 1e7),
    st.floats(1e-3, 1e5),
    st.floats(0, 1e5),
)
def test_phi_is_monotone_in_age_and_finite(
    age1: float, age2: float, interval: float, deviation: float
) -> None:
    low, high = sorted((age1, age2))
    p_low, p_high = phi(low, interval, deviation), phi(high, interval, deviation)
    assert 0.0 <= p_low <= p_high <= 300.0


# Backend pids: duplicates and incarnations


def test_two_backends_interleaving_one_name_is_a_duplicate() -> None:
    model = Membership()
    assert kinds(beat(model, 0.0, pid=100)) == ["node_joined"]
    # A second backend: a restart or a duplicate, it cannot be told yet.
    events = beat(model, 2.5, pid=200)
    assert not any(isinstance(e, NodeReincarnated) for e in events)
    assert model.take_backend_checks() == [100]
    assert beat(model, 5.0, pid=100) == [DuplicateNameDetected(5.0, A, (100, 200))]
    assert model.view(A, 5.0).duplicate
    assert model.view(A, 5.0).pids == (100, 200)
    # It is reported once, not on every beat.
    assert beat(model, 7.5, pid=200) == []
    assert beat(model, 10.0, pid=100) == []
    assert model.tick(10.0) == []


def test_duplicate_clears_when_one_backend_stops() -> None:
    model = Membership()
    beat(model, 0.0, pid=100)
    beat(model, 2.5, pid=200)
    beat(model, 5.0, pid=100)
    beats(model, [10.0, 15.0, 20.0], pid=100)  # pid 200 last heard at 2.5
    assert model.tick(17.0) == []  # still within the suspect window of pid 200
    assert model.tick(18.0) == [DuplicateNameCleared(18.0, A, 100)]
    assert not model.view(A, 18.0).duplicate
    assert model.view(A, 18.0).pids == (100,)
    assert model.tick(19.0) == []


def test_a_new_backend_after_the_old_one_stops_is_a_new_incarnation() -> None:
    model = Membership()
    beats(model, [0.0, 5.0, 10.0], pid=100)
    assert beat(model, 15.0, pid=300) == []
    # Nobody answers whether pid 100 is still there: its silence decides, one late threshold on.
    assert model.tick(22.0) == []
    assert model.tick(22.5) == [NodeReincarnated(22.5, A, 300, 100)]
    beats(model, [20.0, 25.0, 30.0], pid=300)
    assert model.tick(31.0) == []
    view = model.view(A, 31.0)
    assert not view.duplicate
    assert view.pids == (300,)
    assert view.beats == 7


def test_senders_are_remembered_for_attribution() -> None:
    model = Membership()
    sender = SenderAttributed(1.0, 100, "10.0.0.1", "cluster_node_a", "app", "2026-01-01T00:00:00Z")
    model.attribute(sender)
    assert model.sender(100) == sender
    assert model.sender(101) is None


# Forgetting, our own node


def test_forget_and_come_back() -> None:
    model = Membership()
    beats(model, [0.0, 5.0])
    assert model.forget(A, 6.0) == [NodeForgotten(6.0, A)]
    assert A not in model
    assert model.forget(A, 6.0) == []
    assert beat(model, 10.0) == [NodeJoined(10.0, A, 100, False)]
    assert model.state(A) is NodeState.NEW
    assert model.view(A, 10.0).beats == 1


def test_forget_stale_removes_only_stale_nodes() -> None:
    model = Membership()
    beats(model, [0.0, 5.0], node=A)
    beats(model, [0.0, 5.0], node=B)
    beats(model, [30.0, 38.0], node=C)
    model.tick(40.0)
    assert model.state(A) is NodeState.STALE
    assert model.forget_stale(40.0) == [NodeForgotten(40.0, A), NodeForgotten(40.0, B)]
    assert model.names() == [C]


def test_own_node_is_marked() -> None:
    model = Membership(self_name=B)
    model.own_sender(100)
    beat(model, 0.0, node=B)
    beat(model, 0.0, node=A)
    assert model.view(B, 0.0).is_self
    assert not model.view(A, 0.0).is_self


def test_own_node_join_event_says_so() -> None:
    model = Membership(self_name=B)
    model.own_sender(7)
    assert beat(model, 0.0, node=B, pid=7) == [NodeJoined(0.0, B, 7, True)]


# Junk


def test_junk_is_an_event_with_reason_length_and_pid() -> None:
    model = Membership()
    assert beat(model, 0.0, node="[bold]", pid=9) == [JunkReceived(0.0, "[bold]", "no @", 6, 9)]
    assert len(model) == 0
    assert model.beats_total == 0


def test_long_junk_keeps_a_bounded_preview_and_its_length() -> None:
    model = Membership()
    (event,) = beat(model, 0.0, node="x" * 7999)
    assert isinstance(event, JunkReceived)
    assert event.payload == "x" * JUNK_PREVIEW_CHARS
    assert event.length == 7999
    assert event.reason == "too long"


def test_junk_is_rate_limited_and_counted() -> None:
    model = Membership(junk_burst=3)
    events: list[Event] = []
    for i in range(5):
        events += beat(model, i * 0.1, node=f"junk{i}")
    events += beat(model, 0.5, node="")
    assert kinds(events) == ["junk_received"] * 3
    assert model.junk_counts == {"no @": 5, "empty": 1}
    # The next window reports what the last one left out, then lets junk through again.
    events = beat(model, 1.0, node="\x1b[2J")
    assert events == [
        JunkSuppressed(1.0, 3),
        JunkReceived(1.0, "\x1b[2J", "control characters", 4, 100),
    ]
    assert model.junk_counts["control characters"] == 1


def test_tick_reports_suppressed_junk_once_the_window_ends() -> None:
    model = Membership(junk_burst=1)
    for i in range(4):
        beat(model, 0.0, node=f"junk{i}")
    assert model.tick(0.5) == []
    assert model.tick(1.0) == [JunkSuppressed(1.0, 3)]
    assert model.tick(2.0) == []


def test_junk_does_not_disturb_nodes() -> None:
    model = Membership()
    beats(model, [0.0, 5.0])
    beat(model, 6.0, node="")
    beat(model, 7.0, node="x" * 300)
    assert model.view(A, 7.0).beats == 2
    assert model.names() == [A]


# Our own outage: freeze and resume


def test_no_transitions_while_frozen_and_ages_stop() -> None:
    model = Membership()
    beats(model, [0.0, 5.0])
    model.freeze(11.0)
    assert model.frozen
    assert model.tick(100.0) == []
    assert model.state(A) is NodeState.ALIVE
    assert model.age(A, 100.0) == 6.0
    assert model.view(A, 100.0).age == 6.0


def test_resume_continues_ages_from_where_they_stopped_after_a_grace() -> None:
    model = Membership()
    beats(model, [0.0, 5.0])
    model.freeze(12.0)  # age 7: just under late
    model.freeze(50.0)  # a second freeze does not move the start
    model.resume(100.0)
    assert not model.frozen
    assert model.age(A, 100.0) == 7.0
    # Grace: one late threshold (7.5 s) during which nobody gets worse.
    assert model.tick(101.0) == []
    assert model.tick(107.4) == []
    assert changes(model.tick(107.6)) == [(NodeState.ALIVE, NodeState.LATE)]


def test_after_an_outage_each_node_has_its_own_grace_and_skips_no_state() -> None:
    model = Membership()
    beats(model, [100.0, 102.0, 104.0, 106.0])  # every 2 s: late after 3 s, suspect 6, stale 12
    beats(model, [76.0, 86.0, 96.0, 106.0], node=B, pid=2)  # every 10 s: late after 15 s
    model.freeze(107.0)
    model.resume(200.0)
    seen = []
    for second in range(200, 231):
        for e in model.tick(float(second)):
            assert isinstance(e, NodeStateChanged)
            seen.append((second, e.node, e.previous, e.state))
    assert seen == [
        (203, A, NodeState.ALIVE, NodeState.LATE),
        (206, A, NodeState.LATE, NodeState.SUSPECT),
        (212, A, NodeState.SUSPECT, NodeState.STALE),
        (215, B, NodeState.ALIVE, NodeState.LATE),  # a 10 s node waits 15 s, not 7.5 s
        (230, B, NodeState.LATE, NodeState.SUSPECT),
    ]


def test_the_first_tick_long_after_an_outage_reports_every_state_in_order() -> None:
    model = Membership()
    beats(model, [0.0, 5.0])
    model.freeze(6.0)
    model.resume(100.0)
    assert changes(model.tick(107.4)) == []
    assert changes(model.tick(200.0)) == [
        (NodeState.ALIVE, NodeState.LATE),
        (NodeState.LATE, NodeState.SUSPECT),
        (NodeState.SUSPECT, NodeState.STALE),
    ]


def test_an_outage_never_paints_the_cluster_stale() -> None:
    model = Membership()
    beats(model, [0.0, 5.0], node=A)
    beats(model, [0.0, 5.0], node=B, pid=2)
    model.freeze(6.0)
    model.tick(3600.0)
    model.resume(3600.0)
    beat(model, 3601.0, node=A)
    assert model.tick(3601.0) == []
    assert model.counts() == {NodeState.ALIVE: 2}


def test_a_node_heard_during_the_outage_ages_from_that_beat() -> None:
    model = Membership()
    beats(model, [0.0, 5.0])
    model.freeze(6.0)
    beat(model, 50.0, node=B, pid=2)
    model.resume(60.0)
    assert model.age(A, 60.0) == 1.0
    assert model.age(B, 60.0) == 10.0


def test_resume_without_freeze_does_nothing() -> None:
    model = Membership()
    beats(model, [0.0, 5.0])
    model.resume(6.0)
    assert changes(model.tick(13.0)) == [(NodeState.ALIVE, NodeState.LATE)]


# Events as JSON


def test_event_to_json_shape() -> None:
    event = NodeStateChanged(1764163200.5, A, NodeState.ALIVE, NodeState.LATE, 7.6)
    data = event.to_json()
    assert list(data) == ["event", "at", "node", "previous", "state", "age"]
    assert data == {
        "event": "node_state_changed",
        "at": "2025-11-26T13:20:00.500+00:00",
        "node": A,
        "previous": "alive",
        "state": "late",
        "age": 7.6,
    }
    assert json.loads(json.dumps(data)) == data


def test_event_to_json_turns_tuples_into_lists() -> None:
    data = DuplicateNameDetected(0.0, A, (1, 2)).to_json()
    assert data == {
        "event": "duplicate_name",
        "at": "1970-01-01T00:00:00.000+00:00",
        "node": A,
        "pids": [1, 2],
    }
    assert json.dumps(data)


def test_every_membership_event_kind_is_distinct_and_snake_case() -> None:
    from pgcluster_tui.core import events

    kinds_seen = [
        cls.kind
        for cls in vars(events).values()
        if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event
    ]
    assert len(kinds_seen) == len(set(kinds_seen))
    assert all(k.replace("_", "").isalpha() and k.islower() for k in kinds_seen)


# Invariants


_step = st.one_of(
    st.tuples(st.just("beat"), st.sampled_from([A, B, C]), st.sampled_from([1, 2, 3])),
    st.tuples(st.just("tick"), st.none(), st.none()),
    st.tuples(st.just("junk"), st.text(max_size=5), st.none()),
    st.tuples(st.just("forget"), st.sampled_from([A, B, C]), st.none()),
)


def zone(view: NodeView) -> int:
    """The severity a node's age calls for, computed from scratch."""
    if view.age > view.stale_after:
        return NodeState.STALE.severity
    if view.age > view.suspect_after:
        return NodeState.SUSPECT.severity
    if view.age > view.late_after:
        return NodeState.LATE.severity
    return 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 20), _step), max_size=60))
def test_states_only_worsen_on_tick_and_improve_only_on_beat(
    steps: list[tuple[float, tuple[str, str | None, int | None]]],
) -> None:
    model = Membership(max_nodes=2)
    now = 0.0
    for gap, (action, payload, pid) in steps:
        now += gap
        before = {v.name: v.state.severity for v in model.views(now)}
        if action == "tick":
            events = model.tick(now)
            views = model.views(now)
            after = {v.name: v.state.severity for v in views}
            assert set(after) == set(before)
            assert all(after[n] >= before[n] for n in after)
            # The tick looks only at nodes that are due; a full scan finds the same states.
            assert all(v.state.severity == max(before[v.name], zone(v)) for v in views)
            # One state at a time, in order, from where each node was.
            reached = dict(before)
            for e in events:
                if isinstance(e, NodeStateChanged):
                    assert e.previous.severity == reached[e.node]
                    assert e.state.severity == e.previous.severity + 1
                    reached[e.node] = e.state.severity
            assert reached == after
        elif action == "forget":
            assert payload is not None
            model.forget(payload, now)
            assert payload not in model
        else:
            assert payload is not None
            events = model.observe(Notification(payload, pid or 0, now))
            for e in events:
                if isinstance(e, NodeStateChanged):
                    assert e.state is NodeState.ALIVE
            if action == "beat" and payload in model:
                assert model.state(payload) in (NodeState.NEW, NodeState.ALIVE)
            elif action == "beat":
                assert len(model) == 2
                assert model.untracked > 0
        assert len(model) <= 2
        assert model.counts() == Counter(v.state for v in model.views(now))
        for view in model.views(now):
            assert view.age >= 0.0
            assert math.isfinite(view.phi)
            assert view.interval >= MIN_INTERVAL


def _sample(hint: object) -> object:
    samples: dict[object, object] = {
        str: "x[bold]\x1b",
        int: 7,
        float: 1.5,
        bool: True,
        NodeState: NodeState.LATE,
        tuple[int, ...]: (1, 2),
        float | None: 2.5,
    }
    return samples[hint]


def test_every_event_serialises_to_the_stable_json_shape() -> None:
    from pgcluster_tui.core import events

    classes = [
        cls
        for cls in vars(events).values()
        if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event
    ]
    assert len(classes) >= 20
    for cls in classes:
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {f.name: _sample(hints[f.name]) for f in dataclasses.fields(cls)}
        values["at"] = 0.25
        data = cls(**values).to_json()
        assert list(data)[:2] == ["event", "at"]
        assert data["event"] == cls.kind
        assert data["at"] == "1970-01-01T00:00:00.250+00:00"
        assert json.loads(json.dumps(data)) == data


def test_a_wall_clock_stepping_back_does_not_corrupt_the_estimate() -> None:
    model = Membership()
    beats(model, [100.0, 105.0, 110.0, 115.0])
    beat(model, 50.0)  # NTP stepped the clock back
    beats(model, [55.0, 60.0])
    view = model.view(A, 60.0)
    assert view.interval == pytest.approx(5.0)
    assert view.jitter >= 0.0
    assert view.age == 0.0
    assert model.tick(61.0) == []


def test_ordered_sorts_by_each_order_and_filters_by_name_or_state() -> None:
    model = Membership()
    beats(model, [0.0, 5.0, 10.0], node=B)
    beats(model, [0.0, 2.0, 4.0, 6.0], node=A)
    beat(model, 1.0, node=C)
    model.tick(20.0)  # A (every 2 s) silent 14 s: stale; C silent 19 s: suspect; B 10 s: late
    assert [model.state(n) for n in (A, B, C)] == [
        NodeState.STALE,
        NodeState.LATE,
        NodeState.SUSPECT,
    ]
    assert model.ordered("state") == [A, C, B]
    assert model.ordered("state", reverse=True) == [B, C, A]
    assert model.ordered("name") == [A, B, C]
    assert model.ordered("age") == [C, A, B]
    assert model.ordered("beats") == [A, B, C]
    assert model.ordered("interval") == [B, C, A]
    assert model.ordered("first") == [A, B, C]
    assert model.ordered("since", words=["s"]) == [A, C]
    assert model.ordered("name", words=["10.0.0", "b@"]) == [B]
    assert set(SORT_ORDERS) == {"state", "name", "age", "beats", "interval", "first", "since"}
    with pytest.raises(ValueError, match="unknown sort order"):
        model.ordered("colour")


def test_versions_say_what_can_have_moved() -> None:
    model = Membership()
    beat(model, 0.0)
    roster, beats_seen = model.roster_version, model.beat_version
    beat(model, 1.0)  # new -> alive: a state change
    assert model.roster_version > roster
    roster = model.roster_version
    beat(model, 2.0)  # a plain beat moves only beat-driven orders
    assert (model.roster_version, model.beat_version) == (roster, beats_seen + 2)
    model.tick(3.0)
    assert model.roster_version == roster
    model.tick(20.0)
    assert model.roster_version > roster


def test_a_shrinking_interval_brings_the_next_deadline_forward() -> None:
    model = Membership()
    beats(model, [0.0, 1.0, 2.0, 3.0])  # learns a 1 s interval: late after 1.5 s
    assert model.tick(5.0) == [NodeStateChanged(5.0, A, NodeState.ALIVE, NodeState.LATE, 2.0)]
