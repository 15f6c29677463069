"""Reading notifications off the listening connection, into a bounded buffer.

Two paths behind one interface (`listen`, `Reader.run`, `Reader.close`): libpq read in a
socket callback (fast), and psycopg's public `notifies()` (the tested fallback). Every use
of psycopg internals (the connection lock, `pgconn`, `notify_handler`) is in this module.
In a trickle the raw path reads at most every `read_hold` seconds (`Pace`): a wake-up per
heartbeat costs more than everything else an idle monitor does.
"""

from __future__ import annotations

import asyncio
import math
import operator
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from psycopg import pq, sql

from pgcluster_tui.core.events import Heard
from pgcluster_tui.pg.connection import ConnectionLost, StopFlag, bounded

READ_RAW = True
"""Read notifications from libpq in a socket callback; False uses psycopg's public notifies()."""

MAX_UNREAD = 200_000
"""Notifications kept for a consumer that does not keep up; beyond it they are counted, dropped."""

STOP_POLL_SECONDS = 0.25
"""How long the public path's notifies() runs before it looks at the stop flag again."""

TRICKLE_RATE = 1_000.0
"""Below this many notifications a second the raw path reads at most every `read_hold`.

In a trickle (100 nodes beating every 5 s: 20 a second, each in its own packet) a read per
notification is a wake-up per notification, and a wake-up costs far more than the read.
Above it every wake-up finds many notifications anyway, and reading at once keeps the delay
from NOTIFY to screen low under load.
"""

RATE_SECONDS = 1.0
"""Over how long the reader's estimate of the notification rate forgets."""

EXPECT_SECONDS = 1.0
"""How long the reader reads at once after something of ours was sent that must come back."""

LISTEN = sql.SQL("LISTEN {}")


async def listen(
    conn: psycopg.AsyncConnection[Any], channels: Iterable[str], timeout: float
) -> None:
    """LISTEN on each channel, quoted so its case is kept."""
    for channel in channels:
        await bounded(conn.execute(LISTEN.format(sql.Identifier(channel))), timeout, "LISTEN")


_PAYLOAD = operator.attrgetter("extra")
_PID = operator.attrgetter("be_pid")


class Unread:
    """Notifications from the cluster channel read but not yet taken; bounded by MAX_UNREAD."""

    def __init__(self, clock: Callable[[], float], wake: Callable[[], None]) -> None:
        self.items: list[Any] = []
        """What the reader appended: raw libpq notifies or psycopg Notify objects."""
        self.at = 0.0
        """When the first of `items` was read."""
        self.taken = 0
        """Taken but not yet handed to the consumer: still counts against the bound."""
        self.dropped = 0
        self.encoding: str | None = None
        """The connection's encoding when `items` are raw libpq notifies; None for Notify."""
        self.pids: set[int] = set()
        """The backends of the last take."""
        self._received = 0
        self.clock = clock
        self.wake = wake

    def take(self) -> Heard | None:
        """Everything read so far as one Heard fact, identical notifications counted."""
        items = self.items
        if not items:
            return None
        self.items = []
        self.taken += len(items)
        self._received += len(items)
        if self.encoding is None:
            self.pids = {n.pid for n in items}
            return Heard(self.at, Counter((n.payload, n.pid) for n in items))
        # One decode for the whole read: payloads never hold NUL, so it splits them back.
        joined = b"\0".join(map(_PAYLOAD, items)).decode(self.encoding, "backslashreplace")
        self.pids = set(map(_PID, items))
        return Heard(self.at, Counter(zip(joined.split("\0"), map(_PID, items), strict=True)))

    def take_dropped(self) -> int:
        """How many were dropped since the last call."""
        dropped, self.dropped = self.dropped, 0
        self._received += dropped
        return dropped

    @property
    def received(self) -> int:
        """Notifications read from the cluster channel so far, kept or dropped."""
        return self._received + len(self.items) + self.dropped


class Pace:
    """Whether to hold the next read back: only in a steady trickle, never while ours return."""

    def __init__(self, hold: float, trickle_rate: float = TRICKLE_RATE) -> None:
        self.hold = hold
        self._trickle_rate = trickle_rate
        self._rate = 0.0
        self._last_heard = -math.inf
        self._expect_until = -math.inf

    def should_hold(self, now: float, count: int, *, drained: bool = True) -> bool:
        """After a read of `count` notifications at `now`: wait `hold` before the next read?
        Never if the read left more (`drained` False): a full buffer is not a trickle."""
        if count == 0:
            return False
        since, self._last_heard = now - self._last_heard, now
        # Notifications a second, decaying over RATE_SECONDS: one quick read in a stream of
        # thousands a second does not make it a trickle.
        self._rate = self._rate * math.exp(-since / RATE_SECONDS) + count / RATE_SECONDS
        if self.hold <= 0 or not drained or now < self._expect_until:
            return False
        # A lone notification after a silence is read at once: another may not follow soon.
        # Reads back to back, or as many as came at the trickle's rate since the last, are load:
        # a backlog the server sends in small pieces is never held.
        limit = self._trickle_rate
        return since <= 2 * self.hold and count < limit * since and self._rate < limit

    def expect(self, now: float) -> None:
        """Something of ours was sent (a probe, an announce): read at once until it returns."""
        self._expect_until = now + EXPECT_SECONDS

    def returned(self) -> None:
        """What we expected came back."""
        self._expect_until = -math.inf


