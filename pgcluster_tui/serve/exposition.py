"""The text exposition of a snapshot, formatted off the loop, reusing what did not change.

Every byte of the exposition is written by prometheus_client, label values included: nothing
here escapes by hand. A per-node sample line is the text `generate_latest` wrote for that node
up to the value, kept while the node is, then the value by the library's `floatToGoString`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString as _float_to_go

from pgcluster_tui.core.monitor import Monitor
from pgcluster_tui.serve.metrics import NODE_FAMILIES, Snapshot, SnapshotCollector, read

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The text format generate_latest writes."""


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
        lines = [prefixes[s.labels["node"]] + go_float(s.value) + "\n" for s in samples]
        return self._heads[name] + "".join(lines).encode()

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
