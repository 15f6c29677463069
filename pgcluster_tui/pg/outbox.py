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
        self.unread = Unread(clock, self.ready.set)
        self._clock = clock
        self._saw_senders = saw_senders
        self._pending: list[Fact] = []

    def emit(self, fact: Fact) -> None:
        """Queue a fact after everything read so far."""
        self._flush()
        self._pending.append(fact)
        self.ready.set()

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
    """An async iterator of batches; a cancelled wait for the next one loses nothing."""

    def __init__(self, outbox: Outbox, finished: Callable[[], bool]) -> None:
        self._outbox = outbox
        self._finished = finished
        self._coalesce = False

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
