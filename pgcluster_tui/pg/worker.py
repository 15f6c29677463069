"""The PostgreSQL worker: listen, heartbeat, probe and reconnect, as a stream of facts."""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import psycopg
from psycopg import pq, sql

from pgcluster_tui.core.events import (
    Connected,
    Connecting,
    Disconnected,
    Event,
    Heard,
    HeartbeatSent,
    ListenerHealthy,
    ListenerSilent,
    NotificationsDropped,
    ProbeMeasured,
    QueueUsageMeasured,
    RetryScheduled,
    SendFailed,
)
from pgcluster_tui.core.protocol import validate_channel, validate_node_name
from pgcluster_tui.pg.attribution import SenderLookup
from pgcluster_tui.pg.errors import Redactor, WorkerError, describe_target, format_target

Fact = Heard | Event
"""What the worker reports: notifications heard on the cluster channel, or an event."""

T = TypeVar("T")

NOTIFY = sql.SQL("SELECT pg_notify({}, {})").format(sql.Placeholder(), sql.Placeholder())
LISTEN = sql.SQL("LISTEN {}")
QUEUE_USAGE = sql.SQL("SELECT pg_notification_queue_usage()")
QUEUE_POLL_SECONDS = 5.0
READ_RAW = True
"""Read notifications from libpq in a socket callback; False uses psycopg's public notifies()."""

COALESCE_FROM = 512
COALESCE_SECONDS = 0.02
"""After a batch of this many notifications, wait this long before the next one."""

MAX_UNREAD = 200_000
"""Notifications kept for a consumer that does not keep up; beyond it they are counted, dropped."""
STOP_POLL_SECONDS = 0.25
STABLE_SESSION_SECONDS = 10.0
"""A session shorter than this died young: young deaths in a row lengthen the backoff."""


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What the worker needs to know; `conninfo` is a secret and never shown."""

    conninfo: str
    channel: str
    node: str
    interval: float = 5.0
    heartbeat: bool = False
    probe_interval: float = 2.0
    reconnect_max: float = 30.0
    connect_timeout: float = 5.0
    application_name: str = "pgcluster-tui"

    def __repr__(self) -> str:
        return f"WorkerConfig(target={describe_target(self.conninfo)!r}, channel={self.channel!r})"


def _portable_key(notify: Any) -> tuple[str, int]:
    return (notify.payload, notify.pid)


class ConnectionLost(Exception):
    """The session must be torn down and opened again."""


@contextlib.contextmanager
def _unless_broken(conn: psycopg.AsyncConnection[Any]) -> Iterator[None]:
    """Let a failed statement pass when the connection survived it; re-raise when it did not.

    A side query that fails (NOTIFY into a full queue, a revoked function) must not
    tear down the session, or the observer would stop listening exactly then.
    """
    try:
        yield
    except psycopg.Error:
        if conn.broken or conn.closed:
            raise


async def connect(config: WorkerConfig, role: str) -> psycopg.AsyncConnection[Any]:
    """Open an autocommit connection with keepalives and a labelled application_name."""
    return await psycopg.AsyncConnection.connect(
        config.conninfo,
        autocommit=True,
        application_name=f"{config.application_name} {role}"[:63],
        connect_timeout=max(1, round(config.connect_timeout)),
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=3,
        keepalives_count=3,
    )


async def bounded(awaitable: Awaitable[T], timeout: float, what: str) -> T:
    """Await with a deadline; on expiry abandon the call instead of waiting for it to unwind."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        _abandon(task)
        raise
    if not done:
        _abandon(task)
        raise ConnectionLost(f"{what} got no answer within {timeout:g} s")
    return task.result()


def _abandon(task: asyncio.Future[Any]) -> None:
    task.cancel()
    task.add_done_callback(_consume_result)


def _consume_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


async def send_once(config: WorkerConfig, name: str | None = None) -> str:
    """Connect, send one heartbeat (ours or `name`), close; raise WorkerError on any problem."""
    payload = validate_node_name(name if name is not None else config.node)
    validate_channel(config.channel)
    redact = Redactor(config.conninfo)
    conn: psycopg.AsyncConnection[Any] | None = None
    try:
        conn = await bounded(connect(config, "announce"), config.connect_timeout + 1, "connect")
        await bounded(
            conn.execute(NOTIFY, (config.channel, payload)), config.connect_timeout, "NOTIFY"
        )
    except (psycopg.Error, ConnectionLost, OSError) as exc:
        raise WorkerError(redact.one_line(exc)) from None
    finally:
        if conn is not None:
            with contextlib.suppress(Exception):
                await bounded(conn.close(), 1.0, "close")
    return payload


