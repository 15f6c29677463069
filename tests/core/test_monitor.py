"""The Monitor and the link reducer on their own: replayed facts, injected clocks."""

from __future__ import annotations

import asyncio
import gc

from pgcluster_tui.core.events import (
    Connected,
    Connecting,
    Disconnected,
    Event,
    Fact,
    HeartbeatSent,
    ListenerHealthy,
    ListenerSilent,
    NodeJoined,
    NodeState,
    NodeStateChanged,
    Notification,
    ProbeMeasured,
    QueueUsageMeasured,
    RetryScheduled,
    SendFailed,
    StallDetected,
)
from pgcluster_tui.core.link import LinkState, reduce
from pgcluster_tui.core.membership import Membership, Thresholds
from pgcluster_tui.core.monitor import Monitor, ReplaySource, Update
from tests.waiting import wait_until

TARGET = "postgres@db:5432/app"


class Clocks:
    """A wall clock and a monotonic clock that tests move by hand."""

    def __init__(self) -> None:
        self.wall = 1_000.0
        self.mono = 50.0

    def advance(self, seconds: float) -> None:
        """Both clocks move on."""
        self.wall += seconds
        self.mono += seconds


def monitor(clocks: Clocks, interval: float = 1.0) -> Monitor:
    """A Monitor over a replay source, on the test's clocks."""
    model = Membership(Thresholds(interval=interval), self_name="us@10.0.0.9")
    return Monitor(ReplaySource(), model, clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)


def connected(at: float) -> Connected:
    """Our session opened."""
    return Connected(at, TARGET, "18.1", "postgres", 11, 12)


def kinds(events: list[Event]) -> list[str]:
    """Event kinds in order."""
    return [e.kind for e in events]


def test_the_link_follows_a_session_an_outage_and_a_reconnect() -> None:
    link = LinkState()
    for fact in (
        Connecting(0.0, TARGET, 1),
        connected(0.5),
        ProbeMeasured(1.0, 0.8),
        QueueUsageMeasured(1.0, 0.01),
        HeartbeatSent(1.0, "us@10.0.0.9", False, 6.0),
    ):
        link = reduce(link, fact)
    assert (link.phase, link.connected, link.healthy) == ("connected", True, True)
    assert (link.rtt_ms, link.queue_usage, link.next_beat_at) == (0.8, 0.01, 6.0)
    assert (link.sessions, link.reconnects, link.sender_pid) == (1, 0, 12)
    link = reduce(link, ListenerSilent(2.0, 6.0))
    assert not link.healthy
    link = reduce(link, Disconnected(3.0, "server closed the connection"))
    assert (link.phase, link.reason, link.next_beat_at, link.rtt_ms) == (
        "disconnected",
        "server closed the connection",
        None,
        None,
    )
    link = reduce(link, RetryScheduled(3.0, 1.5, 2))
    assert (link.retry_at, link.attempt) == (4.5, 2)
    link = reduce(link, Connecting(4.5, TARGET, 2))
    assert link.retry_at is None
    link = reduce(link, connected(5.0))
    link = reduce(link, ListenerHealthy(5.5, 0.9))
    assert (link.reconnects, link.reason, link.listener_silent) == (1, "", False)
    assert reduce(link, Disconnected(9.0, "stopped")).phase == "stopped"


def test_facts_that_say_nothing_new_leave_the_link_as_it_is() -> None:
    link = reduce(LinkState(), ProbeMeasured(1.0, 0.8))
    assert reduce(link, ProbeMeasured(2.0, 0.8)) is link
    assert reduce(link, NodeJoined(2.0, "a@h", 1)) is link


def test_an_outage_retried_for_minutes_is_reported_once() -> None:
    clocks = Clocks()
    m = monitor(clocks)
    m.apply([Connecting(0.0, TARGET, 1), connected(0.1)])
    first = m.apply(
        [Disconnected(1.0, "server closed the connection"), RetryScheduled(1.0, 0.2, 1)]
    )
    assert kinds(first) == ["disconnected", "retry_scheduled"]
    refused = "connection refused"
    news = m.apply(
        [Connecting(1.2, TARGET, 1), Disconnected(1.2, refused), RetryScheduled(1.2, 1.5, 2)]
    )
    assert kinds(news) == ["connecting", "disconnected", "retry_scheduled"]
    for attempt in range(2, 60):
        quiet = m.apply(
            [
                Connecting(2.0, TARGET, attempt),
                Disconnected(2.0, refused),
                RetryScheduled(2.0, 1.5, attempt + 1),
            ]
        )
        assert quiet == []
    assert (m.link.phase, m.link.attempt) == ("disconnected", 60)
    back = m.apply([Connecting(99.0, TARGET, 60), connected(99.1)])
    assert kinds(back) == ["connected"]
    assert m.link.reconnects == 1


