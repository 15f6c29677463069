"""Reading notifications off the listening connection, into a bounded buffer.

Two paths behind one interface (`listen`, `Reader.run`, `Reader.close`): libpq read in a
socket callback (fast), and psycopg's public `notifies()` (the tested fallback). Every use
of psycopg internals (the connection lock, `pgconn`, `notify_handler`) is in this module.
"""

from __future__ import annotations

import asyncio
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
    ) -> None:
        self._conn = conn
        self._channel = channel
        self._probe_channel = probe_channel
        self._unread = unread
        self._on_probe = on_probe
        self._stop = stop
        self._watching: tuple[asyncio.AbstractEventLoop, int] | None = None

    async def run(self) -> None:
        """Read until stopped (return) or until the connection breaks (raise)."""
        if READ_RAW:
            await self._run_raw()
        else:
            await self._run_portable()

    def close(self) -> None:
        """Stop watching the socket; call before closing the connection."""
        # Its fd number may soon belong to a new connection.
        if self._watching is not None:
            loop, fd = self._watching
            self._watching = None
            loop.remove_reader(fd)

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

        def read() -> None:
            try:
                pgconn.consume_input()
                if pgconn.status != pq.ConnStatus.OK:
                    raise ConnectionLost("the listening connection was closed")
            except (psycopg.Error, ConnectionLost) as exc:
                self.close()
                if not broken.done():
                    broken.set_exception(exc)
                return
            heard = unread.items
            room = MAX_UNREAD - len(heard) - unread.taken
            probes = []
            while raw := pgconn.notifies():
                if raw.relname == channel:
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
                on_probe(raw.extra.decode(encoding, "backslashreplace"))

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