class Reader:
    """Reads one listening connection into `unread` until stopped or the connection breaks."""

    def __init__(
        self,
        conn: psycopg.AsyncConnection[Any],
        channel: str,
        probe_channel: str,
        unread: Unread,
        on_probe: Callable[[str], None],
        stop: StopFlag,
        hold: float = 0.0,
    ) -> None:
        self._conn = conn
        self._channel = channel
        self._probe_channel = probe_channel
        self._unread = unread
        self._on_probe = on_probe
        self._stop = stop
        self._watching: tuple[asyncio.AbstractEventLoop, int] | None = None
        self._pace = Pace(hold)
        self._held: asyncio.TimerHandle | None = None
        self._resume: Callable[[], None] | None = None

    async def run(self) -> None:
        """Read until stopped (return) or until the connection breaks (raise)."""
        if READ_RAW:
            await self._run_raw()
        else:
            await self._run_portable()

    def close(self) -> None:
        """Stop watching the socket; call before closing the connection."""
        # Its fd number may soon belong to a new connection.
        if self._held is not None:
            self._held.cancel()
            self._held = None
        if self._watching is not None:
            loop, fd = self._watching
            self._watching = None
            loop.remove_reader(fd)

    def expect(self) -> None:
        """Something of ours was sent that comes back here: read at once, not in a trickle's
        pace, so its round trip is timed truly."""
        if self._watching is None:
            return
        loop, _ = self._watching
        self._pace.expect(loop.time())
        if self._held is not None and self._resume is not None:
            self._held.cancel()
            self._resume()

    async def _run_raw(self) -> None:
        # libpq read in a socket callback: no future, task step or timer per read, and raw
        # (channel, pid, payload) bytes counted first so only distinct ones are decoded.
        conn, unread = self._conn, self._unread
        encoding = conn.info.encoding
        channel = self._channel.encode(encoding)
        probe = self._probe_channel.encode(encoding)
        unread.encoding = encoding
        pgconn = conn.pgconn
        # psycopg's handler would decode every notification again into its own backlog.
        pgconn.notify_handler = None
        loop = asyncio.get_running_loop()
        broken: asyncio.Future[None] = loop.create_future()
        fd = pgconn.socket
        clock, wake, on_probe = unread.clock, unread.wake, self._on_probe

        pace = self._pace

        def resume() -> None:
            self._held = None
            if self._watching is not None:
                loop.add_reader(fd, read)
                read()

        def read() -> None:
            count = read_now()
            if not count or pace.hold <= 0:
                return
            # libpq reads at most its buffer's worth a call: whatever is left is not a trickle.
            more = read_now()
            held = pace.should_hold(loop.time(), count + more, drained=not more)
            if held and self._watching is not None:
                # What arrives in the meantime is read in one go, one wake-up.
                loop.remove_reader(fd)
                self._held = loop.call_later(pace.hold, resume)

        def read_now() -> int:
            try:
                pgconn.consume_input()
                if pgconn.status != pq.ConnStatus.OK:
                    raise ConnectionLost("the listening connection was closed")
            except (psycopg.Error, ConnectionLost) as exc:
                self.close()
                if not broken.done():
                    broken.set_exception(exc)
                return 0
            heard = unread.items
            room = MAX_UNREAD - len(heard) - unread.taken
            probes = []
            count = 0
            while raw := pgconn.notifies():
                if raw.relname == channel:
                    count += 1
                    if not heard:
                        unread.at = clock()
                        wake()
                    if room > 0:
                        heard.append(raw)
                        room -= 1
                    else:
                        unread.dropped += 1
                elif raw.relname == probe:
                    probes.append(raw)
            # After the loop: a probe emits an event, which takes `heard` into the output.
            for raw in probes:
                pace.returned()
                on_probe(raw.extra.decode(encoding, "backslashreplace"))
            return count

        self._resume = resume
        # The listener is ours for the session: hold its lock so nothing else runs a query on it.
        async with conn.lock:
            self._watching = (loop, fd)
            loop.add_reader(fd, read)
            stopped = asyncio.ensure_future(self._stop.wait())
            try:
                read()  # anything libpq buffered before the callback was in place
                await asyncio.wait({broken, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                self.close()
        if broken.done():
            broken.result()

    async def _run_portable(self) -> None:
        conn, unread = self._conn, self._unread
        channel, probe = self._channel, self._probe_channel
        unread.encoding = None
        clock, wake = unread.clock, unread.wake
        while not self._stop.is_set:
            async for n in conn.notifies(timeout=STOP_POLL_SECONDS):
                if n.channel == channel:
                    heard = unread.items
                    if not heard:
                        unread.at = clock()
                        wake()
                    if len(heard) + unread.taken < MAX_UNREAD:
                        heard.append(n)
                    else:
                        # Keep reading even so: a listener that stops fills the server's queue.
                        unread.dropped += 1
                elif n.channel == probe:
                    self._on_probe(n.payload)
