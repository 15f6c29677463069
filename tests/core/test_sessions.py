"""Backend sessions under one name: duplicates, restarts, churning senders, our name claimed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from pgcluster_tui.core.events import (
    BackendsChecked,
    DuplicateNameCleared,
    DuplicateNameDetected,
    Event,
    NameClaimedByOther,
    NodeJoined,
    NodeReincarnated,
    Notification,
    SenderChurning,
)
from pgcluster_tui.core.membership import Membership

A = "a@10.0.0.1"

# Default thresholds: interval 5 s, late after 7.5 s, suspect after 15 s, stale after 30 s.


def beat(model: Membership, at: float, pid: int, node: str = A) -> list[Event]:
    """Apply one notification from `pid` carrying `node`."""
    return model.observe(Notification(node, pid, at))


def kinds(events: Sequence[Event]) -> list[str]:
    """The kinds of a list of events, in order."""
    return [e.kind for e in events]


class Server:
    """Answers the model's questions the way pg_stat_activity would."""

    def __init__(self, model: Membership) -> None:
        self.model = model
        self.live: set[int] = set()
        """Sessions open whatever the beats say."""
        self.sessions: dict[int, tuple[float, float]] = {}
        """Each backend is open from its first beat until half a second after its last."""
        self.asked: list[int] = []

    def answer(self, at: float) -> list[Event]:
        """Take the model's questions and answer them at once."""
        pids = self.model.take_backend_checks()
        self.asked += pids
        if not pids:
            return []
        alive = tuple(p for p in pids if self.open(p, at))
        gone = tuple(p for p in pids if not self.open(p, at))
        return self.model.backends_checked(BackendsChecked(at, alive, gone))

    def open(self, pid: int, at: float) -> bool:
        """Whether the backend is a live session at `at`."""
        first, last = self.sessions.get(pid, (at, -1.0))
        return pid in self.live or first <= at <= last + 0.5


def run(
    model: Membership,
    beats: Sequence[tuple[float, int]],
    until: float,
    server: Server | None = None,
) -> list[Event]:
    """Apply (time, pid) beats of A in time order, ticking every second, answering if a server."""
    events: list[Event] = []
    pending = sorted(beats)
    if server is not None:
        for at, pid in pending:
            first, _ = server.sessions.get(pid, (at, at))
            server.sessions[pid] = (first, at)
    second = 0.0
    while second <= until:
        while pending and pending[0][0] <= second:
            at, pid = pending.pop(0)
            events += beat(model, at, pid)
            if server is not None:
                events += server.answer(at)
        events += model.tick(second)
        if server is not None:
            events += server.answer(second)
        second += 1.0
    return events


# Two sessions, one name


def test_two_sessions_beating_one_name_are_a_duplicate_never_a_restart() -> None:
    model = Membership()
    interleaved = [(t, 100) for t in range(0, 60, 5)] + [(t + 2.5, 200) for t in range(0, 60, 5)]
    events = run(model, interleaved, until=60.0)
    assert kinds(events).count("duplicate_name") == 1
    assert "node_reincarnated" not in kinds(events)
    assert DuplicateNameDetected(5.0, A, (100, 200)) in events  # pid 100 beat again: proof
    view = model.view(A, 60.0)
    assert view.duplicate
    assert set(view.pids) == {100, 200}
    assert view.sessions == 0


def test_the_server_saying_the_first_session_lives_is_a_duplicate_at_once() -> None:
    model = Membership()
    server = Server(model)
    server.live.add(100)
    beat(model, 0.0, 100)
    beat(model, 2.5, 200)
    assert server.answer(2.6) == [DuplicateNameDetected(2.6, A, (200, 100))]
    assert server.asked == [100]
    # The proof that follows changes nothing, and the deadline passes quietly.
    assert beat(model, 5.0, 100) == []
    assert model.tick(11.0) == []


def test_a_late_answer_after_the_proof_changes_nothing() -> None:
    model = Membership()
    beat(model, 0.0, 100)
    beat(model, 2.5, 200)
    assert model.take_backend_checks() == [100]
    assert kinds(beat(model, 5.0, 100)) == ["duplicate_name"]
    assert model.backends_checked(BackendsChecked(5.1, (100,), ())) == []
    assert model.take_backend_checks() == []


