"""The worker's output: facts in arrival order, handed out in batches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Self

from pgcluster_tui.core.events import Fact, Heard, NotificationsDropped
from pgcluster_tui.pg.reader import Unread

COALESCE_FROM = 512
COALESCE_SECONDS = 0.02
"""After a batch of this many notifications, wait this long before the next one."""


class Outbox:
    """Facts waiting for the consumer; what the reader holds joins them, in order, as Heard."""

    def __init__(
        self, clock: Callable[[], float], saw_senders: Callable[[Iterable[int]], None]
    ) -> None:
        self.unread = Unread(clock, self.signal)
        self._clock = clock
        self._saw_senders = saw_senders
        self._pending: list[Fact] = []
        self._waiter: asyncio.Future[None] | None = None

    def signal(self) -> None:
        """Something may be ready, or the source ended: wake whoever waits."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            _resolve(waiter)

    def emit(self, fact: Fact) -> None:
        """Queue a fact after everything read so far."""
        self._flush()
        self._pending.append(fact)
        self.signal()

    def _flush(self) -> None:
        # Notifications go out as one Heard chunk, ahead of any later event, to keep order.
        heard = self.unread.take()
        if heard is not None:
            self._pending.append(heard)
            self._saw_senders(self.unread.pids)
        dropped = self.unread.take_dropped()
        if dropped:
            self._pending.append(NotificationsDropped(self._clock(), dropped))

    def batches(self, finished: Callable[[], bool]) -> Batches:
        """Batches until `finished()` says no more will come and everything was handed out."""
        return Batches(self, finished)

    def _take(self) -> list[Fact]:
        self._flush()
        batch, self._pending = self._pending, []
        self.unread.taken = 0
        return batch


class Batches:
    """An async iterator of batches; a cancelled wait for the next one loses nothing.

    A consumer may also poll (`take_nowait`) and be woken (`wake`): no task per batch.
    After a flood chunk the next one is held back COALESCE_SECONDS, either way.
    """

    def __init__(self, outbox: Outbox, finished: Callable[[], bool]) -> None:
        self._outbox = outbox
        self._finished = finished
        self._held_until: float | None = None

    def __aiter__(self) -> Self:
        return self

    def take_nowait(self) -> list[Fact] | None:
        """The next batch, None if none is ready; StopAsyncIteration once all were handed out."""
        if self._held_until is not None:
            if asyncio.get_running_loop().time() < self._held_until:
                return None
            self._held_until = None
        batch = self._outbox._take()
        if not batch:
            if self._finished():
                raise StopAsyncIteration
            return None
        if sum(f.total for f in batch if type(f) is Heard) >= COALESCE_FROM:
            # A flood: let the next chunk grow, so repeats are counted rather than replayed.
            self._held_until = asyncio.get_running_loop().time() + COALESCE_SECONDS
        return batch

    def wake(self, waiter: asyncio.Future[None]) -> None:
        """Resolve `waiter` once take_nowait may have a batch (a fact, the end, a held chunk)."""
        if self._held_until is not None:
            asyncio.get_running_loop().call_at(self._held_until, _resolve, waiter)
            return
        outbox = self._outbox
        if outbox._pending or outbox.unread.items or self._finished():
            _resolve(waiter)
        else:
            outbox._waiter = waiter

    async def __anext__(self) -> list[Fact]:
        while (batch := self.take_nowait()) is None:
            waiter = asyncio.get_running_loop().create_future()
            self.wake(waiter)
            await waiter  # cancelled here, nothing was taken: nothing is lost
        return batch


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
