"""Headless commands for scripts and monitoring: watch, nodes, check, announce, channel."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from pgcluster_tui.core.events import (
    Connected,
    Disconnected,
    Event,
    HeartbeatSent,
    NodeState,
    ProbeMeasured,
    QueueUsageMeasured,
    SenderAttributed,
    iso,
)
from pgcluster_tui.core.ingest import ingest
from pgcluster_tui.core.membership import Membership, NodeView
from pgcluster_tui.core.protocol import ProtocolError, notify_statement, validate_node_name
from pgcluster_tui.core.text import visible
from pgcluster_tui.pg.errors import WorkerError
from pgcluster_tui.pg.worker import ChannelWorker, Fact, send_once
from pgcluster_tui.settings import Settings
from pgcluster_tui.wiring import new_model, worker_config

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

NOISY: tuple[type[Event], ...] = (
    ProbeMeasured,
    QueueUsageMeasured,
    SenderAttributed,
    HeartbeatSent,
)
"""Events `watch` prints only with --all."""


class CommandError(Exception):
    """A command cannot go on; the message is one line for stderr."""


# Formatting


def event_line(event: Event) -> str:
    """One human line for an event; untrusted text is escaped, never interpreted."""
    data = event.to_json()
    kind = data.pop("event")
    at = data.pop("at")
    parts = []
    for key, value in data.items():
        if isinstance(value, float):
            value = f"{value:.3f}".rstrip("0").rstrip(".")
        text = visible(str(value), 120) if key in ("node", "payload", "reason") else str(value)
        parts.append(f"{key}={text}")
    return f"{at} {kind:<20} {' '.join(parts)}".rstrip()


def event_json(event: Event) -> str:
    """One NDJSON line for an event (ASCII-only, so no control character reaches a terminal)."""
    return json.dumps(event.to_json(), ensure_ascii=True, separators=(",", ":"))


def node_json(view: NodeView, model: Membership) -> dict[str, Any]:
    """A node as a JSON object."""
    senders = [model.sender(pid) for pid in view.pids]
    return {
        "node": view.name,
        "state": view.state.value,
        "self": view.is_self,
        "age": round(view.age, 3),
        "beats": view.beats,
        "interval": round(view.interval, 3),
        "interval_estimated": view.interval_estimated,
        "jitter": round(view.jitter, 3),
        "phi": round(view.phi, 2),
        "pids": list(view.pids),
        "duplicate": view.duplicate,
        "first_seen": iso(view.first_seen),
        "last_beat": iso(view.last_beat),
        "state_since": iso(view.state_since),
        "senders": [
            {
                "pid": s.pid,
                "client_addr": s.client_addr,
                "application_name": s.application_name,
                "usename": s.usename,
                "backend_start": s.backend_start,
            }
            for s in senders
            if s is not None
        ],
    }


def node_table(views: list[NodeView], model: Membership) -> str:
    """Render nodes as an aligned text table."""
    header = ("STATE", "NODE", "AGE", "BEATS", "INTERVAL", "PIDS", "SENDER")
    rows = [header]
    for v in views:
        sender = model.sender(v.pids[0]) if v.pids else None
        who = ""
        if sender is not None and (sender.application_name or sender.client_addr):
            who = visible(f"{sender.application_name} {sender.client_addr}".strip(), 40)
        flags = (" (self)" if v.is_self else "") + (" DUPLICATE" if v.duplicate else "")
        rows.append(
            (
                v.state.value,
                visible(v.name, 60) + flags,
                f"{v.age:.1f}s",
                str(v.beats),
                f"{v.interval:.1f}s" + ("" if v.interval_estimated else "*"),
                ",".join(str(p) for p in v.pids),
                who,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines)


# Running a worker with a model


@dataclass
class Listening:
    """The outcome of listening for a while."""

    model: Membership
    connected: bool
    error: str | None


async def listen_for(
    settings: Settings,
    conninfo: str,
    seconds: float,
    *,
    on_event: Callable[[Event], None] | None = None,
    fail_fast: bool = True,
    clock: Callable[[], float] = time.time,
) -> Listening:
    """Run the worker and model for `seconds` (None: until cancelled), ticking at 1 Hz."""
    model = new_model(settings)
    connected = False
    error: str | None = None
    deadline = time.monotonic() + seconds

    async with ChannelWorker(worker_config(settings, conninfo), clock=clock) as worker:
        batches = worker.batches()
        pending: asyncio.Future[list[Fact]] | None = None
        next_tick = time.monotonic() + 1.0
        try:
            while True:
                now_mono = time.monotonic()
                remaining = deadline - now_mono
                if remaining <= 0:
                    break
                if pending is None:
                    pending = asyncio.ensure_future(anext(batches))
                wait = min(remaining, max(0.0, next_tick - now_mono))
                done, _ = await asyncio.wait({pending}, timeout=wait)
                batch: list[Fact] = []
                if done:
                    try:
                        batch = pending.result()
                    except StopAsyncIteration:
                        break
                    finally:
                        pending = None
                events = ingest(model, batch)
                if time.monotonic() >= next_tick:
                    events.extend(model.tick(clock()))
                    next_tick = time.monotonic() + 1.0
                for event in events:
                    if isinstance(event, Connected):
                        connected = True
                    elif isinstance(event, Disconnected) and not connected:
                        error = event.reason
                    if on_event is not None:
                        on_event(event)
                if fail_fast and error is not None and not connected:
                    break
        finally:
            if pending is not None:
                pending.cancel()
    model.tick(clock())
    return Listening(model, connected, error)


# Commands


async def watch(
    settings: Settings,
    conninfo: str,
    out: TextIO,
    *,
    as_json: bool = False,
    duration: float | None = None,
    include_all: bool = False,
) -> int:
    """Print events as they happen, one line each, flushed, until Ctrl-C or `duration`."""

    def emit(event: Event) -> None:
        if not include_all and isinstance(event, NOISY):
            return
        out.write((event_json(event) if as_json else event_line(event)) + "\n")
        out.flush()

    seconds = duration if duration is not None else float("inf")
    await listen_for(settings, conninfo, seconds, on_event=emit, fail_fast=False)
    return EXIT_OK


async def nodes(
    settings: Settings, conninfo: str, out: TextIO, *, as_json: bool = False, wait: float | None
) -> int:
    """Listen for a while, then print the node table."""
    seconds = wait if wait is not None else 1.5 * settings.interval
    result = await listen_for(settings, conninfo, seconds)
    if not result.connected:
        raise CommandError(f"cannot connect: {result.error or 'no answer'}")
    views = result.model.views(time.time())
    if as_json:
        out.write(json.dumps([node_json(v, result.model) for v in views], ensure_ascii=True) + "\n")
    elif views:
        out.write(node_table(views, result.model) + "\n")
    else:
        out.write(f"no node heard on channel {visible(settings.channel)} in {seconds:g} s\n")
    out.flush()
    return EXIT_OK


async def check(
    settings: Settings,
    conninfo: str,
    out: TextIO,
    *,
    expect: int,
    max_age: float | None,
    wait: float | None,
) -> int:
    """Exit 0 when at least `expect` nodes are alive (and fresh enough), else 1."""
    seconds = wait if wait is not None else 1.5 * settings.interval
    result = await listen_for(settings, conninfo, seconds)
    if not result.connected:
        raise CommandError(f"cannot connect: {result.error or 'no answer'}")
    views = result.model.views(time.time())
    healthy = [
        v
        for v in views
        if v.state in (NodeState.NEW, NodeState.ALIVE) and (max_age is None or v.age <= max_age)
    ]
    unhealthy = [v for v in views if v not in healthy]
    verdict = "OK" if len(healthy) >= expect else "FAIL"
    where = visible(settings.channel)
    line = f"{verdict}: {len(healthy)} alive of {expect} expected on channel {where}"
    if unhealthy:
        listed = ", ".join(f"{visible(v.name, 60)} ({v.state.value})" for v in unhealthy[:10])
        line += f"; not alive: {listed}"
    out.write(line + "\n")
    out.flush()
    return EXIT_OK if verdict == "OK" else EXIT_FAILED


async def announce(settings: Settings, conninfo: str, out: TextIO, name: str | None) -> int:
    """Send one heartbeat (ours or `name`) and exit."""
    try:
        payload = validate_node_name(name if name is not None else settings.node)
    except ProtocolError as exc:
        raise CommandError(f"refusing to announce {visible(name or '', 80)!s}: {exc}") from None
    try:
        await send_once(worker_config(settings, conninfo), payload)
    except WorkerError as exc:
        raise CommandError(f"cannot announce: {exc}") from None
    out.write(f"announced {visible(payload)} on channel {visible(settings.channel)}\n")
    return EXIT_OK


def channel(settings: Settings, out: TextIO) -> int:
    """Show the channel libcluster_postgres uses, its size and the statement a node sends."""
    source = "derived from the cookie" if settings.channel_derived else "as configured"
    size = len(settings.channel.encode())
    out.write(f"channel:   {visible(settings.channel)}  ({source})\n")
    out.write(f"bytes:     {size} of 63\n")
    out.write(f"statement: {visible(notify_statement(settings.channel, settings.node))}\n")
    return EXIT_OK
