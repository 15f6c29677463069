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
        self.ready = asyncio.Event()
        self.unread = Unread(clock, self.wake)
        self._clock = clock
        self._saw_senders = saw_senders
        self._pending: list[Fact] = []
        self._waiter: asyncio.Future[None] | None = None

    def emit(self, fact: Fact) -> None:
        """Queue a fact after everything read so far."""
        self._flush()
        self._pending.append(fact)
        self.wake()

    def wake(self) -> None:
        """Something may be ready: wake whoever waits for it (a batch, or the end)."""
        self.ready.set()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

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

    Its consumer may also poll: `take_nowait`, then `wait` (a future and a timer, no task).
    """

    def __init__(self, outbox: Outbox, finished: Callable[[], bool]) -> None:
        self._outbox = outbox
        self._finished = finished
        self._coalesce = False
        self._not_before = 0.0
        """Loop time before which take_nowait holds a flood's next chunk back to let it grow."""

    def take_nowait(self) -> list[Fact] | None:
        """The next batch, or None if none is ready; StopAsyncIteration once all are out."""
        if self._not_before and asyncio.get_running_loop().time() < self._not_before:
            return None
        batch = self._outbox._take()
        if not batch:
            if self._finished():
                raise StopAsyncIteration
            return None
        flood = sum(f.total for f in batch if type(f) is Heard) >= COALESCE_FROM
        self._not_before = asyncio.get_running_loop().time() + COALESCE_SECONDS if flood else 0.0
        return batch

    async def wait(self, timeout: float) -> None:
        """Return once take_nowait may have something, or after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        outbox = self._outbox
        held = self._not_before - loop.time() if self._not_before else 0.0
        if held <= 0 and (outbox._pending or outbox.unread.items or self._finished()):
            return
        waiter: asyncio.Future[None] = loop.create_future()
        if held <= 0:
            outbox._waiter = waiter
        timer = loop.call_later(min(timeout, held) if held > 0 else timeout, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            if outbox._waiter is waiter:
                outbox._waiter = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> list[Fact]:
        outbox = self._outbox
        if self._coalesce:
            # A flood: let the next chunk grow, so repeats are counted rather than replayed.
            self._coalesce = False
            await asyncio.sleep(COALESCE_SECONDS)
        while not (batch := outbox._take()):
            if self._finished():
                raise StopAsyncIteration
            outbox.ready.clear()
            await outbox.ready.wait()
        self._coalesce = sum(f.total for f in batch if type(f) is Heard) >= COALESCE_FROM
        return batch


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
