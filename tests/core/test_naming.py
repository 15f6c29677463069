"""Long and short node names: a cluster that mixes them logs errors on every node."""

from __future__ import annotations

import pytest

from pgcluster_tui.core.events import NamingMismatch, Notification
from pgcluster_tui.core.membership import Membership
from pgcluster_tui.core.node import long_name


@pytest.mark.parametrize(
    ("name", "long"),
    [
        ("app@10.0.0.5", True),
        ("app@host.example.com", True),
        ("app@::1", True),
        ("app@fe80::1%eth0", True),
        ("app@vm", False),
        ("app@localhost", False),
        ("app@vm:1", False),
        ("a@b@c", False),
    ],
)
def test_long_names_have_a_dotted_host_or_an_ip_address(name: str, long: bool) -> None:
    assert long_name(name) is long


def kinds_heard(model: Membership, names: list[str]) -> list[NamingMismatch]:
    """The naming mismatches reported while hearing each name once."""
    events = model.observe_many(Notification(n, i, float(i)) for i, n in enumerate(names))
    return [e for e in events if isinstance(e, NamingMismatch)]


def test_a_short_name_in_a_long_name_cluster_is_reported_once() -> None:
    model = Membership(self_name="us@10.0.0.9")
    heard = kinds_heard(model, ["a@10.0.0.1", "b@host.example.com", "c@::1", "d@vm", "e@vm2"])
    assert heard == [NamingMismatch(3.0, "d@vm", "us@10.0.0.9")]
    assert kinds_heard(model, ["f@other"]) == []


def test_a_long_name_in_a_short_name_cluster_is_reported() -> None:
    model = Membership(self_name="us@vm")
    assert kinds_heard(model, ["a@vm2", "b@10.0.0.2"]) == [
        NamingMismatch(1.0, "b@10.0.0.2", "us@vm")
    ]


def test_junk_and_names_without_ours_say_nothing_about_naming() -> None:
    assert kinds_heard(Membership(self_name="us@10.0.0.9"), ["vm", "", "[x]"]) == []
    assert kinds_heard(Membership(), ["a@vm", "b@10.0.0.2"]) == []
    assert kinds_heard(Membership(self_name="no at sign"), ["a@vm", "b@10.0.0.2"]) == []


def test_a_name_heard_at_the_cap_still_counts() -> None:
    model = Membership(self_name="us@10.0.0.9", max_nodes=1)
    heard = kinds_heard(model, ["a@10.0.0.1", "b@vm"])
    assert heard == [NamingMismatch(1.0, "b@vm", "us@10.0.0.9")]
    assert "b@vm" not in model