def test_the_model_is_frozen_while_disconnected_and_resumes_on_connect() -> None:
    clocks = Clocks()
    m = monitor(clocks)
    m.apply([connected(clocks.wall), Notification("a@h", 7, clocks.wall)])
    m.apply([Notification("a@h", 7, clocks.wall + 1)])
    clocks.advance(1.5)
    m.apply([Disconnected(clocks.wall, "gone")])
    for _ in range(600):
        clocks.advance(1.0)
        assert m.tick() == [], "nobody ages while we are away"
    assert m.model.state("a@h") is NodeState.ALIVE
    m.apply([connected(clocks.wall)])
    assert m.model.age("a@h", clocks.wall) < 1.0


def beating_for_three_seconds(clocks: Clocks) -> Monitor:
    """A connected monitor that heard `a@h` once a second for three seconds, ticking on time."""
    m = monitor(clocks)
    m.apply([connected(clocks.wall)])
    for _ in range(3):
        m.apply([Notification("a@h", 7, clocks.wall)])
        clocks.advance(1.0)
        m.tick()
    return m


def test_a_stall_of_our_own_is_an_outage_not_everyone_s_silence() -> None:
    clocks = Clocks()
    m = beating_for_three_seconds(clocks)
    assert m.model.state("a@h") is NodeState.ALIVE
    clocks.advance(30.0)  # SIGSTOP, a paused VM: no tick ran
    events = m.tick()
    assert kinds(events) == ["stall_detected"]
    assert isinstance(events[0], StallDetected)
    assert events[0].stalled_for >= 30
    assert m.model.state("a@h") is NodeState.ALIVE
    assert m.model.age("a@h", clocks.wall) < 2.0


def test_without_the_stall_check_the_same_gap_paints_the_node_stale() -> None:
    clocks = Clocks()
    m = beating_for_three_seconds(clocks)
    # The same 30 s, but the process ran (ticks came on time): the node really went quiet.
    for _ in range(30):
        clocks.advance(1.0)
        events = m.tick()
        assert not any(isinstance(e, StallDetected) for e in events)
    assert m.model.state("a@h") is NodeState.STALE


def test_a_state_change_is_one_event_and_the_received_count_adds_up() -> None:
    clocks = Clocks()
    m = monitor(clocks)
    facts: list[Fact] = [connected(clocks.wall)]
    node = "a@10.0.0.1"  # named as we are (long): no naming mismatch in the way
    facts += [Notification(node, 7, clocks.wall), Notification(node, 7, clocks.wall + 1)]
    events = m.apply(facts)
    assert kinds(events) == ["connected", "node_joined", "node_state_changed"]
    changed = events[-1]
    assert isinstance(changed, NodeStateChanged)
    assert changed.state is NodeState.ALIVE
    assert m.received == 2


async def test_updates_apply_batches_and_tick_until_the_source_stops() -> None:
    source = ReplaySource()
    model = Membership(Thresholds(interval=1.0))
    m = Monitor(source, model, tick_seconds=0.05)
    seen: list[Update] = []

    async def consume() -> None:
        async for update in m.updates():
            seen.append(update)

    task = asyncio.create_task(consume())
    source.push([Notification("a@h", 1, 0.0)])
    await wait_until(lambda: any(u.ticked for u in seen) and any(u.events for u in seen))
    await m.stop()
    async with asyncio.timeout(5):
        await task
    assert "a@h" in model


def test_toggling_the_heartbeat_is_recorded_at_once() -> None:
    clocks = Clocks()
    m = monitor(clocks)
    source = m.source
    assert isinstance(source, ReplaySource)
    assert kinds(m.set_heartbeat(True)) == ["heartbeat_toggled"]
    assert m.link.heartbeat
    assert source.heartbeat
    assert m.set_heartbeat(True) == []
    m.set_heartbeat(False)
    assert not m.link.heartbeat
    assert not source.heartbeat


async def test_a_source_stopped_behind_the_monitors_back_leaves_no_unretrieved_error() -> None:
    loop = asyncio.get_running_loop()
    reported: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context["message"]))
    try:
        source = ReplaySource()
        monitor = Monitor(source, Membership())
        async for _ in monitor.updates(until=loop.time() + 0.05):
            pass
        await source.stop()  # the read the monitor left pending now ends in StopAsyncIteration
        pending = monitor._pending
        assert pending is not None
        await wait_until(pending.done)
        del monitor, pending
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert reported == []


def test_a_failed_beat_still_says_when_the_next_one_is_due() -> None:
    link = reduce(LinkState(heartbeat=True), HeartbeatSent(1.0, "us@10.0.0.9", False, 6.0))
    link = reduce(link, SendFailed(6.0, "us@10.0.0.9", "queue full", 11.0))
    assert link.next_beat_at == 11.0
    link = reduce(link, SendFailed(7.0, "other@10.0.0.9", "queue full"))  # an announce
    assert link.next_beat_at == 11.0
