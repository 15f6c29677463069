"""Our own node: its interval is the configured one, whatever manual announces add."""

from __future__ import annotations

from pgcluster_tui.core.events import Notification
from pgcluster_tui.core.membership import Membership, Thresholds

T0 = 1_800_000_000.0


def test_manual_announces_do_not_skew_our_interval() -> None:
    model = Membership(Thresholds(interval=5.0), self_name="me@h")
    other = Membership(Thresholds(interval=5.0), self_name="me@h")
    model.own_sender(1)
    times = [0, 5, 6, 10, 10.5, 15, 20]  # beats every 5 s, two manual announces between
    for t in times:
        model.observe(Notification("me@h", 1, T0 + t))
        other.observe(Notification("peer@h", 2, T0 + t))
    ours = model.view("me@h", T0 + 20)
    assert ours.is_self
    assert ours.interval == 5.0
    assert ours.jitter == 0.0
    assert other.view("peer@h", T0 + 20).interval < 5.0
