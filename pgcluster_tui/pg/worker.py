"""The session supervisor: two connections on the channel, reconnected by policy, as facts.

A session is a listening and a sending connection; the reader, the sender, the probe and
the side queries run on it until stopped or until either connection breaks, which ends
the whole session. The worker only reports: every change of state is a fact.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import Any, Self

import psycopg

from pgcluster_tui.core.backoff import Failure, ReconnectPolicy
from pgcluster_tui.core.events import (
    Connected,
    Connecting,
    Disconnected,
    Event,
    Fact,
    RetryScheduled,
)
from pgcluster_tui.core.protocol import validate_channel, validate_node_name
from pgcluster_tui.pg.connection import (
    ConnectionLost,
    StopFlag,
    WorkerConfig,
    abandon,
    bounded,
    connect,
)
from pgcluster_tui.pg.errors import Redactor, WorkerError, classify, describe_target, format_target
from pgcluster_tui.pg.outbox import Outbox
from pgcluster_tui.pg.probe import Probe
from pgcluster_tui.pg.queries import SideQueries
from pgcluster_tui.pg.reader import Reader, listen
from pgcluster_tui.pg.sender import Heartbeat, Sender, send_once

__all__ = ["ChannelWorker", "Fact", "WorkerConfig", "send_once"]

Connection = psycopg.AsyncConnection[Any]


class Unusable(Exception):
    """The database can never carry this channel: retrying cannot help."""


class ChannelWorker:
    """Keeps a listening and a sending connection on the channel and reports what happens."""

    def __init__(self, config: WorkerConfig, *, clock: Callable[[], float] = time.time) -> None:
        validate_channel(config.channel)
        validate_node_name(config.node)
        self.config = config
        self._clock = clock
        self._redact = Redactor(config.conninfo)
        self._stop = StopFlag()
        self._queries = SideQueries(config, self._stop, self._emit, clock)
        self._outbox = Outbox(clock, self._queries.saw_senders)
        self._heartbeat = Heartbeat(config.heartbeat)
        self._probe = Probe(
            config,
            self._stop,
            self._emit,
            clock,
            received=lambda: self._outbox.unread.received,
            sending=self._expect_echo,
        )
        self._supervisor: asyncio.Task[None] | None = None
        self._listener: Connection | None = None
        self._sender: Connection | None = None
        self._reader: Reader | None = None
        self._send: Sender | None = None

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
            self._supervisor.add_done_callback(lambda _: self._outbox.signal())

    async def stop(self, grace: float = 1.5) -> None:
        """Stop cooperatively; never waits longer than about `grace` seconds."""
        self._stop.set()
        self._outbox.signal()
        task = self._supervisor
        if task is not None and not task.done():
            done, _ = await asyncio.wait({task}, timeout=grace)
            if not done:
                abandon(task)
        await self._close_connections(timeout=0.3)

    @property
    def stopping(self) -> bool:
        """Whether stop() was called."""
        return self._stop.is_set

    @property
    def probe_channel(self) -> str:
        """The private side channel our probes travel on."""
        return self._probe.channel

    # Output

    def batches(self) -> AsyncIterator[list[Fact]]:
        """Facts in arrival order, in batches, until the worker stops."""
        return self._outbox.batches(self._finished)

    def _finished(self) -> bool:
        # Started and ended, or stopped before it ever started.
        if self._supervisor is None:
            return self._stop.is_set
        return self._supervisor.done()

    def _emit(self, fact: Event) -> None:
        self._outbox.emit(fact)

    # Commands

    @property
    def heartbeat(self) -> bool:
        """Whether we send our node name every interval."""
        return self._heartbeat.on

    def set_heartbeat(self, on: bool) -> None:
        """Turn our periodic heartbeat on or off; turning it on beats at once."""
        self._heartbeat.set(on)

    async def announce(self, name: str | None = None) -> str:
        """Send one heartbeat now (ours, or a valid `name`); raise WorkerError if it fails."""
        payload = validate_node_name(name if name is not None else self.config.node)
        if self._send is None:
            raise WorkerError("not connected")
        self._expect_echo()
        try:
            await self._send.notify(payload, manual=True)
        except ConnectionLost as exc:
            raise WorkerError(str(exc)) from None
        return payload

    def _expect_echo(self) -> None:
        # What we send comes back on our own listener: read it when it comes, not in a trickle.
        if self._reader is not None:
            self._reader.expect()

    def check_backends(self, pids: Iterable[int]) -> None:
        """Ask which of these backend pids are live sessions; a BackendsChecked fact answers."""
        self._queries.check_backends(pids)

    # Sessions

    async def _supervise(self) -> None:
        policy = ReconnectPolicy(self.config.reconnect_max)
        target = describe_target(self.config.conninfo)
        while not self._stop.is_set:
            self._emit(Connecting(self._clock(), target, policy.attempt + 1))
            opened: float | None = None
            failure = Failure.REFUSED
            try:
                listener, sender, send = await self._open()
                opened = time.monotonic()
                await self._run_session(listener, sender, send)
                reason = "stopped"
            except Unusable as exc:
                await self._close_connections(timeout=0.5)
                self._emit(Disconnected(self._clock(), str(exc), final=True))
                break
            except (psycopg.Error, ConnectionLost, OSError, UnicodeDecodeError) as exc:
                failure, reason = classify(exc), self._redact.one_line(exc)
            except Exception as exc:  # a bug must not end the worker silently, nor spin
                failure = Failure.CONFIG
                reason = f"internal error: {type(exc).__name__}: {self._redact.one_line(exc)}"
            self._send = None
            await self._close_connections(timeout=0.5)
            if self._stop.is_set:
                if opened is not None:
                    self._emit(Disconnected(self._clock(), "stopped"))
                break
            self._emit(Disconnected(self._clock(), reason))
            if opened is not None:
                delay = policy.session_ended(time.monotonic() - opened)
            else:
                delay = policy.attempt_failed(failure)
            self._emit(RetryScheduled(self._clock(), round(delay, 2), policy.attempt + 1))
            await self._stop.sleep(delay)

    async def _open(self) -> tuple[Connection, Connection, Sender]:
        config, timeout = self.config, self.config.connect_timeout + 1
        self._listener = listener = await bounded(connect(config, "listener"), timeout, "connect")
        self._sender = sender = await bounded(connect(config, "sender"), timeout, "connect")
        encoding = listener.info.encoding
        try:
            config.channel.encode(encoding)
        except UnicodeEncodeError:
            raise Unusable(
                f"the channel cannot be written in this database's encoding ({encoding}):"
                " LISTEN and NOTIFY would never meet; use an ASCII channel"
            ) from None
        # The channel watched last: pg_stat_activity shows a session's last statement, so a
        # census by anyone counts this listener on that channel, not on our private probe's.
        await listen(listener, (self._probe.channel, config.channel), timeout)
        self._queries.connected()
        redact, clock = self._redact, self._clock
        self._send = Sender(sender, config, self._heartbeat, self._stop, self._emit, clock, redact)
        info = listener.info
        version = info.parameter_status("server_version") or ""
        where = format_target(info.user, info.host, str(info.port), info.dbname)
        self._emit(
            Connected(
                clock(),
                where,
                version.split(" ")[0],
                info.user,
                info.backend_pid,
                sender.info.backend_pid,
            )
        )
        return listener, sender, self._send

    async def _run_session(self, listener: Connection, sender: Connection, send: Sender) -> None:
        self._reader = reader = Reader(
            listener,
            self.config.channel,
            self._probe.channel,
            self._outbox.unread,
            self._probe.returned,
            self._stop,
            self.config.read_hold,
        )
        loops = [
            self._read(reader),
            send.beat(),
            self._probe.run(sender),
            self._queries.poll_queue_usage(sender),
            self._queries.look_up(sender),
        ]
        tasks = [asyncio.create_task(loop) for loop in loops]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                if not task.done():
                    abandon(task)
        # Retrieve every failure (several loops may break at once), raise the first.
        failures = [t.exception() for t in done if not t.cancelled()]
        for failure in failures:
            if failure is not None:
                raise failure

    async def _read(self, reader: Reader) -> None:
        """Read notifications for the session (a seam for measurements that hold reading)."""
        await reader.run()

    async def _close_connections(self, timeout: float) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        for conn in (self._listener, self._sender):
            if conn is not None and not conn.closed:
                with contextlib.suppress(Exception):
                    await bounded(conn.close(), timeout, "close")
        self._listener = self._sender = None
