"""Who listens and who sends on which channel, server-wide, and the problems that proves."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pgcluster_tui.core.protocol import NodeName, channel_from_cookie, classify
from pgcluster_tui.core.sqltokens import Action, Verb, read_actions

STATEMENT_CHARS = 300
"""Characters of a statement kept in a census entry."""

NEAR_MISS_CHANNELS = 200
"""Channels compared pairwise for near misses at most (the comparison is quadratic)."""


@dataclass(frozen=True, slots=True)
class Session:
    """A client session as pg_stat_activity shows it; `query` None: hidden from our role."""

    pid: int
    database: str
    user: str
    application: str
    address: str
    state: str
    query: str | None


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong that the census proves, with a stable code."""

    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        """`code` and `message`."""
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class Member:
    """A session in a channel's list, with what its last statement did."""

    session: Session
    action: Action

    def to_json(self) -> dict[str, Any]:
        """The session's identity, its statement, and for a sender the payload."""
        s = self.session
        out: dict[str, Any] = {
            "pid": s.pid,
            "user": s.user,
            "application": s.application,
            "address": s.address,
            "state": s.state,
            "statement": (s.query or "")[:STATEMENT_CHARS],
        }
        if self.action.verb is Verb.NOTIFY:
            out["payload"] = self.action.payload
        if self.action.note:
            out["note"] = self.action.note
        return out