def test_a_question_resolved_before_it_is_taken_is_not_asked() -> None:
    model = Membership()
    beat(model, 0.0, 100)
    beat(model, 2.5, 200)
    beat(model, 5.0, 100)
    assert model.take_backend_checks() == []


def test_a_duplicate_clears_at_once_when_the_server_says_the_other_session_closed() -> None:
    model = Membership()
    server = Server(model)
    events = run(model, [(0.0, 100), (2.5, 200), (5.0, 100), (7.5, 200), (10.0, 100)], 10.0)
    assert kinds(events).count("duplicate_name") == 1
    assert model.take_backend_checks() == []
    beat(model, 15.0, 100)
    # Pid 200 is quiet for one late threshold: the model asks about it, once.
    assert model.tick(15.0) == []
    assert model.take_backend_checks() == []
    assert model.tick(16.0) == []
    assert model.take_backend_checks() == [200]
    assert model.backends_checked(BackendsChecked(16.1, (), (200,))) == [
        DuplicateNameCleared(16.1, A, 100)
    ]
    view = model.view(A, 16.1)
    assert (view.duplicate, view.pids) == (False, (100,))
    assert model.tick(17.0) == []
    assert server.answer(17.0) == []


# A session replaced


def test_a_session_that_closes_and_is_replaced_is_a_restart_not_a_duplicate() -> None:
    model = Membership()
    server = Server(model)
    replaced = [(float(t), 100) for t in range(0, 25, 5)] + [
        (float(t), 300) for t in range(30, 60, 5)
    ]
    events = run(model, replaced, until=60.0, server=server)
    assert [e for e in events if isinstance(e, NodeReincarnated)] == [
        NodeReincarnated(30.0, A, 300, 100)
    ]
    assert "duplicate_name" not in kinds(events)
    view = model.view(A, 60.0)
    assert (view.pids, view.sessions, view.churning, view.duplicate) == ((300,), 1, False, False)
    assert 5.0 < view.interval < 6.0  # the 10 s between the sessions counts as one gap


def test_without_an_answer_the_silence_of_the_old_session_decides() -> None:
    model = Membership()
    replaced = [(float(t), 100) for t in range(0, 25, 5)] + [
        (float(t), 300) for t in range(30, 60, 5)
    ]
    events = run(model, replaced, until=60.0)
    # Pid 300 first beat at 30; one late threshold (7.5 s) later the first session is gone.
    assert [e for e in events if isinstance(e, NodeReincarnated)] == [
        NodeReincarnated(38.0, A, 300, 100)
    ]
    assert "duplicate_name" not in kinds(events)
    assert model.view(A, 60.0).pids == (300,)


def test_a_long_restart_gap_is_not_learned_as_the_interval() -> None:
    model = Membership()
    server = Server(model)
    replaced = [(float(t), 100) for t in range(0, 50, 5)] + [(float(t), 300) for t in (120, 125)]
    run(model, replaced, until=125.0, server=server)
    view = model.view(A, 125.0)
    assert view.sessions == 1
    assert view.interval == 5.0


# A sender with a new session per beat


def churning(times: Sequence[float], first_pid: int = 1000) -> list[tuple[float, int]]:
    """One beat per session, as a psql loop sends."""
    return [(t, first_pid + k) for k, t in enumerate(times)]


def test_a_sender_with_a_session_per_beat_is_churning_once_not_restarting() -> None:
    for server_answers in (True, False):
        model = Membership()
        server = Server(model) if server_answers else None
        events = run(model, churning([float(t) for t in range(0, 100, 5)]), 100.0, server)
        assert "node_reincarnated" not in kinds(events)
        assert "duplicate_name" not in kinds(events)
        churns = [e for e in events if isinstance(e, SenderChurning)]
        assert churns == [SenderChurning(churns[0].at, A, 2)]
        view = model.view(A, 96.0)
        assert view.churning
        assert view.interval_estimated
        assert view.interval == 5.0
        assert view.state.value == "alive"
        assert len(view.pids) <= 2
        assert 1019 in view.pids
        assert view.sessions >= 18


