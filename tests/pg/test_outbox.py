"""The outbox polled as the Monitor polls it: nothing is lost, a wait ends when a fact comes."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from pgcluster_tui.core.events import Heard, NodeForgotten
from pgcluster_tui.pg.outbox import COALESCE_FROM, Outbox
from tests.waiting import wait_until


def outbox() -> Outbox:
    return Outbox(clock=lambda: 1.0, saw_senders=lambda pids: None)


async def test_a_wait_ends_when_a_fact_is_emitted_and_the_fact_is_taken() -> None:
    box, finished = outbox(), False
    batches = box.batches(lambda: finished)
    assert batches.take_nowait() is None
    waiting = asyncio.ensure_future(batches.wait(60.0))
    await wait_until(lambda: box._waiter is not None, timeout=5)  # the wait is in place
    assert not waiting.done()
    fact = NodeForgotten(2.0, "a@h")
    box.emit(fact)
    await wait_until(waiting.done, timeout=5)
    assert batches.take_nowait() == [fact]
    assert batches.take_nowait() is None
    finished = True
    with pytest.raises(StopAsyncIteration):
        batches.take_nowait()


async def test_a_cancelled_wait_loses_nothing_and_a_timeout_returns() -> None:
    box = outbox()
    batches = box.batches(lambda: False)
    waiting = asyncio.ensure_future(batches.wait(60.0))
    await wait_until(lambda: box._waiter is not None, timeout=5)
    waiting.cancel()
    box.emit(NodeForgotten(2.0, "a@h"))
    assert batches.take_nowait() == [NodeForgotten(2.0, "a@h")]
    await asyncio.wait_for(batches.wait(0.01), timeout=5)  # nothing came: the timeout ends it
    assert batches.take_nowait() is None


async def test_after_a_flood_chunk_the_next_one_is_held_back_to_grow() -> None:
    box = outbox()
    batches = box.batches(lambda: False)
    flood = Heard(1.0, Counter({(f"n{i}@h", 7): 1 for i in range(COALESCE_FROM)}))
    box._pending.append(flood)
    assert batches.take_nowait() == [flood]
    box.emit(NodeForgotten(2.0, "a@h"))
    assert batches.take_nowait() is None, "held back right after a flood chunk"
    await asyncio.wait_for(batches.wait(60.0), timeout=5)  # ends when the hold does
    assert batches.take_nowait() == [NodeForgotten(2.0, "a@h")]
