"""Headless commands for scripts and monitoring: watch, nodes, check, announce, channel."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from pgcluster_tui.core.events import (
    BackendsChecked,
    Disconnected,
    Event,
    HeartbeatSent,
    NodeState,
    ProbeMeasured,
    QueueUsageMeasured,
    SenderAttributed,
)
from pgcluster_tui.core.format import confirms, format_age, format_seconds
from pgcluster_tui.core.membership import Membership, NodeView
from pgcluster_tui.core.monitor import Monitor
from pgcluster_tui.core.protocol import ProtocolError, notify_statement, validate_node_name
from pgcluster_tui.core.text import mixed_scripts, visible
from pgcluster_tui.export import node_json
from pgcluster_tui.pg.errors import WorkerError
from pgcluster_tui.pg.worker import send_once
from pgcluster_tui.settings import Settings
from pgcluster_tui.wiring import new_monitor, worker_config

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

NOISY: tuple[type[Event], ...] = (
    ProbeMeasured,
    QueueUsageMeasured,
    SenderAttributed,
    HeartbeatSent,
    BackendsChecked,
)
"""Events `watch` prints only with --all (and new nodes confirmed alive: `noisy`)."""


def noisy(event: Event) -> bool:
    """Whether `watch` prints the event only with --all."""
    return isinstance(event, NOISY) or confirms(event)


UNTRUSTED_FIELDS = frozenset({"node", "payload", "reason", "ours"})
"""Event fields that carry text from outside: escaped, never interpreted."""


CHECK_WAIT_INTERVALS = 2.2
"""`check` listens this many intervals by default: long enough to hear every node twice."""

IGNORED = ("heard once", "its sender session has ended")
"""Reasons a node is ignored by `check` rather than counted as failing."""


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
            value = format_seconds(value)
        # Everything goes through visible(): role, application and error texts come from
        # the server, and any client can set them to escape sequences.
        text = visible(str(value), 120 if key in UNTRUSTED_FIELDS else None)
        parts.append(f"{key}={text}")
    return f"{at} {kind:<20} {' '.join(parts)}".rstrip()


def event_json(event: Event) -> str:
    """One NDJSON line for an event (ASCII-only, so no control character reaches a terminal)."""
    return json.dumps(event.to_json(), ensure_ascii=True, separators=(",", ":"))


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
        flags += " CONFUSABLE" if mixed_scripts(v.name) else ""
        rows.append(
            (
                v.state.value,
                visible(v.name, 60) + flags,
                format_age(v.age),
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


# Running a monitor for a while


@dataclass
class Listening:
    """The outcome of listening for a while."""

    monitor: Monitor
    error: str | None
    alive_pids: set[int] = field(default_factory=set)
    """Sender pids the server confirmed as live sessions at the end (with verify_senders)."""

    @property
    def model(self) -> Membership:
        """The membership model at the end."""
        return self.monitor.model

    @property
    def connected(self) -> bool:
        """Whether a session was ever open."""
        return self.monitor.link.sessions > 0


async def listen_for(
    settings: Settings,
    conninfo: str,
    seconds: float,
    *,
    on_event: Callable[[Event], None] | None = None,
    include_repeats: bool = False,
    fail_fast: bool = True,
    verify_senders: bool = False,
    clock: Callable[[], float] = time.time,
) -> Listening:
    """Run a Monitor for `seconds` (inf: until cancelled); report each event as it happens.

    With `verify_senders`, the server is asked at the end which senders are still connected.
    """
    monitor = new_monitor(settings, conninfo, clock=clock)
    error: str | None = None
    alive: set[int] = set()
    fatal: str | None = None
    until = None if math.isinf(seconds) else time.monotonic() + seconds
    async with monitor:
        async for update in monitor.updates(until):
            events = update.events + update.repeats if include_repeats else update.events
            for event in events:
                if isinstance(event, Disconnected) and event.final:
                    fatal = event.reason
                if isinstance(event, Disconnected) and error is None:
                    error = event.reason
                if on_event is not None:
                    on_event(event)
            if fail_fast and error is not None and monitor.link.sessions == 0:
                break
        if verify_senders and monitor.link.connected:
            alive = await _live_senders(monitor, settings.connect_timeout)
        monitor.tick()
    if fatal is not None:
        raise CommandError(fatal)
    return Listening(monitor, None if monitor.link.sessions else error, alive)


async def _live_senders(monitor: Monitor, timeout: float) -> set[int]:
    """Ask the server which of the nodes' sender pids are still connected; wait for the answer."""
    asked = {pid for view in monitor.model.views(monitor.clock()) for pid in view.pids}
    if not asked:
        return set()
    monitor.source.check_backends(asked)
    alive: set[int] = set()
    answered: set[int] = set()
    async for update in monitor.updates(until=time.monotonic() + timeout):
        for event in update.events:
            if isinstance(event, BackendsChecked):
                alive.update(event.alive)
                answered.update(event.alive, event.gone)
        if asked <= answered:
            break
    return alive


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
        if not include_all and noisy(event):
            return
        out.write((event_json(event) if as_json else event_line(event)) + "\n")
        out.flush()

    seconds = duration if duration is not None else math.inf
    await listen_for(
        settings, conninfo, seconds, on_event=emit, include_repeats=include_all, fail_fast=False
    )
    return EXIT_OK


