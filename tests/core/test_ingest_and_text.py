"""Feeding worker facts into the model, and showing untrusted text safely."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgcluster_tui.core.events import (
    Connected,
    Disconnected,
    Event,
    Fact,
    NodeJoined,
    NodeState,
    Notification,
    ProbeMeasured,
    SenderAttributed,
)
from pgcluster_tui.core.membership import Membership
from pgcluster_tui.core.monitor import Monitor, ReplaySource
from pgcluster_tui.core.text import visible


def ingest(model: Membership, facts: list[Fact]) -> list[Event]:
    """Apply facts through a Monitor over a replay source, as the front ends do."""
    return Monitor(ReplaySource(), model).apply(facts)


A = "a@10.0.0.1"


def connected(at: float) -> Connected:
    return Connected(at, "postgres@db:5432/postgres", "18.1", "postgres", 10, 11)


def test_the_monitor_applies_notifications_in_order_and_passes_events_on() -> None:
    model = Membership()
    sender = SenderAttributed(0.5, 100, "local", "cluster_node_a", "postgres", "")
    facts: list[Fact] = [
        connected(0.0),
        Notification(A, 100, 0.1),
        sender,
        ProbeMeasured(0.6, 1.0),
        Notification("[bold]", 101, 0.7),
    ]
    events = ingest(model, facts)
    assert [e.kind for e in events] == [
        "connected",
        "node_joined",
        "sender_attributed",
        "probe_measured",
        "junk_received",
    ]
    assert events[1] == NodeJoined(0.1, A, 100, False)
    assert model.sender(100) == sender


def test_the_monitor_freezes_on_disconnect_and_resumes_on_connect() -> None:
    model = Membership()
    ingest(model, [connected(0.0), Notification(A, 1, 0.0), Notification(A, 1, 5.0)])
    ingest(model, [Disconnected(6.0, "server closed the connection")])
    assert model.frozen
    assert model.tick(600.0) == []
    ingest(model, [Disconnected(7.0, "retry failed")])  # a failed retry keeps the first start
    ingest(model, [connected(600.0)])
    assert not model.frozen
    assert model.age(A, 600.0) == 1.0
    assert model.tick(601.0) == []
    assert model.state(A) is NodeState.ALIVE


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain@host", "plain@host"),
        ("[bold]red[/]", "[bold]red[/]"),  # markup is not ours to interpret, only to show
        ("\x1b[2J", "\\x1b[2J"),
        ("a\tb\nc", "a\\x09b\\x0ac"),
        ("\u202eevil", "\\u202eevil"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("\x85", "\\x85"),
        ("lone\udcff", "lone\\udcff"),
    ],
)
def test_visible_escapes_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert visible(text) == shown


def test_visible_cuts_to_a_limit_with_an_ellipsis() -> None:
    assert visible("abcdef", 4) == "abc…"
    assert visible("abcd", 4) == "abcd"


@settings(deadline=None)  # no flakes on a loaded machine
@given(st.text())
def test_visible_output_is_printable_and_encodable(text: str) -> None:
    shown = visible(text)
    shown.encode("utf-8")
    assert not [ch for ch in shown if ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F]
