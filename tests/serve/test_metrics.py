"""The exposition of a Monitor fed replayed facts: names, units, labels, bounds, byte equality."""

from __future__ import annotations

import asyncio

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pgcluster_tui.core.events import (
    Connected,
    ListenerSilent,
    NodeState,
    Notification,
    NotificationsDropped,
    ProbeMeasured,
    QueueUsageMeasured,
)
from pgcluster_tui.core.membership import Membership, Thresholds
from pgcluster_tui.core.monitor import Monitor, ReplaySource
from pgcluster_tui.serve.exposition import Exposition
from pgcluster_tui.serve.metrics import STATE_VALUE, read
from tests.serve.support import node_values, series

FAMILIES = {
    "pgcluster_info": "gauge",
    "pgcluster_up": "gauge",
    "pgcluster_listener_healthy": "gauge",
    "pgcluster_probe_rtt_seconds": "gauge",
    "pgcluster_reconnects": "counter",
    "pgcluster_notifications_received": "counter",
    "pgcluster_junk_received": "counter",
    "pgcluster_notifications_dropped": "counter",
    "pgcluster_queue_usage_ratio": "gauge",
    "pgcluster_nodes": "gauge",
    "pgcluster_nodes_max": "gauge",
    "pgcluster_nodes_untracked": "counter",
    "pgcluster_node_state": "gauge",
    "pgcluster_node_heartbeat_age_seconds": "gauge",
    "pgcluster_node_interval_seconds": "gauge",
    "pgcluster_node_beats": "counter",
    "pgcluster_node_phi": "gauge",
    "pgcluster_node_duplicate": "gauge",
}
"""Every family serve exposes (as the parser names them) and its type; the README lists these."""

HOSTILE_NAMES = ['q"uo\\te@host', 'a{b="1"},c@h', "ünï@ça", "x=y@[::1]", "n@h\\n"]
"""Valid node names full of characters the text format must escape."""


class Clock:
    """A wall clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def new_monitor(clock: Clock, max_nodes: int = 100) -> Monitor:
    """A Monitor over replayed facts, on the test's clock (interval 1 s)."""
    model = Membership(Thresholds(interval=1.0), self_name="us@10.0.0.9", max_nodes=max_nodes)
    return Monitor(ReplaySource(), model, clock=clock)


def beat(monitor: Monitor, clock: Clock, *names: str, pid: int = 100) -> None:
    """Each name beats once, from its own backend."""
    monitor.apply([Notification(n, pid + i, clock.now) for i, n in enumerate(names)])


async def scrape(monitor: Monitor, exposition: Exposition, channel: str | None = "c") -> str:
    """One scrape's text."""
    return exposition.render(await read(monitor, channel=channel, chunk=2)).decode()


async def test_every_family_has_its_type_help_and_the_prefix() -> None:
    clock = Clock()
    monitor = new_monitor(clock)
    monitor.apply([Connected(clock.now, "t", "18", "u", 1, 2), ProbeMeasured(clock.now, 1.5)])
    monitor.apply([QueueUsageMeasured(clock.now, 0.25), NotificationsDropped(clock.now, 7)])
    beat(monitor, clock, "a@10.0.0.1")
    text = await scrape(monitor, Exposition())
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {name: f.type for name, f in families.items()} == FAMILIES
    assert all(f.documentation for f in families.values())
    parsed = series(text)
    assert parsed[("pgcluster_up", ())] == 1
    assert parsed[("pgcluster_listener_healthy", ())] == 1
    assert parsed[("pgcluster_probe_rtt_seconds", ())] == 0.0015
    assert parsed[("pgcluster_queue_usage_ratio", ())] == 0.25
    assert parsed[("pgcluster_notifications_dropped_total", ())] == 7
    assert parsed[("pgcluster_notifications_received_total", ())] == 1
    assert parsed[("pgcluster_nodes", (("state", "new"),))] == 1
    assert node_values(parsed, "pgcluster_node_beats_total") == {"a@10.0.0.1": 1}
    assert ("pgcluster_info", (("channel", "c"), ("version", "0.1.0"))) in parsed


async def test_unknown_values_are_left_out_not_zero() -> None:
    monitor = new_monitor(Clock())
    parsed = series(await scrape(monitor, Exposition()))
    # Never connected: no round trip and no queue usage measured; a 0 would read as "fast".
    assert ("pgcluster_probe_rtt_seconds", ()) not in parsed
    assert ("pgcluster_queue_usage_ratio", ()) not in parsed
    assert parsed[("pgcluster_up", ())] == 0


async def test_node_states_and_listener_silence_as_alerts_need_them() -> None:
    clock = Clock()
    monitor = new_monitor(clock)
    monitor.apply([Connected(clock.now, "t", "18", "u", 1, 2)])
    beat(monitor, clock, "a@10.0.0.1", "b@10.0.0.2")
    for _ in range(8):
        clock.now += 1
        beat(monitor, clock, "a@10.0.0.1")
        monitor.tick()
    monitor.apply([ListenerSilent(clock.now, 5.0)])
    parsed = series(await scrape(monitor, Exposition()))
    assert node_values(parsed, "pgcluster_node_state") == {"a@10.0.0.1": 0, "b@10.0.0.2": 3}
    assert node_values(parsed, "pgcluster_node_heartbeat_age_seconds")["b@10.0.0.2"] == 8
    assert node_values(parsed, "pgcluster_node_phi")["b@10.0.0.2"] > 3
    assert parsed[("pgcluster_nodes", (("state", "stale"),))] == 1
    assert parsed[("pgcluster_up", ())] == 1
    assert parsed[("pgcluster_listener_healthy", ())] == 0


