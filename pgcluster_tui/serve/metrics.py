"""The Prometheus exposition of a Monitor: a snapshot read on the loop, metric families from it.

Every byte of the exposition is written by prometheus_client, label values included: nothing
here escapes by hand. A per-node sample line is the text `generate_latest` wrote for that node
up to the value, kept while the node is, then the value by the library's `floatToGoString`.
Node names are label values only, and only names the model tracks (validated, bounded by
max_nodes): junk never reaches a label.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString as _float_to_go

from pgcluster_tui import __version__
from pgcluster_tui.core.events import NodeState
from pgcluster_tui.core.link import LinkState
from pgcluster_tui.core.membership import NodeView
from pgcluster_tui.core.monitor import Monitor
from pgcluster_tui.core.protocol import JunkReason

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The text format generate_latest writes."""

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


class _Families:
    """A collector over families already collected, for formatting one of them."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        """The families as given."""
        return self._families


go_float: Callable[[float], str] = _float_to_go
"""The library's own value formatting (untyped there)."""


class NodeLines:
    """A per-node family's text: each node's line up to its value, as generate_latest wrote it
    once for that node, then the value; a family with anything else goes to generate_latest."""

    def __init__(self) -> None:
        self._heads: dict[str, bytes] = {}
        self._prefixes: dict[str, dict[str, str]] = {}

    def render(self, family: Metric) -> bytes:
        """The family's text, byte for byte what generate_latest writes for it."""
        samples = family.samples
        plain = (s.timestamp is None and s.exemplar is None and len(s.labels) == 1 for s in samples)
        if not all(plain):
            return generate_latest(_Families([family]))  # not one of ours: the library's way
        name = family.name
        prefixes = self._prefixes.setdefault(name, {})
        if len(prefixes) > 2 * len(samples):  # nodes gone: keep only the ones still here
            prefixes = self._prefixes[name] = {
                s.labels["node"]: prefixes[s.labels["node"]]
                for s in samples
                if s.labels["node"] in prefixes
            }
        new = [s for s in samples if s.labels["node"] not in prefixes]
        if new or name not in self._heads:
            self._learn(family, new, prefixes)
        lines = [prefixes[s.labels["node"]] + go_float(s.value) for s in samples]
        lines.append("")
        return self._heads[name] + "\n".join(lines).encode() if samples else self._heads[name]

    def _learn(self, family: Metric, samples: list[Sample], prefixes: dict[str, str]) -> None:
        # The library writes these nodes' lines once (values zero); each line up to its value
        # is kept. A value never holds a space, so the line's last space ends the prefix.
        probe = Metric(family.name, family.documentation, family.type)
        probe.samples = [s._replace(value=0) for s in samples]
        text = generate_latest(_Families([probe])).decode()
        lines = text.split("\n")
        head = lines[:2]
        self._heads[family.name] = ("\n".join(head) + "\n").encode()
        for sample, line in zip(samples, lines[2:-1], strict=True):
            prefixes[sample.labels["node"]] = line[: line.rindex(" ") + 1]


class Exposition:
    """The registry's text exposition, a family formatted again only when it is a new object.

    The output is byte for byte what generate_latest(registry) writes. The collector hands
    out the same family object while a per-node column keeps its values (states, duplicates),
    and that family's text is reused; everything else is formatted at every scrape.
    """

    def __init__(self, collector: SnapshotCollector | None = None) -> None:
        self.collector = collector or SnapshotCollector()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self._last: dict[str, tuple[weakref.ref[Metric], bytes]] = {}
        self._node_lines = NodeLines()

    def render(self, snapshot: Snapshot) -> bytes:
        """The exposition of one snapshot (safe off the loop: it reads only the snapshot).

        Not reentrant: one render at a time.
        """
        self.collector.snapshot = snapshot
        parts: list[bytes] = []
        kept: dict[str, tuple[weakref.ref[Metric], bytes]] = {}
        try:
            for family in self.registry.collect():
                cached = self._last.get(family.name)
                if cached is not None and cached[0]() is family:
                    text = cached[1]
                elif family.name in NODE_FAMILIES:
                    text = self._node_lines.render(family)
                else:
                    text = generate_latest(_Families([family]))
                kept[family.name] = (weakref.ref(family), text)
                parts.append(text)
        finally:
            self.collector.snapshot = None
        self._last = kept
        return b"".join(parts)


async def scrape(
    monitor: Monitor,
    exposition: Exposition,
    *,
    channel: str | None,
    expected: int | None = None,
) -> bytes:
    """Read the Monitor on its loop, format off it; the cyclic collector paused meanwhile.

    Not reentrant: one scrape at a time per exposition.
    """
    with _gc_paused():
        snapshot = await read(monitor, channel=channel, expected=expected)
        # Formatting 10,000 nodes takes ~100 ms of CPU: off the loop, from the immutable
        # snapshot, so notifications keep flowing into the model meanwhile.
        body = await asyncio.to_thread(exposition.render, snapshot)
        del snapshot  # gone before the collector runs again, so it never scans it
    return body


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    # A scrape of 10,000 nodes allocates ~100,000 objects that live until it ends: left on,
    # the cyclic collector would run about a hundred times meanwhile, rescanning them, and
    # one of those runs on the loop can hold it for tens of milliseconds.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
