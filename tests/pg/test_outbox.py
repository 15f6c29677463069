"""The outbox polled as the Monitor polls it: nothing is lost, a wake comes when a fact does."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from pgcluster_tui.core.events import Heard, NodeForgotten
from pgcluster_tui.pg.outbox import COALESCE_FROM, Outbox


def outbox() -> Outbox:
    return Outbox(clock=lambda: 1.0, saw_senders=lambda pids: None)


async def test_a_waiter_is_woken_by_a_fact_and_the_fact_is_taken() -> None:
    box, finished = outbox(), False
    batches = box.batches(lambda: finished)
    assert batches.take_nowait() is None
    waiter = asyncio.get_running_loop().create_future()
    batches.wake(waiter)
    assert not waiter.done(), "nothing came yet"
    fact = NodeForgotten(2.0, "a@h")
    box.emit(fact)
    assert waiter.done()
    assert batches.take_nowait() == [fact]
    assert batches.take_nowait() is None
    finished = True
    with pytest.raises(StopAsyncIteration):
        batches.take_nowait()


async def test_a_waiter_is_woken_at_once_when_something_waits_already() -> None:
    box = outbox()
    batches = box.batches(lambda: False)
    box.emit(NodeForgotten(2.0, "a@h"))
    waiter = asyncio.get_running_loop().create_future()
    batches.wake(waiter)
    assert waiter.done()


async def test_a_cancelled_waiter_loses_nothing() -> None:
    box = outbox()
    batches = box.batches(lambda: False)
    waiter = asyncio.get_running_loop().create_future()
    batches.wake(waiter)
    waiter.cancel()
    box.emit(NodeForgotten(2.0, "a@h"))
    assert batches.take_nowait() == [NodeForgotten(2.0, "a@h")]


async def test_the_sources_end_wakes_the_waiter() -> None:
    box, finished = outbox(), False
    batches = box.batches(lambda: finished)
    waiter = asyncio.get_running_loop().create_future()
    batches.wake(waiter)
    finished = True
    box.signal()
    assert waiter.done()
    with pytest.raises(StopAsyncIteration):
        batches.take_nowait()


async def test_after_a_flood_chunk_the_next_one_is_held_back_to_grow() -> None:
    box = outbox()
    batches = box.batches(lambda: False)
    flood = Heard(1.0, Counter({(f"n{i}@h", 7): 1 for i in range(COALESCE_FROM)}))
    box._pending.append(flood)
    assert batches.take_nowait() == [flood]
    box.emit(NodeForgotten(2.0, "a@h"))
    assert batches.take_nowait() is None, "held back right after a flood chunk"
    waiter = asyncio.get_running_loop().create_future()
    batches.wake(waiter)
    await asyncio.wait_for(waiter, timeout=5)  # resolved when the hold ends
    assert batches.take_nowait() == [NodeForgotten(2.0, "a@h")]