def test_every_state_has_a_value_in_freshness_order() -> None:
    assert [STATE_VALUE[state] for state in NodeState] == [0, 0, 1, 2, 3]


async def test_label_values_are_escaped_by_the_library_and_read_back_exactly() -> None:
    clock = Clock()
    monitor = new_monitor(clock)
    beat(monitor, clock, *HOSTILE_NAMES)
    text = await scrape(monitor, Exposition())
    assert set(node_values(series(text), "pgcluster_node_state")) == set(HOSTILE_NAMES)
    assert 'node="q\\"uo\\\\te@host"' in text


async def test_junk_is_counted_by_reason_and_never_becomes_a_label() -> None:
    clock = Clock()
    monitor = new_monitor(clock)
    junk = ["", "no at sign", "[bold]x", "x@y z", "\x1b[2J@h", "a@", "n" * 300]
    monitor.apply([Notification(payload, 7, clock.now) for payload in junk])
    text = await scrape(monitor, Exposition())
    parsed = series(text)
    assert not node_values(parsed, "pgcluster_node_state")
    labels = {value for (_, pairs) in parsed for _, value in pairs}
    assert not labels & set(junk)
    junk_counts = {
        dict(pairs)["reason"]: value
        for (name, pairs), value in parsed.items()
        if name == "pgcluster_junk_received_total"
    }
    assert sum(junk_counts.values()) == len(junk)
    assert junk_counts["no @"] == 2  # "no at sign" and "[bold]x"
    assert set(junk_counts) == {
        "empty",
        "too long",
        "no @",
        "empty name or host",
        "control characters",
        "whitespace",
    }


async def test_node_series_are_bounded_and_forgotten_or_evicted_nodes_disappear() -> None:
    clock = Clock()
    monitor = new_monitor(clock, max_nodes=3)
    exposition = Exposition()
    beat(monitor, clock, "a@h", "b@h", "c@h")
    clock.now += 10
    beat(monitor, clock, "a@h", "b@h")  # c is heard once and goes silent
    monitor.tick()
    beat(monitor, clock, "d@h", "e@h", pid=500)  # at the cap: both counted, not tracked
    clock.now += 5
    beat(monitor, clock, "d@h", pid=500)  # heard again: d evicts c
    parsed = series(await scrape(monitor, exposition))
    assert set(node_values(parsed, "pgcluster_node_beats_total")) == {"a@h", "b@h", "d@h"}
    assert parsed[("pgcluster_nodes_untracked_total", ())] == 2
    monitor.forget("a@h")
    parsed = series(await scrape(monitor, exposition))
    for name in ("pgcluster_node_state", "pgcluster_node_duplicate", "pgcluster_node_phi"):
        assert set(node_values(parsed, name)) == {"b@h", "d@h"}


async def test_a_node_forgotten_while_the_scrape_reads_is_left_out() -> None:
    clock = Clock()
    monitor = new_monitor(clock)
    beat(monitor, clock, "a@h", "b@h", "c@h", "d@h")
    # read() returns to the loop between chunks of 2: the forget runs in between.
    asyncio.get_running_loop().call_soon(monitor.forget, "d@h")
    snapshot = await read(monitor, channel=None, chunk=2)
    assert [v.name for v in snapshot.nodes] == ["a@h", "b@h", "c@h"]
    assert "d@h" not in monitor.model


async def test_the_exposition_is_byte_for_byte_what_generate_latest_writes() -> None:
    clock = Clock()
    monitor = new_monitor(clock)
    exposition = Exposition()
    odd = ['q"uote@h', "back\\slash@h", "ünïcode@höst", "n{brace}@h", "a@h"]
    beat(monitor, clock, "a@h", "b@h")
    for step in range(10):
        clock.now += 1
        if step % 2:
            beat(monitor, clock, "a@h")
        if step == 3:
            beat(monitor, clock, *odd)  # names the labels must escape, joining between scrapes
        if step == 6:
            for name in odd[:3]:
                monitor.forget(name)
        if step == 8:
            for name in monitor.model.names():
                monitor.forget(name)  # no node at all: the families' headers alone
        monitor.tick()
        snapshot = await read(monitor, channel=None)
        rendered = exposition.render(snapshot)
        exposition.collector.snapshot = snapshot  # the library formats the same scrape anew
        assert rendered == generate_latest(exposition.registry)


async def test_unchanged_node_families_keep_their_text_and_changed_ones_do_not() -> None:
    clock = Clock()
    monitor = new_monitor(clock)
    exposition = Exposition()
    beat(monitor, clock, "a@h", "b@h")
    texts = []
    for _ in range(3):
        clock.now += 0.1
        texts.append(await scrape(monitor, exposition))
    states = [t.split("# HELP pgcluster_node_state ")[1].split("# HELP")[0] for t in texts]
    ages = [t.split("# HELP pgcluster_node_heartbeat_age")[1].split("# HELP")[0] for t in texts]
    assert states[0] == states[1] == states[2]
    assert len(set(ages)) == 3
    beat(monitor, clock, "c@h")
    assert "c@h" in await scrape(monitor, exposition)
