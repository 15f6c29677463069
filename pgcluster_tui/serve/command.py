"""`serve`: the Monitor run unattended, /metrics and /healthz on its own loop, a line per
lifecycle event (never one per beat)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import TextIO

from pgcluster_tui.core.events import (
    Connected,
    Connecting,
    Disconnected,
    Event,
    ListenerBehind,
    ListenerHealthy,
    ListenerSilent,
    NotificationsDropped,
    RetryScheduled,
    StallDetected,
    iso,
)
from pgcluster_tui.core.format import format_seconds
from pgcluster_tui.core.link import LinkState
from pgcluster_tui.core.monitor import Monitor
from pgcluster_tui.core.text import visible
from pgcluster_tui.headless import CommandError, event_line
from pgcluster_tui.serve.exposition import CONTENT_TYPE, Exposition, scrape
from pgcluster_tui.serve.http import HttpServer, Response, Route, text
from pgcluster_tui.settings import Settings
from pgcluster_tui.wiring import new_monitor

LIFECYCLE: tuple[type[Event], ...] = (
    Connecting,
    Connected,
    Disconnected,
    RetryScheduled,
    ListenerSilent,
    ListenerBehind,
    ListenerHealthy,
    StallDetected,
    NotificationsDropped,
)
"""Events `serve` logs; an outage retried for minutes is one line (the Monitor says repeats)."""

SWITCH_INTERVAL = 0.001
"""Seconds a thread holds the GIL when another wants it (Python's default: 0.005)."""

STOP_GRACE = 1.0
"""Seconds the worker and the demo peers get to stop: SIGTERM to exit stays under 2 s."""


class Endpoints:
    """/metrics, /healthz and / over one Monitor."""

    def __init__(self, monitor: Monitor, settings: Settings, *, expected: int | None) -> None:
        self.monitor = monitor
        self.exposition = Exposition()
        self._channel = None if settings.channel_derived else settings.channel
        self._expected = expected
        self.redact = Redactor(settings)
        self._scraping = asyncio.Lock()

    def routes(self) -> dict[str, Route]:
        """Paths and their handlers."""
        return {"/": self.index, "/metrics": self.metrics, "/healthz": self.healthz}

    async def metrics(self) -> Response:
        """The Prometheus text exposition of the model, read now."""
        async with self._scraping:
            body = await scrape(
                self.monitor, self.exposition, channel=self._channel, expected=self._expected
            )
        return Response(200, body, CONTENT_TYPE)

    async def healthz(self) -> Response:
        """200 when connected and the listener probe is healthy, else 503; one line why."""
        ok, line = health(self.monitor.link)
        return text(200 if ok else 503, self.redact(line))

    async def index(self) -> Response:
        """What is served here."""
        return text(200, "pgcluster-tui serve: /metrics (Prometheus), /healthz (probes)")


def favour_the_loop() -> None:
    """Let the loop take the GIL back within 1 ms while a scrape is formatted on a thread.

    A notification passes through several loop iterations before it reaches the model, and
    with the default 5 ms each may wait that long for the formatting thread: this process
    has one latency-sensitive thread and one that is not, so the shorter slice costs nothing.
    """
    sys.setswitchinterval(SWITCH_INTERVAL)


def health(link: LinkState) -> tuple[bool, str]:
    """Whether we are healthy, and one line that says why."""
    if link.connected and not link.listener_silent:
        rtt = "no probe back yet" if link.rtt_ms is None else f"probe {link.rtt_ms:.1f} ms"
        return True, f"ok: connected, listener healthy ({rtt})"
    if link.connected:
        return False, (
            "listener silent: our probes do not come back (a transaction-mode pooler or a"
            " hot standby between us and the primary?)"
        )
    reason = visible(link.reason, 200) if link.reason else ""
    if link.phase == "connecting":
        return False, "connecting" + (f" (last error: {reason})" if reason else "")
    return False, f"{link.phase}: {reason}" if reason else link.phase


class Redactor:
    """Masks a channel derived from the cookie (it is the cookie) in any text we write."""

    def __init__(self, settings: Settings) -> None:
        derived = settings.channel_derived and not settings.reveal_channel
        # Shorter than 3 characters, masking would garble every line and protect nothing.
        self._secret = settings.channel if derived and len(settings.channel) >= 3 else None
        self._shown = settings.channel_shown

    def __call__(self, line: str) -> str:
        """The line with the secret channel replaced by its masked form."""
        if self._secret is None or self._secret not in line:
            return line
        return line.replace(self._secret, self._shown)


class Log:
    """One flushed line per lifecycle event, in `watch`'s format."""

    def __init__(self, out: TextIO, redact: Redactor) -> None:
        self._out = out
        self._redact = redact

    def event(self, event: Event) -> None:
        """Log a lifecycle event."""
        self._write(event_line(event))

    def say(self, kind: str, **fields: object) -> None:
        """Log one of serve's own lifecycle lines."""
        parts = " ".join(f"{key}={visible(_shown(value), 200)}" for key, value in fields.items())
        self._write(f"{iso(time.time())} {kind:<20} {parts}".rstrip())

    def _write(self, line: str) -> None:
        self._out.write(self._redact(line) + "\n")
        self._out.flush()


def _shown(value: object) -> str:
    return format_seconds(value) if isinstance(value, float) else str(value)


async def serve(
    settings: Settings,
    conninfo: str,
    out: TextIO,
    *,
    listen: tuple[str, int],
    demo: int = 0,
    expected: int | None = None,
) -> int:
    """Serve /metrics and /healthz for the channel until cancelled (SIGTERM, SIGHUP, Ctrl-C)."""
    monitor = new_monitor(settings, conninfo)
    endpoints = Endpoints(monitor, settings, expected=expected)
    log = Log(out, endpoints.redact)
    favour_the_loop()
    server = HttpServer(endpoints.routes(), on_error=lambda line: log.say("http_error", error=line))
    host, port = listen
    try:
        await server.start(host, port)
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        raise CommandError(f"serve: cannot listen on {_address(host, port)}: {why}") from None
    bound = ", ".join(f"http://{_address(h, p)}" for h, p in server.addresses)
    log.say(
        "serving",
        url=bound,
        paths="/metrics,/healthz",
        channel=settings.channel_shown,
        mode="peer" if settings.heartbeat else "observer",
        demo_peers=demo,
    )
    peers = None
    if demo > 0:
        from pgcluster_tui.demo import DemoCluster

        peers = DemoCluster(conninfo, settings.channel, demo)
    monitor.start()
    if peers is not None:
        peers.start()
    try:
        await _follow(monitor, log, endpoints.redact)
    except asyncio.CancelledError:
        log.say("stopping")
        raise
    finally:
        await server.close(grace=0.3)
        stopping = [monitor.stop(STOP_GRACE)]
        if peers is not None:
            stopping.append(peers.stop(STOP_GRACE))
        await asyncio.gather(*stopping, return_exceptions=True)
        log.say("stopped")
    return 0


async def _follow(monitor: Monitor, log: Log, redact: Redactor) -> None:
    """Apply facts and tick until the source ends; log lifecycle events; a final error ends us."""
    async for update in monitor.updates():
        for event in update.events:
            if isinstance(event, LIFECYCLE):
                log.event(event)
            if isinstance(event, Disconnected) and event.final:
                raise CommandError(redact(event.reason))


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