async def nodes(
    settings: Settings, conninfo: str, out: TextIO, *, as_json: bool = False, wait: float | None
) -> int:
    """Listen for a while, then print the node table."""
    seconds = wait if wait is not None else 1.5 * settings.interval
    result = await listen_for(settings, conninfo, seconds)
    if not result.connected:
        raise CommandError(f"cannot connect: {result.error or 'no answer'}")
    model = result.model
    views = model.views(time.time())
    if as_json:
        rows = [node_json(v, model.sender) for v in views]
        out.write(json.dumps(rows, ensure_ascii=True) + "\n")
    elif views:
        out.write(node_table(views, result.model) + "\n")
    else:
        shown = visible(settings.channel_shown)
        out.write(f"no node heard on channel {shown} in {seconds:g} s\n")
    out.flush()
    return EXIT_OK


@dataclass(frozen=True, slots=True)
class Verdict:
    """How `check` judged one node."""

    view: NodeView
    counted: bool
    why: str


def judge(view: NodeView, alive_pids: set[int], max_age: float | None) -> Verdict:
    """Count a node when it is established (two beats, a live sender), alive and fresh enough."""
    if view.beats < 2:
        return Verdict(view, False, "heard once")
    if not alive_pids.intersection(view.pids):
        return Verdict(view, False, "its sender session has ended")
    if view.state not in (NodeState.NEW, NodeState.ALIVE):
        return Verdict(view, False, f"{view.state.value}, age {format_age(view.age)}")
    if max_age is not None and view.age > max_age:
        return Verdict(view, False, f"age {format_age(view.age)} > {format_seconds(max_age)}s")
    return Verdict(view, True, "alive")


async def check(
    settings: Settings,
    conninfo: str,
    out: TextIO,
    *,
    expect: int,
    max_age: float | None,
    wait: float | None,
    as_json: bool = False,
) -> int:
    """Exit 0 when at least `expect` established nodes are alive (and fresh enough), else 1."""
    seconds = wait if wait is not None else CHECK_WAIT_INTERVALS * settings.interval
    result = await listen_for(settings, conninfo, seconds, verify_senders=True)
    if not result.connected:
        raise CommandError(f"cannot connect: {result.error or 'no answer'}")
    verdicts = [judge(view, result.alive_pids, max_age) for view in result.model.views(time.time())]
    counted = [v for v in verdicts if v.counted]
    ok = len(counted) >= expect
    if as_json:
        document = {
            "ok": ok,
            "expected": expect,
            "alive": len(counted),
            "channel": settings.channel_shown,
            "window": seconds,
            "max_age": max_age,
            "nodes": [
                {
                    "node": v.view.name,
                    "state": v.view.state.value,
                    "age": round(v.view.age, 3),
                    "beats": v.view.beats,
                    "counted": v.counted,
                    "why": v.why,
                }
                for v in verdicts
            ],
        }
        out.write(json.dumps(document, ensure_ascii=True) + "\n")
    else:
        shown = visible(settings.channel_shown)
        out.write(check_line(ok, len(counted), expect, shown, verdicts) + "\n")
    out.flush()
    return EXIT_OK if ok else EXIT_FAILED


def check_line(ok: bool, alive: int, expect: int, channel: str, verdicts: list[Verdict]) -> str:
    """The one line `check` prints: the verdict, then what was not counted and why."""
    line = f"{'OK' if ok else 'FAIL'}: {alive} alive of {expect} expected on channel {channel}"
    by_reason: dict[str, list[str]] = {}
    for v in verdicts:
        if not v.counted:
            reason = v.why if v.why in IGNORED else "not counted"
            by_reason.setdefault(reason, []).append(
                visible(v.view.name, 60) + ("" if v.why in IGNORED else f" ({v.why})")
            )
    for reason, names in by_reason.items():
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        line += f"; {reason}: {shown}"
    return line


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
    out.write(f"announced {visible(payload)} on channel {visible(settings.channel_shown)}\n")
    return EXIT_OK


def channel(settings: Settings, out: TextIO) -> int:
    """Show the channel libcluster_postgres uses, its size and the statement a node sends."""
    source = "derived from the cookie" if settings.channel_derived else "as configured"
    size = len(settings.channel.encode())
    out.write(f"channel:   {visible(settings.channel)}  ({source})\n")
    out.write(f"bytes:     {size} of 63\n")
    out.write(f"statement: {visible(notify_statement(settings.channel, settings.node))}\n")
    for warning in settings.warnings():
        out.write(f"warning:   {warning}\n")
    return EXIT_OK