def test_a_churning_sender_that_settles_and_churns_again_is_reported_again() -> None:
    model = Membership()
    server = Server(model)
    times = [float(t) for t in range(0, 30, 5)]
    settled = [(float(t), 5000) for t in range(30, 50, 5)]  # four beats from one session
    again = churning([float(t) for t in range(50, 80, 5)], first_pid=6000)
    events = run(model, churning(times) + settled + again, 80.0, server)
    churns = [e for e in events if isinstance(e, SenderChurning)]
    assert [e.sessions for e in churns] == [2, 9]
    # Settling is a restart worth reporting; the one-beat sessions are not.
    assert [e for e in events if isinstance(e, NodeReincarnated)] == [
        NodeReincarnated(50.0, A, 6000, 5000)
    ]
    assert model.view(A, 80.0).churning


def test_a_settled_session_clears_the_churning_flag() -> None:
    model = Membership()
    server = Server(model)
    times = churning([float(t) for t in range(0, 20, 5)]) + [(float(t), 7) for t in (20, 25)]
    run(model, times, 26.0, server)
    assert model.view(A, 26.0).churning  # two beats: not settled yet
    run(model, [(30.0, 7)], 31.0, server)
    assert not model.view(A, 31.0).churning


# Our own name


def test_our_name_sent_by_a_live_node_is_a_claim_not_our_reincarnation() -> None:
    model = Membership(self_name=A)
    model.own_sender(50)
    events: list[Event] = []
    for t in range(0, 30, 5):
        events += beat(model, float(t), 100)
        events += beat(model, t + 1.0, 50)
        events += model.tick(t + 1.0)
    assert events[:2] == [NodeJoined(0.0, A, 100, False), NameClaimedByOther(0.0, A, 100)]
    assert kinds(events).count("name_claimed_by_other") == 1
    assert "node_reincarnated" not in kinds(events)
    assert "duplicate_cleared" not in kinds(events)
    assert model.take_backend_checks() == []
    view = model.view(A, 26.0)
    assert (view.is_self, view.duplicate, view.claimed_by_other) == (True, True, True)
    assert view.interval == 5.0
    assert set(view.pids) == {50, 100}


def test_each_backend_that_claims_our_name_is_reported_once() -> None:
    model = Membership(self_name=A)
    model.own_sender(50)
    assert beat(model, 0.0, 50) == [NodeJoined(0.0, A, 50, True)]
    # The name is heard either way: the other node keeps it alive for the cluster.
    assert kinds(beat(model, 1.0, 100)) == ["name_claimed_by_other", "node_state_changed"]
    assert beat(model, 2.0, 100) == []
    assert beat(model, 3.0, 101) == [NameClaimedByOther(3.0, A, 101)]
    assert model.view(A, 3.0).duplicate


def test_a_claim_ends_when_the_other_backend_falls_silent() -> None:
    model = Membership(self_name=A)
    model.own_sender(50)
    beat(model, 0.0, 50)
    beat(model, 1.0, 100)
    for t in range(5, 25, 5):
        beat(model, float(t), 50)
    assert model.tick(16.0) == []
    assert model.tick(17.0) == [DuplicateNameCleared(17.0, A, 50)]
    view = model.view(A, 20.0)
    assert (view.duplicate, view.claimed_by_other, view.pids) == (False, False, (50,))


def test_observers_report_every_sender_of_our_name_as_a_claim() -> None:
    model = Membership(self_name=A)
    assert beat(model, 0.0, 100) == [
        NodeJoined(0.0, A, 100, False),
        NameClaimedByOther(0.0, A, 100),
    ]
    beat(model, 5.0, 100)
    assert model.tick(6.0) == []  # a live claim keeps the name marked
    view = model.view(A, 6.0)
    assert (view.is_self, view.duplicate, view.claimed_by_other) == (False, True, True)