class ChannelWorker:
    """Keeps a listening and a sending connection on the channel and reports what happens."""

    def __init__(self, config: WorkerConfig, *, clock: Callable[[], float] = time.time) -> None:
        validate_channel(config.channel)
        validate_node_name(config.node)
        self.config = config
        self._clock = clock
        self._redact = Redactor(config.conninfo)
        self._pending: list[Fact] = []
        self._heard: list[Any] = []
        self._key_of: Callable[[Any], tuple[str, int]] = _portable_key
        self._heard_at = 0.0
        self._flushed = 0
        self._dropped = 0
        self._ready = asyncio.Event()
        self._stopping = False
        self._wake = asyncio.Event()
        self._heartbeat = config.heartbeat
        self._heartbeat_changed = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._sender: psycopg.AsyncConnection[Any] | None = None
        self._listener: psycopg.AsyncConnection[Any] | None = None
        self._lookup = SenderLookup()
        self._senders_wanted = asyncio.Event()
        self._reader: tuple[asyncio.AbstractEventLoop, int, Callable[[], None]] | None = None
        self._probe_sent: dict[str, float] = {}
        self._probe_last_ok = time.monotonic()
        self._probe_silent = False
        self.probe_channel = f"pgcluster_tui_probe_{secrets.token_hex(8)}"
        self.connected = False
        self.received = 0
        self.reconnects = 0
        self.next_beat_at: float | None = None
        self.retry_at: float | None = None
        self.listener_pid: int | None = None
        self.sender_pid: int | None = None

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
        """Start connecting in the background."""
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise(), name="pgcluster-worker")
            # Wake batches() when the supervisor ends, or it would wait forever for more.
            self._supervisor.add_done_callback(lambda _: self._ready.set())

    async def stop(self, grace: float = 1.5) -> None:
        """Stop cooperatively; never waits longer than about `grace` seconds."""
        self._stopping = True
        self._wake.set()
        self._ready.set()
        task = self._supervisor
        if task is not None and not task.done():
            done, _ = await asyncio.wait({task}, timeout=grace)
            if not done:
                _abandon(task)
        await self._close_connections(timeout=0.3)

    @property
    def stopping(self) -> bool:
        """Whether stop() was called."""
        return self._stopping

    # Output

    async def batches(self) -> AsyncIterator[list[Fact]]:
        """Yield facts in arrival order, in batches, until the worker stops."""
        while True:
            self._flush_heard()
            if not self._pending:
                finished = self._supervisor is None or self._supervisor.done()
                if finished and (self._stopping or self._supervisor is not None):
                    return
                self._ready.clear()
                await self._ready.wait()
                continue
            batch, self._pending = self._pending, []
            self._flushed = 0
            yield batch
            if sum(f.total for f in batch if type(f) is Heard) >= COALESCE_FROM:
                # A flood: let the next chunk grow, so repeats are counted rather than replayed.
                await asyncio.sleep(COALESCE_SECONDS)

    def _emit(self, fact: Fact) -> None:
        self._flush_heard()
        self._pending.append(fact)
        self._ready.set()

    def _flush_heard(self) -> None:
        # Notifications go out as one Heard chunk, ahead of any later event, to keep order.
        heard = self._heard
        if heard:
            self._heard = []
            self._flushed += len(heard)
            key_of = self._key_of
            counts: Counter[tuple[str, int]] = Counter()
            for raw, n in Counter(heard).items():
                counts[key_of(raw)] += n  # two raw payloads may decode alike
            self._pending.append(Heard(self._heard_at, counts))
            saw = self._lookup.saw
            new_pids = [pid for pid in {pid for _, pid in counts} if saw(pid)]
            if new_pids:
                self._senders_wanted.set()
        if self._dropped:
            self._pending.append(NotificationsDropped(self._clock(), self._dropped))
            self._dropped = 0

    # Commands

    @property
    def heartbeat(self) -> bool:
        """Whether we send our node name every interval."""
        return self._heartbeat

    def set_heartbeat(self, on: bool) -> None:
        """Turn our periodic heartbeat on or off; turning it on beats at once."""
        if on != self._heartbeat:
            self._heartbeat = on
            if not on:
                self.next_beat_at = None
            self._heartbeat_changed.set()

    async def announce(self, name: str | None = None) -> str:
        """Send one heartbeat now (ours, or a valid `name`); raise WorkerError if it fails."""
        payload = validate_node_name(name if name is not None else self.config.node)
        if self._sender is None or not self.connected:
            raise WorkerError("not connected")
        try:
            await self._notify(payload, manual=True)
        except ConnectionLost as exc:
            raise WorkerError(str(exc)) from None
        return payload

    # Sessions

    async def _supervise(self) -> None:
        attempt = young = 0
        target = describe_target(self.config.conninfo)
        while not self._stopping:
            attempt += 1
            self._emit(Connecting(self._clock(), target, attempt))
            opened: float | None = None
            try:
                await self._open()
                opened = time.monotonic()
                await self._run_session()
                reason = "stopped"
            except (psycopg.Error, ConnectionLost, OSError, UnicodeDecodeError) as exc:
                reason = self._redact.one_line(exc)
            except Exception as exc:  # a bug must not end the worker silently
                reason = f"internal error: {type(exc).__name__}: {self._redact.one_line(exc)}"
            if opened is not None:
                # After a session, the backoff starts from how many in a row died young: a
                # restart is followed at once, a server that keeps dropping us is not hammered.
                lasted = time.monotonic() - opened
                young = 0 if lasted >= STABLE_SESSION_SECONDS else young + 1
                attempt = young
            was_connected = self.connected
            self.connected = False
            self.next_beat_at = None
            await self._close_connections(timeout=0.5)
            if self._stopping:
                if was_connected:
                    self._emit(Disconnected(self._clock(), "stopped"))
                break
            self._emit(Disconnected(self._clock(), reason))
            if was_connected:
                self.reconnects += 1
            delay = self._backoff(attempt)
            self.retry_at = self._clock() + delay
            self._emit(RetryScheduled(self._clock(), round(delay, 2), attempt + 1))
            await self._sleep(delay)
            self.retry_at = None

    def _backoff(self, attempt: int) -> float:
        if attempt <= 0:
            return 0.2  # after a stable session: reconnect almost at once
        base = min(self.config.reconnect_max, 0.5 * 2 ** (attempt - 1))
        return float(base * random.uniform(0.8, 1.2))

    async def _open(self) -> None:
        timeout = self.config.connect_timeout + 1
        self._listener = await bounded(connect(self.config, "listener"), timeout, "connect")
        self._sender = await bounded(connect(self.config, "sender"), timeout, "connect")
        listener = self._listener
        for channel in (self.config.channel, self.probe_channel):
            query = LISTEN.format(sql.Identifier(channel))
            await bounded(listener.execute(query), timeout, "LISTEN")
        self._lookup.reset()
        info = listener.info
        self.listener_pid = info.backend_pid
        self.sender_pid = self._sender.info.backend_pid
        version = info.parameter_status("server_version") or ""
        target = format_target(info.user, info.host, str(info.port), info.dbname)
        self.connected = True
        self._emit(
            Connected(
                self._clock(),
                target,
                version.split(" ")[0],
                info.user,
                self.listener_pid,
                self.sender_pid,
            )
        )

    async def _run_session(self) -> None:
        loops = [
            self._listen_loop(),
            self._heartbeat_loop(),
            self._probe_loop(),
            self._queue_loop(),
            self._attribution_loop(),
        ]
        tasks = [asyncio.create_task(loop) for loop in loops]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                if not task.done():
                    _abandon(task)
        # Retrieve every failure (several loops may break at once), raise the first.
        failures = [t.exception() for t in done if not t.cancelled()]
        for failure in failures:
            if failure is not None:
                raise failure

    async def _close_connections(self, timeout: float) -> None:
        self._drop_reader()
        for conn in (self._listener, self._sender):
            if conn is not None and not conn.closed:
                with contextlib.suppress(Exception):
                    await bounded(conn.close(), timeout, "close")
        self._listener = self._sender = None

    async def _sleep(self, seconds: float) -> None:
        if self._stopping:
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    # Loops: each returns only when stopping and raises when the session is broken.

    async def _listen_loop(self) -> None:
        conn = self._listener
        assert conn is not None
        if READ_RAW:
            await self._listen_raw(conn)
        else:
            await self._listen_portable(conn)

    async def _listen_raw(self, conn: psycopg.AsyncConnection[Any]) -> None:
        # libpq read in a socket callback: no future, task step or timer per read, and raw
        # (channel, pid, payload) bytes counted first so only distinct ones are decoded.
        encoding = conn.info.encoding
        channel = self.config.channel.encode(encoding)
        probe = self.probe_channel.encode(encoding)
        self._key_of = lambda raw: (raw[2].decode(encoding, "backslashreplace"), raw[1])
        pgconn = conn.pgconn
        # psycopg's handler would decode every notification again into its own backlog.
        pgconn.notify_handler = None
        loop = asyncio.get_running_loop()
        broken: asyncio.Future[None] = loop.create_future()
        fd = pgconn.socket
        clock = self._clock
        ready = self._ready

        def read() -> None:
            try:
                pgconn.consume_input()
                if pgconn.status != pq.ConnStatus.OK:
                    raise ConnectionLost("the listening connection was closed")
            except (psycopg.Error, ConnectionLost) as exc:
                self._drop_reader()
                if not broken.done():
                    broken.set_exception(exc)
                return
            heard = self._heard
            room = MAX_UNREAD - len(heard) - self._flushed
            kept, dropped_before = len(heard), self._dropped
            probes = []
            while raw := pgconn.notifies():
                if raw.relname == channel:
                    if not heard:
                        self._heard_at = clock()
                        ready.set()
                    if room > 0:
                        heard.append(raw)
                        room -= 1
                    else:
                        self._dropped += 1
                elif raw.relname == probe:
                    probes.append(raw)
            self.received += len(heard) - kept + self._dropped - dropped_before
            # After the loop: a probe emits an event, which moves `heard` into the output.
            for raw in probes:
                self._probe_returned(raw.extra.decode(encoding, "backslashreplace"))

        # The listener is ours for the session: hold its lock so nothing else runs a query on it.
        async with conn.lock:
            self._reader = (loop, fd, read)
            loop.add_reader(fd, read)
            stopped = asyncio.ensure_future(self._wake.wait())
            either: set[asyncio.Future[Any]] = {broken, stopped}
            try:
                read()  # anything libpq buffered before the callback was in place
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                self._drop_reader()
        if broken.done():
            broken.result()

    def _drop_reader(self) -> None:
        # Before the socket closes: its fd number may soon belong to a new connection.
        if self._reader is not None:
            loop, fd, _ = self._reader
            self._reader = None
            loop.remove_reader(fd)

    @contextlib.asynccontextmanager
    async def reading_held(self) -> AsyncIterator[None]:
        """Stop reading notifications for the block, so a backlog builds (for measurements)."""
        reader, conn = self._reader, self._listener
        if reader is not None:
            loop, fd, read = reader
            loop.remove_reader(fd)
            try:
                yield
            finally:
                if self._reader is reader:
                    loop.add_reader(fd, read)
                    loop.call_soon(read)
        else:
            assert conn is not None, "not connected"
            async with conn.lock:
                yield

    async def _listen_portable(self, conn: psycopg.AsyncConnection[Any]) -> None:
        channel = self.config.channel
        probe = self.probe_channel
        self._key_of = _portable_key
        clock = self._clock
        ready = self._ready
        while not self._stopping:
            async for n in conn.notifies(timeout=STOP_POLL_SECONDS):
                if n.channel == channel:
                    self.received += 1
                    heard = self._heard
                    if not heard:
                        self._heard_at = clock()
                        ready.set()
                    if len(heard) + self._flushed < MAX_UNREAD:
                        heard.append(n)
                    else:
                        # Keep reading even so: a listener that stops fills the server's queue.
                        self._dropped += 1
                elif n.channel == probe:
                    self._probe_returned(n.payload)

    async def _heartbeat_loop(self) -> None:
        while not self._stopping:
            if not self._heartbeat:
                self._heartbeat_changed.clear()
                await self._wait_for(self._heartbeat_changed, None)
                continue
            # Clear before sending: a toggle during the NOTIFY must still wake the wait below.
            self._heartbeat_changed.clear()
            await self._notify(self.config.node, manual=False)
            if self._heartbeat:
                self.next_beat_at = self._clock() + self.config.interval
            await self._wait_for(self._heartbeat_changed, self.config.interval)

    async def _notify(self, payload: str, *, manual: bool) -> None:
        conn = self._sender
        if conn is None:
            raise ConnectionLost("no sending connection")
        try:
            await bounded(
                conn.execute(NOTIFY, (self.config.channel, payload)),
                self.config.connect_timeout,
                "NOTIFY",
            )
        except psycopg.Error as exc:
            self._emit(SendFailed(self._clock(), payload, self._redact.one_line(exc)))
            if conn.broken or conn.closed:
                raise ConnectionLost(self._redact.one_line(exc)) from None
            if manual:
                raise WorkerError(self._redact.one_line(exc)) from None
            return
        except ConnectionLost as exc:
            self._emit(SendFailed(self._clock(), payload, str(exc)))
            raise
        self._emit(HeartbeatSent(self._clock(), payload, manual))

    async def _wait_for(self, event: asyncio.Event, timeout: float | None) -> None:
        if self._stopping:
            return
        stop = asyncio.ensure_future(self._wake.wait())
        changed = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({stop, changed}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            stop.cancel()
            changed.cancel()

    # Probe: a private side channel proves that our LISTEN really receives.

    async def _probe_loop(self) -> None:
        self._probe_sent = {}
        self._probe_last_ok = time.monotonic()
        # _probe_silent survives a reconnect, so the first probe back reports ListenerHealthy.
        counter = 0
        conn = self._sender
        assert conn is not None
        silence_limit = max(3 * self.config.probe_interval, 5.0)
        while not self._stopping:
            counter += 1
            token = str(counter)
            self._probe_sent[token] = time.monotonic()
            if len(self._probe_sent) > 64:
                self._probe_sent.pop(next(iter(self._probe_sent)))
            with _unless_broken(conn):  # e.g. a full queue: the silence below reports it
                await bounded(
                    conn.execute(NOTIFY, (self.probe_channel, token)),
                    self.config.connect_timeout,
                    "probe NOTIFY",
                )
            await self._wait_for(asyncio.Event(), self.config.probe_interval)
            silent_for = time.monotonic() - self._probe_last_ok
            if not self._probe_silent and silent_for > silence_limit:
                self._probe_silent = True
                self._emit(ListenerSilent(self._clock(), round(silent_for, 1)))

    def _probe_returned(self, token: str) -> None:
        sent = self._probe_sent.pop(token, None)
        if sent is None:
            return
        now = time.monotonic()
        rtt_ms = round((now - sent) * 1000, 3)
        self._probe_last_ok = now
        if self._probe_silent:
            self._probe_silent = False
            self._emit(ListenerHealthy(self._clock(), rtt_ms))
        self._emit(ProbeMeasured(self._clock(), rtt_ms))

    async def _queue_loop(self) -> None:
        conn = self._sender
        assert conn is not None
        while not self._stopping:
            with _unless_broken(conn):
                cursor = await bounded(
                    conn.execute(QUEUE_USAGE), self.config.connect_timeout, "queue usage"
                )
                row = await cursor.fetchone()
                if row is not None:
                    self._emit(QueueUsageMeasured(self._clock(), float(row[0])))
            await self._wait_for(asyncio.Event(), QUEUE_POLL_SECONDS)

    async def _attribution_loop(self) -> None:
        conn = self._sender
        assert conn is not None
        while not self._stopping:
            pids = self._lookup.take()
            if not pids:
                self._senders_wanted.clear()
                await self._wait_for(self._senders_wanted, None)
                continue
            with _unless_broken(conn):
                found = await bounded(
                    self._lookup.fetch(conn, pids, self._clock()),
                    self.config.connect_timeout,
                    "pg_stat_activity",
                )
                for sender in found:
                    self._emit(sender)
            await self._wait_for(asyncio.Event(), 0.25)  # at most 4 look-ups a second
