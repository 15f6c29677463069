"""Why don't my nodes cluster? The `census` and `doctor` commands."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any, TextIO

from pgcluster_tui.core.census import Census, Channel, Member, Problem, take_census
from pgcluster_tui.core.census import expected_channels as census_expected
from pgcluster_tui.core.format import plural
from pgcluster_tui.core.protocol import channel_from_cookie
from pgcluster_tui.core.text import visible
from pgcluster_tui.erlang.doctor import DEFAULT_TIMEOUT, Doctor
from pgcluster_tui.erlang.steps import Report
from pgcluster_tui.erlang.wire import WireError
from pgcluster_tui.headless import EXIT_FAILED, EXIT_OK, CommandError, listen_for
from pgcluster_tui.pg.census import read_activity
from pgcluster_tui.pg.errors import WorkerError, describe_target
from pgcluster_tui.settings import Settings

MEMBERS_SHOWN = 20
"""Sessions listed per channel and side in the text output; the rest are counted."""

DOCTOR_WAIT_INTERVALS = 1.5
"""`doctor` without names listens this many intervals for the names on the channel."""

__all__ = ["Mask", "census", "census_text", "doctor", "doctor_text", "expected_channels"]


# Masking: a channel derived from the cookie is the cookie.


class Mask:
    """Replaces our cookie and the channel derived from it in any text, unless revealed."""

    def __init__(self, settings: Settings) -> None:
        self._pattern: re.Pattern[str] | None = None
        self.label = ""
        if settings.cookie is None or settings.reveal_channel:
            return
        cookie = settings.cookie.get_secret_value()
        derived = channel_from_cookie(cookie)
        digest = hashlib.sha256(derived.encode()).hexdigest()[:8]
        self.label = f"(from the cookie, {len(derived)} chars, sha256 {digest}…)"
        secrets = sorted({cookie, derived} - {""}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in secrets), re.IGNORECASE)

    def __call__(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(self.label, text)

    def json(self, value: Any) -> Any:
        """Mask every string inside a JSON-ready value."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {key: self.json(item) for key, item in value.items()}
        return value


# census


def expected_channels(settings: Settings) -> list[tuple[str, str]]:
    """Channels the settings imply: derived from the cookie, or given explicitly."""
    cookie = settings.cookie.get_secret_value() if settings.cookie is not None else None
    configured = settings.channel if "channel" in settings.model_fields_set else None
    return census_expected(cookie, configured)


async def census(settings: Settings, conninfo: str, out: TextIO, *, as_json: bool = False) -> int:
    """List who listens and who sends per (database, channel); exit 1 when problems are proven."""
    try:
        activity = await read_activity(
            conninfo,
            timeout=settings.connect_timeout,
            application_name=settings.application_name,
        )
    except WorkerError as exc:
        raise CommandError(f"census: {exc}") from None
    result = take_census(
        activity.sessions,
        user=activity.user,
        grant=activity.grant,
        expected=expected_channels(settings),
    )
    mask = Mask(settings)
    if as_json:
        out.write(json.dumps(mask.json(result.to_json()), ensure_ascii=True) + "\n")
    else:
        out.write(census_text(result, describe_target(conninfo), mask) + "\n")
    out.flush()
    return EXIT_FAILED if result.problem_count() else EXIT_OK


def census_text(result: Census, target: str, mask: Mask | None = None) -> str:
    """The census for people: a block per channel, what is hidden, every problem."""

    def show(text: str, limit: int = 200) -> str:
        return visible(mask(text) if mask else text, limit)

    lines = [
        f"census of {result.sessions} client sessions on {target} as role "
        f"{show(result.user, 63)}: visibility {result.visibility}"
    ]
    for entry in result.channels:
        lines.append("")
        lines.extend(_channel_lines(entry, show))
    if result.hidden:
        lines.append("")
    for hidden in result.hidden:
        roles = ", ".join(show(r, 63) for r in hidden.roles)
        lines.append(
            f"hidden: {plural(hidden.sessions, 'session')} in database "
            f"{show(hidden.database, 63)} (roles: {roles}): their statements are not visible "
            f"to role {show(result.user, 63)}"
        )
    if result.grant:
        lines.append(f"to see every session, a superuser runs: {show(result.grant)}")
    if result.problems:
        lines.append("")
        lines.extend(f"! {p.code}: {show(p.message, 400)}" for p in result.problems)
    if not result.channels:
        lines.append("no session's last statement is a LISTEN or NOTIFY")
    count = result.problem_count()
    lines.append("")
    lines.append(f"{plural(count, 'problem')} found" if count else "no problem found")
    return "\n".join(lines)