def test_our_own_reconnect_is_neither_a_restart_nor_a_claim() -> None:
    model = Membership(self_name=A)
    model.own_sender(50)
    events = beat(model, 0.0, 50) + beat(model, 5.0, 50)
    model.own_sender(None)
    model.own_sender(60)
    events += beat(model, 10.0, 60) + beat(model, 15.0, 60) + model.tick(16.0)
    assert kinds(events) == ["node_joined", "node_state_changed"]
    assert model.take_backend_checks() == []
    view = model.view(A, 16.0)
    assert (view.pids, view.sessions, view.duplicate, view.is_self) == ((60,), 1, False, True)


# Our own outage


def test_an_undecided_session_change_waits_out_our_own_outage() -> None:
    model = Membership()
    for t in (0.0, 5.0, 10.0):
        beat(model, t, 100)
    beat(model, 15.0, 200)
    model.freeze(16.0)
    assert model.tick(30.0) == []
    model.resume(100.0)
    assert model.tick(105.0) == []  # 7.5 s of listening, less the 1 s heard before the outage
    assert model.tick(106.5) == [NodeReincarnated(106.5, A, 200, 100)]


# Invariants

OURS = "us@10.0.0.9"
B = "b@10.0.0.2"

_step = st.one_of(
    st.tuples(st.just("beat"), st.sampled_from([A, B, OURS]), st.integers(1, 5)),
    st.tuples(st.just("tick"), st.just(""), st.just(0)),
    st.tuples(st.just("answer"), st.just(""), st.integers(0, 31)),  # a bit mask of live pids
    st.tuples(st.just("own"), st.just(""), st.integers(0, 5)),  # 0: disconnected
    st.tuples(st.just("outage"), st.just(""), st.integers(0, 60)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 8), _step), max_size=80))
def test_sessions_keep_their_invariants(steps: list[tuple[float, tuple[str, str, int]]]) -> None:
    model = Membership(self_name=OURS, max_nodes=2)
    now = 0.0
    heard: dict[str, set[int]] = {}
    own: int | None = None
    for gap, (action, name, value) in steps:
        now += gap
        events: list[Event] = []
        if action == "beat":
            heard.setdefault(name, set()).add(value)
            events = beat(model, now, value, node=name)
        elif action == "tick":
            events = model.tick(now)
        elif action == "answer":
            asked = model.take_backend_checks()
            assert len(asked) == len(set(asked))
            alive = tuple(p for p in asked if value >> (p - 1) & 1)
            gone = tuple(p for p in asked if p not in alive)
            events = model.backends_checked(BackendsChecked(now, alive, gone))
        elif action == "own":
            own = value or None
            model.own_sender(own)
        else:
            model.freeze(now)
            now += value
            model.resume(now)
        for e in events:
            if isinstance(e, NodeReincarnated):
                assert e.node != OURS
                assert e.pid != e.previous_pid
            elif isinstance(e, NameClaimedByOther):
                assert e.node == OURS
                assert e.pid != own
            elif isinstance(e, DuplicateNameDetected):
                assert len(set(e.pids)) >= 2
        assert len(model) <= 2 + (OURS in model)  # our own name is always tracked
        views = model.views(now)
        assert model.counts() == Counter(v.state for v in views)
        for view in views:
            assert set(view.pids) <= heard[view.name]
            assert len(view.pids) <= 8
            assert not view.is_self or view.name == OURS
            assert not view.claimed_by_other or view.duplicate
            assert not view.churning or view.sessions >= 2


def test_a_duplicate_survives_our_own_outage() -> None:
    model = Membership()
    run(model, [(0.0, 100), (2.5, 200), (5.0, 100), (7.5, 200), (10.0, 100)], 10.0)
    model.freeze(11.0)
    model.resume(100.0)
    assert model.tick(101.0) == []
    assert beat(model, 101.0, 200) == []
    view = model.view(A, 101.0)
    assert view.duplicate
    assert set(view.pids) == {100, 200}


def test_a_deadline_passed_without_a_tick_is_decided_by_the_next_beat() -> None:
    model = Membership()
    for t in (0.0, 5.0, 10.0):
        beat(model, t, 100)
    beat(model, 15.0, 200)
    # No tick ran (a replay): by 30 s pid 100 had been silent past its deadline (22.5 s).
    events = beat(model, 30.0, 100)
    assert NodeReincarnated(30.0, A, 200, 100) in events
    assert "duplicate_name" not in kinds(events)
