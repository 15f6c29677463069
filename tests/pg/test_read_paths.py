"""Both ways of reading notifications deliver the same facts: psycopg's read step and notifies()."""

from __future__ import annotations

import pytest

from pgcluster_tui.core.events import Heard, Notification, NotificationsDropped, ProbeMeasured
from pgcluster_tui.pg import worker as worker_module
from pgcluster_tui.pg.worker import ChannelWorker
from tests.pg.collector import Collector, config, raw_connection
from tests.waiting import wait_until

PAYLOADS = [
    "a@10.0.0.1",
    "b@10.0.0.2",
    "a@10.0.0.1",
    "",
    "[bold]\x1b[2J",
    "日本@ホスト",
    "x" * 7999,
]


@pytest.fixture(params=["raw", "portable"])
def read_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with each read path."""
    monkeypatch.setattr(worker_module, "READ_RAW", request.param == "raw")
    return str(request.param)


async def test_every_payload_arrives_in_order_with_its_pid(
    dsn: str, channel: str, read_path: str
) -> None:
    async with (
        Collector(ChannelWorker(config(dsn, channel))) as c,
        await raw_connection(dsn) as raw,
    ):
        await c.connected()
        await c.wait_for(ProbeMeasured)
        for payload in PAYLOADS:
            await raw.execute("SELECT pg_notify(%s, %s)", (channel, payload))
        await raw.execute("SELECT pg_notify(%s, 'end@h')", (channel,))
        await c.wait_for(Notification, lambda n: n.payload == "end@h")
        pid = raw.info.backend_pid
    heard = [n.payload for n in c.of(Notification) if n.pid == pid]
    assert heard == [*PAYLOADS, "end@h"]


async def test_a_consumer_that_does_not_read_loses_a_counted_excess(
    dsn: str, channel: str, read_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "MAX_UNREAD", 100)
    worker = ChannelWorker(config(dsn, channel))
    async with worker:
        batches = worker.batches()
        facts = []
        while not worker.connected:
            facts.extend(await anext(batches))
        async with await raw_connection(dsn) as raw:
            await raw.execute(
                "SELECT pg_notify(%s, 'n' || i || '@h') FROM generate_series(1, 250) AS i",
                (channel,),
            )
            await wait_until(lambda: worker.received >= 250, what="all 250 read")
        total = dropped = 0
        while total + dropped < 250:
            for fact in await anext(batches):
                if isinstance(fact, Heard):
                    total += fact.total
                elif isinstance(fact, NotificationsDropped):
                    dropped += fact.count
    # Nobody consumed while the 250 arrived: 100 kept, the rest counted, reading went on.
    assert (total, dropped) == (100, 150)