def _channel_lines(entry: Channel, show: Any) -> list[str]:
    name = f'channel "{show(entry.channel, 80)}"' if entry.channel else "channel not visible"
    head = (
        f"database {show(entry.database, 63)}, {name}: "
        f"{len(entry.listeners)} listening, {len(entry.senders)} sending"
    )
    if entry.nodes:
        head += f"; nodes: {', '.join(show(n, 80) for n in entry.nodes[:MEMBERS_SHOWN])}"
        if len(entry.nodes) > MEMBERS_SHOWN:
            head += f" and {len(entry.nodes) - MEMBERS_SHOWN} more"
    lines = [head]
    for verb, members in (("listens", entry.listeners), ("sends", entry.senders)):
        lines.extend(_member_line(verb, m, show) for m in members[:MEMBERS_SHOWN])
        if len(members) > MEMBERS_SHOWN:
            lines.append(f"  … and {len(members) - MEMBERS_SHOWN} more {verb[:-1]}ing")
    lines.extend(_problem_line(p, show) for p in entry.problems)
    return lines


def _member_line(verb: str, member: Member, show: Any) -> str:
    s = member.session
    who = " ".join(
        part
        for part in (
            f"pid {s.pid}",
            show(s.address or "-", 40),
            f"app {show(s.application, 40)}" if s.application else "",
            f"user {show(s.user, 40)}",
        )
        if part
    )
    return f"  {verb:<7} {who}: {show(s.query or '', 120)}"


def _problem_line(problem: Problem, show: Any) -> str:
    return f"  ! {problem.code}: {show(problem.message, 400)}"


# doctor


async def doctor(
    settings: Settings,
    conninfo: str | None,
    out: TextIO,
    *,
    nodes: Sequence[str] = (),
    as_json: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    wait: float | None = None,
) -> int:
    """Check each node (given, or heard on the channel) step by step; 0 all pass, 1 some fail."""
    cookie = settings.cookie.get_secret_value() if settings.cookie is not None else None
    try:
        checker = Doctor(cookie, timeout=timeout)
    except WireError as exc:
        raise CommandError(f"doctor: {exc}") from None
    names = list(dict.fromkeys(nodes))
    if not names:
        if conninfo is None:
            raise CommandError("doctor: name the nodes, or give a database to hear them from")
        seconds = wait if wait is not None else DOCTOR_WAIT_INTERVALS * settings.interval
        # Only listen: a doctor never announces a name on the channel.
        quiet = settings.model_copy(update={"heartbeat": False})
        heard = await listen_for(quiet, conninfo, seconds)
        if not heard.connected:
            raise CommandError(f"cannot connect: {heard.error or 'no answer'}")
        names = sorted(heard.model.names())
        if not names:
            reason = f"no node heard on channel {visible(settings.channel_shown)} in {seconds:g} s"
            _write_doctor(
                out, [], as_json=as_json, cookie_checked=cookie is not None, reason=reason
            )
            return EXIT_FAILED
    reports = await checker.check_all(names)
    ok = _write_doctor(out, reports, as_json=as_json, cookie_checked=cookie is not None)
    return EXIT_OK if ok else EXIT_FAILED


def _write_doctor(
    out: TextIO, reports: list[Report], *, as_json: bool, cookie_checked: bool, reason: str = ""
) -> bool:
    """Print the reports (or why there are none); whether every node passed."""
    ok = bool(reports) and all(report.ok for report in reports)
    if as_json:
        document = {
            "ok": ok,
            "cookie_checked": cookie_checked,
            "nodes": [report.to_json() for report in reports],
        }
        if reason:
            document["reason"] = reason
        out.write(json.dumps(document, ensure_ascii=True) + "\n")
    else:
        out.write((reason or doctor_text(reports)) + "\n")
    out.flush()
    return ok


GLYPH = {True: "ok  ", False: "FAIL", None: "skip"}


def doctor_text(reports: Sequence[Report]) -> str:
    """A block per node: the verdict, then each step run with what it found."""
    lines: list[str] = []
    for report in reports:
        failed = report.failed
        verdict = "OK" if failed is None else f"FAIL at {failed.step.value}"
        lines.append(f"{visible(report.node, 120)}  {verdict}")
        for step in report.steps:
            lines.append(f"  {GLYPH[step.ok]} {step.step.value:<9}  {visible(step.detail, 400)}")
    passed = sum(1 for r in reports if r.ok)
    lines.append(f"{passed} of {plural(len(reports), 'node')} pass")
    return "\n".join(lines)