@dataclass(slots=True)
class Channel:
    """One (database, effective channel); channel None gathers what the text does not show."""

    database: str
    channel: str | None
    listeners: list[Member] = field(default_factory=list)
    senders: list[Member] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def nodes(self) -> list[str]:
        """The node names its senders send, sorted (payloads that are no node name left out)."""
        names = {
            m.action.payload
            for m in self.senders
            if m.action.payload is not None and isinstance(classify(m.action.payload), NodeName)
        }
        return sorted(names)

    def to_json(self) -> dict[str, Any]:
        """The README's shape: database, channel, listeners, senders, nodes, problems."""
        return {
            "database": self.database,
            "channel": self.channel,
            "listeners": [m.to_json() for m in self.listeners],
            "senders": [m.to_json() for m in self.senders],
            "nodes": self.nodes,
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass(frozen=True, slots=True)
class Hidden:
    """Sessions of one database whose statements our role may not see."""

    database: str
    sessions: int
    roles: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """`database`, `sessions`, `roles`."""
        return {"database": self.database, "sessions": self.sessions, "roles": list(self.roles)}


@dataclass(frozen=True, slots=True)
class Census:
    """The whole picture: visibility, channels, what is hidden and the problems proven."""

    user: str
    sessions: int
    channels: tuple[Channel, ...]
    hidden: tuple[Hidden, ...]
    grant: str | None
    problems: tuple[Problem, ...]

    @property
    def visibility(self) -> str:
        """`full` when every session's statement was visible, else `partial`."""
        return "partial" if self.hidden else "full"

    def problem_count(self) -> int:
        """Problems named in all, per channel and overall."""
        return len(self.problems) + sum(len(c.problems) for c in self.channels)

    def to_json(self) -> dict[str, Any]:
        """The README's `census --json` document."""
        return {
            "visibility": self.visibility,
            "user": self.user,
            "sessions": self.sessions,
            "hidden": [h.to_json() for h in self.hidden],
            "grant": self.grant,
            "channels": [c.to_json() for c in self.channels],
            "problems": [p.to_json() for p in self.problems],
        }


def expected_channels(cookie: str | None, configured: str | None) -> list[tuple[str, str]]:
    """Channels the configuration implies, with why: derived from the cookie, configured."""
    expected: list[tuple[str, str]] = []
    if cookie is not None:
        expected.append((channel_from_cookie(cookie), "derived from the cookie"))
    if configured is not None and all(channel != configured for channel, _ in expected):
        expected.append((configured, "configured"))
    return expected


def take_census(
    sessions: Iterable[Session],
    *,
    user: str,
    grant: str,
    expected: Sequence[tuple[str, str]] = (),
) -> Census:
    """Group sessions by (database, channel) and name what is provably wrong."""
    # `expected`: channels the configuration implies, with why; `grant`: what shows us all.
    entries: dict[tuple[str, str | None], Channel] = {}
    hidden: dict[str, list[Session]] = defaultdict(list)
    seen = 0
    for session in sessions:
        seen += 1
        if session.query is None:
            hidden[session.database].append(session)
            continue
        for action in read_actions(session.query):
            key = (session.database, action.channel)
            entry = entries.setdefault(key, Channel(session.database, action.channel))
            side = entry.listeners if action.verb is Verb.LISTEN else entry.senders
            side.append(Member(session, action))
    channels = sorted(entries.values(), key=lambda c: (c.database, c.channel is None, c.channel))
    hidden_by_db = {
        db: Hidden(db, len(found), tuple(sorted({s.user for s in found})))
        for db, found in sorted(hidden.items())
    }
    for entry in channels:
        entry.problems.extend(_own_problems(entry, hidden_by_db.get(entry.database)))
    _cross_problems(channels)
    problems = [
        problem
        for channel, why in expected
        if (
            problem := _unused(
                channel, why, channels, sum(h.sessions for h in hidden_by_db.values())
            )
        )
    ]
    return Census(
        user,
        seen,
        tuple(channels),
        tuple(hidden_by_db.values()),
        grant if hidden_by_db else None,
        tuple(problems),
    )


def _own_problems(entry: Channel, hidden: Hidden | None) -> list[Problem]:
    problems: list[Problem] = []
    if entry.channel is None:
        for note in sorted({m.action.note for m in entry.listeners + entry.senders}):
            code = "statement_fails" if note.startswith("fails") else "channel_not_visible"
            problems.append(Problem(code, note))
        return problems
    where = f'"{entry.channel}" in database {entry.database}'
    unseen = f"; {hidden.sessions} sessions there are hidden from us" if hidden else ""
    if entry.listeners and not entry.senders:
        code = "no_visible_senders" if hidden else "no_senders"
        problems.append(Problem(code, f"{where}: sessions listen, none sends{unseen}"))
    if entry.senders and not entry.listeners:
        code = "no_visible_listeners" if hidden else "no_listeners"
        problems.append(Problem(code, f"{where}: sessions send, none listens{unseen}"))
    for member in entry.listeners + entry.senders:
        if member.action.truncated:
            problems.append(
                Problem(
                    "truncated",
                    f"{member.action.spelled[:80]} is over 63 bytes: PostgreSQL cuts it to "
                    f'"{entry.channel}"',
                )
            )
            break
    return problems


def _cross_problems(channels: list[Channel]) -> None:
    """Same name in two databases, names that differ only by case, near misses."""
    named = [(c.channel, c) for c in channels if c.channel is not None]
    by_name: dict[str, list[Channel]] = defaultdict(list)
    for name, entry in named:
        by_name[name].append(entry)
    for name, same in by_name.items():
        for entry in same if len(same) > 1 else ():
            others = ", ".join(o.database for o in same if o is not entry)
            entry.problems.append(
                Problem(
                    "other_database",
                    f'"{name}" is also used in database {others}: LISTEN/NOTIFY is per '
                    "database: these never hear each other",
                )
            )
    for name, entry in named:
        for other_name, other in named:
            same_db = other.database == entry.database
            if same_db and other_name != name and other_name.lower() == name.lower():
                entry.problems.append(Problem("case_mismatch", _case_message(entry, other)))
    compared = named[:NEAR_MISS_CHANNELS]
    for name, entry in compared:
        for other_name, other in compared:
            if not (_broken(entry) or _broken(other)) or other_name.lower() == name.lower():
                continue
            edits = near(name, other_name)
            if edits is not None:
                place = "" if other.database == entry.database else f" in database {other.database}"
                entry.problems.append(
                    Problem(
                        "near_miss",
                        f'"{name}" is {edits} edit{"s" if edits > 1 else ""} from '
                        f'"{other_name}"{place}: a typo?',
                    )
                )


def _case_message(entry: Channel, other: Channel) -> str:
    message = (
        f'"{entry.channel}" and "{other.channel}" in database {entry.database} differ only by '
        "case: these never hear each other"
    )
    folded = [
        m.action
        for m in entry.listeners + entry.senders + other.listeners + other.senders
        if m.action.how == "unquoted" and m.action.spelled != m.action.channel
    ]
    if folded:
        action = folded[0]
        message += (
            f" ({action.verb.value.upper()} {action.spelled[:70]} is unquoted, so it lands on "
            f'"{action.channel}"; quote it as libcluster_postgres does)'
        )
    return message


def _broken(entry: Channel) -> bool:
    return not entry.listeners or not entry.senders


def _unused(channel: str, why: str, channels: list[Channel], hidden: int) -> Problem | None:
    if any(c.channel == channel for c in channels):
        return None
    close = [
        f'"{c.channel}" (database {c.database})'
        for c in channels
        if c.channel is not None
        and (c.channel.lower() == channel.lower() or near(c.channel, channel) is not None)
    ]
    message = f'the channel {why}, "{channel}", has no listener and no sender in any database'
    if close:
        message += f"; close to it: {', '.join(close[:5])}"
    if hidden:
        message += f"; {hidden} sessions are hidden from us"
        return Problem("expected_not_visible", message)
    return Problem("expected_unused", message)


def near(a: str, b: str) -> int | None:
    """The edit distance between two channel names when it makes a plausible typo, else None."""
    if min(len(a), len(b)) < 4 or abs(len(a) - len(b)) > 2:
        return None
    limit = 1 if min(len(a), len(b)) < 8 else 2
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return None
        previous = current
    distance = previous[-1]
    return distance if 0 < distance <= limit else None
