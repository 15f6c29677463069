"""The Prometheus exposition of a Monitor: a snapshot read on the loop, metric families from it.

Node names are label values only, and only names the model tracks (validated, bounded by
max_nodes): junk never reaches a label.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.samples import Sample

from pgcluster_tui import __version__
from pgcluster_tui.core.events import NodeState
from pgcluster_tui.core.link import LinkState
from pgcluster_tui.core.membership import NodeView
from pgcluster_tui.core.monitor import Monitor
from pgcluster_tui.core.protocol import JunkReason

READ_CHUNK = 500
"""Nodes read from the model between two returns to the loop (about 2 ms of CPU)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one scrape exposes, copied from the Monitor on its loop; immutable afterwards."""

    link: LinkState
    received: int
    counts: dict[NodeState, int]
    junk: dict[str, int]
    untracked: int
    max_nodes: int
    nodes: tuple[NodeView, ...]
    channel: str | None
    """The channel for the info metric; None when it comes from the cookie (it is the cookie)."""
    expected: int | None = None


async def read(
    monitor: Monitor,
    *,
    channel: str | None,
    expected: int | None = None,
    chunk: int = READ_CHUNK,
) -> Snapshot:
    """Copy what a scrape needs from the Monitor, returning to the loop between chunks of nodes.

    Totals are read at one instant; nodes in chunks, so a node forgotten meanwhile is left out
    and one that joined meanwhile waits for the next scrape.
    """
    model = monitor.model
    now = monitor.clock()
    link = monitor.link
    received = monitor.received
    counts = dict(model.counts())
    junk = dict(model.junk_counts)
    untracked = model.untracked
    names = model.names()
    nodes: list[NodeView] = []
    for start in range(0, len(names), chunk):
        if start:
            await asyncio.sleep(0)
        view = model.view
        nodes.extend(view(name, now) for name in names[start : start + chunk] if name in model)
    return Snapshot(
        link=link,
        received=received,
        counts=counts,
        junk=junk,
        untracked=untracked,
        max_nodes=model.max_nodes,
        nodes=tuple(nodes),
        channel=channel,
        expected=expected,
    )


STATE_VALUE = {
    NodeState.NEW: 0,
    NodeState.ALIVE: 0,
    NodeState.LATE: 1,
    NodeState.SUSPECT: 2,
    NodeState.STALE: 3,
}
"""pgcluster_node_state: one series per node, ordered by freshness, so alerts compare
(`>= 3` is stale) and no series comes and goes as a node changes state. The alert rules
depend on these values."""


class SnapshotCollector:
    """A prometheus_client collector over the snapshot the current scrape took."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self._names: list[str] = []
        self._labels: list[dict[str, str]] = []
        self._columns: dict[str, tuple[list[float], Metric | None]] = {}

    def describe(self) -> Iterable[Metric]:
        """Every family's name and type, without samples (registers the names)."""
        return [*_process(None), *_link(None), *_totals(None), *self._per_node(())]

    def collect(self) -> Iterable[Metric]:
        """Every family with its samples from the current snapshot."""
        snap = self.snapshot
        if snap is None:
            return []
        return [*_process(snap), *_link(snap), *_totals(snap), *self._per_node(snap.nodes)]

    def _per_node(self, views: Sequence[NodeView]) -> Iterable[Metric]:
        names = [v.name for v in views]
        if names != self._names:
            # One label dict per node, shared by its samples and kept while the roster is.
            self._names, self._labels = names, [{"node": name} for name in names]
            self._columns.clear()
        columns: tuple[tuple[str, list[float]], ...] = (
            ("pgcluster_node_state", [STATE_VALUE[v.state] for v in views]),
            ("pgcluster_node_heartbeat_age_seconds", [round(v.age, 3) for v in views]),
            ("pgcluster_node_interval_seconds", [round(v.interval, 3) for v in views]),
            ("pgcluster_node_beats", [v.beats for v in views]),
            ("pgcluster_node_phi", [round(v.phi, 2) for v in views]),
            ("pgcluster_node_duplicate", [int(v.duplicate) for v in views]),
        )
        for name, values in columns:
            cached = self._columns.get(name)
            if cached is None or cached[0] != values:
                # Changed: not kept, since a family that changed tends to change again (ages),
                # and 10,000 samples kept per scrape only feed the garbage collector.
                self._columns[name] = (values, None)
                yield _node_family(name, self._labels, values)
                continue
            family = cached[1] or _node_family(name, self._labels, values)
            # Unchanged: the same object again, whose text the exposition reuses.
            self._columns[name] = (values, family)
            yield family


