"""The Monitor: one place that turns a source's facts into state, for every front end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from pgcluster_tui.core.events import (
    BackendsChecked,
    Connected,
    Connecting,
    Disconnected,
    Event,
    Fact,
    Heard,
    HeartbeatToggled,
    Notification,
    RetryScheduled,
    SenderAttributed,
    StallDetected,
)
from pgcluster_tui.core.link import LinkState, reduce
from pgcluster_tui.core.membership import Membership

TICK_SECONDS = 1.0
"""How often silent nodes are aged: the one clock of every front end."""

STALL_SECONDS = 3.0
"""A tick this much later than due means our own process stood still: an outage of ours."""


@runtime_checkable
class PolledBatches(Protocol):
    """Batches a consumer polls, then is woken for: no task, wait or timer per batch."""

    def take_nowait(self) -> list[Fact] | None:
        """The next batch, None if none is ready; StopAsyncIteration once all are out."""
        ...

    def wake(self, waiter: asyncio.Future[None]) -> None:
        """Resolve `waiter` once take_nowait may have a batch."""


class FactSource(Protocol):
    """Where facts come from: the PostgreSQL worker, or a replay."""

    @property
    def heartbeat(self) -> bool:
        """Whether we send our node name every interval."""
        ...

    def start(self) -> None:
        """Start producing facts in the background."""

    async def stop(self, grace: float = 1.5) -> None:
        """Stop within about `grace` seconds; batches() then ends."""

    def batches(self) -> AsyncIterator[list[Fact]]:
        """Facts in arrival order, in batches, until stopped."""
        ...

    async def announce(self, name: str | None = None) -> str:
        """Send one heartbeat now (ours or `name`); return what was sent."""
        ...

    def set_heartbeat(self, on: bool) -> None:
        """Start or stop sending our node name every interval."""

    def check_backends(self, pids: Iterable[int]) -> None:
        """Ask which of these backend pids are still live sessions (answered by a fact)."""


@dataclass(frozen=True, slots=True)
class Update:
    """What one batch or one tick changed: the events in order, and whether ages moved.

    `repeats` are outage facts that only repeat what `events` already said (each failed
    retry with the same reason): they update the link state but are worth no new line.
    """

    events: list[Event] = field(default_factory=list)
    ticked: bool = False
    repeats: list[Event] = field(default_factory=list)


class Monitor:
    """The membership model and our link state, fed by one fact source and one clock."""

    def __init__(
        self,
        source: FactSource,
        model: Membership,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        tick_seconds: float = TICK_SECONDS,
        stall_seconds: float = STALL_SECONDS,
    ) -> None:
        self.source = source
        self.model = model
        self.clock = clock
        self.link = LinkState(heartbeat=source.heartbeat)
        self.received = 0
        """Notifications applied to the model."""
        self._monotonic = monotonic
        self._tick_seconds = tick_seconds
        self._stall_seconds = stall_seconds
        self._awake_at: tuple[float, float] | None = None
        self._started = False
        self._repeats: list[Event] = []
        self._batches: AsyncIterator[list[Fact]] | None = None
        self._pending: asyncio.Future[list[Fact]] | None = None
        self._next_tick: float | None = None
        self._retry_is_repeat = False
        self._waiter: asyncio.Future[None] | None = None
        self._alarm: tuple[asyncio.TimerHandle, float] | None = None

    # Life cycle

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def start(self) -> None:
        """Start the source."""
        if not self._started:
            self._started = True
            self.source.start()

    async def stop(self, grace: float = 1.5) -> None:
        """Stop the source within about `grace` seconds."""
        await self.source.stop(grace)
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.cancel()

    async def updates(self, until: float | None = None) -> AsyncGenerator[Update, None]:
        """Apply each batch as it comes and tick once a second; yield what changed.

        Ends when the source stops or, given `until` (monotonic seconds), then. A consumer may
        leave and come back: the read in flight and the tick cadence are kept for the next call.
        """
        self.start()
        if self._batches is None:
            self._batches = self.source.batches()
        if self._next_tick is None:
            self._next_tick = self._monotonic() + self._tick_seconds
        polled = self._batches if isinstance(self._batches, PolledBatches) else None
        while True:
            now = self._monotonic()
            if until is not None and now >= until:
                return
            due = self._next_tick if until is None else min(self._next_tick, until)
            try:
                if polled is not None:
                    batch = await self._poll(polled, due, now)
                else:
                    batch = await self._next_batch(max(0.0, due - now))
            except StopAsyncIteration:
                return
            events = [] if batch is None else self.apply(batch)
            ticked = self._monotonic() >= self._next_tick
            if ticked:
                events.extend(self.tick())
                self._next_tick = self._monotonic() + self._tick_seconds
            repeats, self._repeats = self._repeats, []
            if events or ticked or repeats:
                yield Update(events, ticked, repeats)

    async def _poll(self, polled: PolledBatches, due: float, now: float) -> list[Fact] | None:
        """The next batch, or None once monotonic `due` has come; StopAsyncIteration at the end."""
        batch = polled.take_nowait()
        if batch is not None or due <= now:
            return batch
        # A heartbeat wakes this one future; the alarm for `due` is set once, not per batch.
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        self._arm(due, now)
        polled.wake(waiter)
        await waiter
        return polled.take_nowait()

    def _arm(self, due: float, now: float) -> None:
        if self._alarm is not None:
            handle, at = self._alarm
            if at == due and not handle.cancelled():
                return
            handle.cancel()
        handle = asyncio.get_running_loop().call_later(due - now, self._ring)
        self._alarm = (handle, due)

    def _ring(self) -> None:
        self._alarm = None
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _next_batch(self, wait: float) -> list[Fact] | None:
        """The next batch of an unpolled source, or None after `wait` seconds."""
        batches = self._batches
        assert batches is not None
        if self._pending is None:
            self._pending = asyncio.ensure_future(anext(batches))
            # Its end may come when nobody reads any more (a source stopped directly).
            self._pending.add_done_callback(_retrieve)
        pending = self._pending
        done, _ = await asyncio.wait({pending}, timeout=wait)
        if not done:
            return None
        self._pending = None
        if pending.cancelled():  # stopped while we waited
            raise StopAsyncIteration
        return pending.result()

    # Facts and time

    def apply(self, facts: Sequence[Fact]) -> list[Event]:
        """Apply facts in order to the model and the link state; return what happened."""
        out = self._stall_check()
        model = self.model
        run: list[Notification] = []
        for fact in facts:
            kind = type(fact)
            if kind is Notification:
                run.append(fact)  # type: ignore[arg-type]
                continue
            if run:
                self.received += len(run)
                out.extend(model.observe_many(run))
                run = []
            if kind is Heard:
                self.received += fact.total  # type: ignore[union-attr]
                out.extend(model.observe_heard(fact))  # type: ignore[arg-type]
                continue
            assert isinstance(fact, Event)
            if isinstance(fact, Connected):
                model.resume(fact.at)
                model.own_sender(fact.sender_pid)
            elif isinstance(fact, Disconnected):
                model.freeze(fact.at)
                model.own_sender(None)
            elif isinstance(fact, SenderAttributed):
                model.attribute(fact)
            elif isinstance(fact, BackendsChecked):
                out.extend(model.backends_checked(fact))
            repeat = self._is_repeat(fact)
            self.link = reduce(self.link, fact)
            (self._repeats if repeat else out).append(fact)
        if run:
            self.received += len(run)
            out.extend(model.observe_many(run))
        self._ask_about_backends()
        return out

    def _is_repeat(self, fact: Event) -> bool:
        # An outage retried every two seconds for minutes says one thing, once.
        link = self.link
        if isinstance(fact, Connecting):
            return fact.attempt > 1
        if isinstance(fact, Disconnected):
            self._retry_is_repeat = not link.connected and fact.reason == link.reason
            return self._retry_is_repeat
        if isinstance(fact, RetryScheduled):
            return self._retry_is_repeat
        return False

    def tick(self) -> list[Event]:
        """Age silent nodes by the clock; a late tick first reports our own stall."""
        events = self._stall_check()
        events.extend(self.model.tick(self.clock()))
        self._ask_about_backends()
        return events

    def _stall_check(self) -> list[Event]:
        # A process that was stopped (SIGSTOP, a paused VM, a blocked loop) sees everyone
        # silent when it resumes: the gap is our outage, not theirs.
        mono, now = self._monotonic(), self.clock()
        previous, self._awake_at = self._awake_at, (mono, now)
        if previous is None:
            return []
        gap = mono - previous[0]
        if gap <= self._tick_seconds + self._stall_seconds:
            return []
        model = self.model
        if not model.frozen:
            model.freeze(previous[1])
            model.resume(now)
        return [StallDetected(now, round(gap, 3))]

    def _ask_about_backends(self) -> None:
        pids = self.model.take_backend_checks()
        if pids:
            self.source.check_backends(pids)

    # Commands

    async def announce(self, name: str | None = None) -> str:
        """Send one heartbeat now (ours or a valid `name`)."""
        return await self.source.announce(name)

    def set_heartbeat(self, on: bool) -> list[Event]:
        """Start or stop heartbeating; return the fact for the log."""
        if on == self.link.heartbeat:
            return []
        self.source.set_heartbeat(on)
        fact = HeartbeatToggled(self.clock(), on)
        self.link = reduce(self.link, fact)
        return [fact]

    def forget(self, name: str) -> list[Event]:
        """Forget a node until it beats again."""
        return self.model.forget(name, self.clock())

    def forget_stale(self) -> list[Event]:
        """Forget every stale node."""
        return self.model.forget_stale(self.clock())


def _retrieve(future: asyncio.Future[list[Fact]]) -> None:
    # A read abandoned at stop may end in StopAsyncIteration: nobody wants it any more.
    if not future.cancelled():
        future.exception()


class ReplaySource:
    """A fact source fed by hand: replays in tests, or facts from another process."""

    def __init__(self, *, heartbeat: bool = False) -> None:
        self._heartbeat = heartbeat
        self._queue: asyncio.Queue[list[Fact] | None] = asyncio.Queue()
        self.announced: list[str] = []
        self.checks: list[int] = []
        self.node = ""

    @property
    def heartbeat(self) -> bool:
        """Whether a live source would heartbeat."""
        return self._heartbeat

    def push(self, facts: Sequence[Fact]) -> None:
        """Deliver a batch, as the worker would."""
        self._queue.put_nowait(list(facts))

    def start(self) -> None:
        """Nothing to start."""

    async def stop(self, grace: float = 1.5) -> None:
        """End batches()."""
        self._queue.put_nowait(None)

    async def batches(self) -> AsyncIterator[list[Fact]]:
        """Every pushed batch until stop()."""
        while (batch := await self._queue.get()) is not None:
            yield batch

    async def announce(self, name: str | None = None) -> str:
        """Record the announce; nothing is sent."""
        sent = name if name is not None else self.node
        self.announced.append(sent)
        return sent

    def set_heartbeat(self, on: bool) -> None:
        """Record the mode."""
        self._heartbeat = on

    def check_backends(self, pids: Iterable[int]) -> None:
        """Record the question; a test answers with a BackendsChecked fact."""
        self.checks.extend(pids)