NODE_FAMILIES = {
    "pgcluster_node_state": (
        "gauge",
        "Freshness of the node's heartbeat: 0 new or alive, 1 late, 2 suspect, 3 stale "
        "(by its own learned interval and the late/suspect/stale thresholds)",
    ),
    "pgcluster_node_heartbeat_age_seconds": (
        "gauge",
        "Seconds since the node's last heartbeat, our own outages not counted",
    ),
    "pgcluster_node_interval_seconds": (
        "gauge",
        "The node's heartbeat interval: learned from its beats, else the configured one",
    ),
    "pgcluster_node_beats": ("counter", "Heartbeats received from the node"),
    "pgcluster_node_phi": (
        "gauge",
        "Phi-accrual suspicion of the node (about 1: 10 % chance it is alive, 3: 0.1 %)",
    ),
    "pgcluster_node_duplicate": (
        "gauge",
        "1 while two live backends send the node's name: two processes claim it",
    ),
}
"""Per-node families: type and HELP. Each has one series per tracked node, label `node`."""


def _node_family(name: str, labels: Sequence[dict[str, str]], values: Sequence[float]) -> Metric:
    kind, doc = NODE_FAMILIES[name]
    family: Metric
    if kind == "counter":
        family = CounterMetricFamily(name, doc, labels=["node"])
        name += "_total"
    else:
        family = GaugeMetricFamily(name, doc, labels=["node"])
    # Samples built directly: add_metric() makes a label dict per sample, at every scrape.
    family.samples = [Sample(name, node, value) for node, value in zip(labels, values, strict=True)]
    return family


def _gauge(name: str, doc: str, value: float | None, labels: Sequence[str] = ()) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=list(labels) or None)
    if value is not None and not labels:
        family.add_metric([], value)
    return family


def _counter(name: str, doc: str, value: float | None, labels: Sequence[str] = ()) -> Metric:
    family = CounterMetricFamily(name, doc, labels=list(labels) or None)
    if value is not None and not labels:
        family.add_metric([], value)
    return family


def _process(snap: Snapshot | None) -> Iterable[Metric]:
    info = InfoMetricFamily(
        "pgcluster", "pgcluster-tui's version, and the channel unless it comes from the cookie"
    )
    if snap is not None:
        labels = {"version": __version__}
        if snap.channel is not None:
            labels["channel"] = snap.channel
        info.add_metric([], labels)
    yield info
    expected = None if snap is None else snap.expected
    if snap is None or expected is not None:
        yield _gauge(
            "pgcluster_expected_nodes",
            "Nodes expected alive (serve --expect), for the fewer-nodes alert",
            expected,
        )


def _link(snap: Snapshot | None) -> Iterable[Metric]:
    link = snap.link if snap is not None else None
    yield _gauge(
        "pgcluster_up",
        "1 when both connections to PostgreSQL are open and LISTEN ran",
        None if link is None else int(link.connected),
    )
    yield _gauge(
        "pgcluster_listener_healthy",
        "1 when connected and our listener's probes come back (0: a pooler or a replica?)",
        None if link is None else int(link.healthy),
    )
    rtt = None if link is None or link.rtt_ms is None else link.rtt_ms / 1000
    yield _gauge(
        "pgcluster_probe_rtt_seconds",
        "Round trip of the last listener probe (NOTIFY on a private side channel)",
        rtt,
    )
    yield _counter(
        "pgcluster_reconnects",
        "Sessions opened after the first one",
        None if link is None else link.reconnects,
    )
    yield _counter(
        "pgcluster_notifications_received",
        "Notifications received on the cluster channel and applied to the model",
        None if snap is None else snap.received,
    )
    junk = CounterMetricFamily(
        "pgcluster_junk_received",
        "Payloads that are not node names a libcluster node can connect to, by reason",
        labels=["reason"],
    )
    if snap is not None:
        for reason in JunkReason:
            junk.add_metric([reason.value], snap.junk.get(reason.value, 0))
    yield junk
    yield _counter(
        "pgcluster_notifications_dropped",
        "Notifications read but dropped because they were not consumed in time",
        None if link is None else link.dropped,
    )
    usage = None if link is None else link.queue_usage
    yield _gauge(
        "pgcluster_queue_usage_ratio",
        "pg_notification_queue_usage() of the server: NOTIFY fails everywhere at 1",
        usage,
    )


def _totals(snap: Snapshot | None) -> Iterable[Metric]:
    nodes = GaugeMetricFamily(
        "pgcluster_nodes", "Tracked nodes in each freshness state", labels=["state"]
    )
    if snap is not None:
        for state in NodeState:
            nodes.add_metric([state.value], snap.counts.get(state, 0))
    yield nodes
    yield _gauge(
        "pgcluster_nodes_max",
        "max_nodes: how many nodes are tracked at most",
        None if snap is None else snap.max_nodes,
    )
    yield _counter(
        "pgcluster_nodes_untracked",
        "Distinct new names heard at max_nodes that no node could make room for",
        None if snap is None else snap.untracked,
    )
