"""A recorded cluster for deterministic snapshots: the worker's own facts, replayed at a fixed time.

The snapshots test the UI apart from the producer (the Pilot tests drive both on a real
PostgreSQL): real pids, socket paths and round trips differ on every run.
"""

from __future__ import annotations

from collections.abc import Callable

from pgcluster_tui.core.census import Session
from pgcluster_tui.core.events import (
    Connected,
    Connecting,
    Disconnected,
    Fact,
    HeartbeatSent,
    Notification,
    ProbeMeasured,
    QueueUsageMeasured,
    RetryScheduled,
    SenderAttributed,
)
from pgcluster_tui.core.monitor import Monitor, ReplaySource
from pgcluster_tui.erlang.steps import Report, Step, StepName
from pgcluster_tui.pg.census import Activity
from pgcluster_tui.settings import Settings
from pgcluster_tui.tui.app import PgClusterApp
from pgcluster_tui.wiring import new_model
from tests.tui.conftest import NODE, make_settings

NOW = 1_767_225_600.0
"""2026-01-01 00:00:00 UTC, the frozen clock of every snapshot."""

TARGET = "postgres@db.internal:5432/postgres"
CHANNEL = "realtime_cluster"


def replay_app(settings: Settings, clock: Callable[[], float] = lambda: NOW) -> PgClusterApp:
    """The dashboard on a monitor whose facts come from the test, not from PostgreSQL."""
    source = ReplaySource(heartbeat=settings.heartbeat)
    source.node = settings.node
    return PgClusterApp(settings, Monitor(source, new_model(settings), clock=clock))


def make_app() -> PgClusterApp:
    """A replay dashboard on a frozen clock, heartbeating with the default interval."""
    return replay_app(make_settings(CHANNEL, heartbeat=True, interval=5.0))


def _beats() -> list[Notification]:
    plan: list[tuple[str, int, tuple[float, ...]]] = [
        (NODE, 4001, (10.2, 5.1, 0.2)),
        ("web1@10.0.1.17", 4201, (10.0, 5.0, 0.5)),
        ("web2@10.0.1.18", 4202, (1.0,)),
        ("worker@10.0.1.20", 4203, (20.0, 15.0, 10.0)),
        ("batch@10.0.1.21", 4204, (35.0, 30.0, 25.0)),
        ("gone@10.0.1.22", 4205, (60.0, 55.0, 50.0)),
        ("twin@10.0.1.40", 4301, (9.0, 4.0)),
        ("twin@10.0.1.40", 4302, (8.5, 3.5)),
        ("restart@10.0.1.23", 4500, (12.0, 7.0)),
        ("restart@10.0.1.23", 4501, (2.0,)),
        ("[bold]evil@x", 4400, (2.5,)),
        ("\x1b[31mred", 4600, (3.0,)),
    ]
    beats = [Notification(name, pid, NOW - ago) for name, pid, agos in plan for ago in agos]
    return sorted(beats, key=lambda n: n.at)


def cluster() -> list[Fact]:
    """A cluster with a node in every state, a duplicate, a restart, junk and markup."""
    facts: list[Fact] = [
        Connecting(NOW - 61.0, TARGET, 1),
        Connected(NOW - 60.5, TARGET, "18.1", "postgres", 4000, 4001),
    ]
    facts += _beats()
    facts += [
        SenderAttributed(NOW - 0.1, 4001, "local", "pgcluster-tui sender", "postgres", ""),
        SenderAttributed(NOW - 0.1, 4201, "10.0.1.17", "realtime", "postgres", ""),
        SenderAttributed(NOW - 0.1, 4301, "10.0.1.40", "realtime", "postgres", ""),
        SenderAttributed(NOW - 0.1, 4302, "10.0.1.41", "realtime", "postgres", ""),
        SenderAttributed(NOW - 0.1, 4400, "10.6.6.6", "[link=http://x]evil", "mallory", ""),
        ProbeMeasured(NOW - 0.1, 0.84),
        QueueUsageMeasured(NOW - 0.1, 0.0004),
    ]
    return facts


def next_beat() -> list[Fact]:
    """Our periodic heartbeat went out, the next one is due in 3.2 s."""
    return [HeartbeatSent(NOW - 1.8, NODE, False, NOW + 3.2)]


def outage() -> list[Fact]:
    """After `cluster()`: the server went away and we are waiting to retry."""
    reason = (
        'connection failed: connection to server at "db.internal" (10.0.0.5), port 5432 '
        "failed: Connection refused"
    )
    return [
        Disconnected(NOW, "server closed the connection unexpectedly"),
        RetryScheduled(NOW, 0.01, 1),
        Connecting(NOW, TARGET, 2),
        Disconnected(NOW, reason),
        RetryScheduled(NOW, 3.2, 3),
    ]


def census_activity() -> Activity:
    """pg_stat_activity as a census reads it: our listener, a healthy cluster, a case mismatch,
    the same channel in another database, a bound parameter, markup and a hidden session."""

    def session(pid: int, db: str, address: str, app: str, query: str | None) -> Session:
        return Session(pid, db, "postgres", app, address, "idle", query)

    sessions = [
        session(4000, "postgres", "local", "pgcluster-tui listener", f'LISTEN "{CHANNEL}"'),
        session(9015, "postgres", "10.0.1.17", "realtime", f'LISTEN "{CHANNEL}"'),
        session(
            9016, "postgres", "10.0.1.17", "realtime", f"NOTIFY \"{CHANNEL}\", 'web1@10.0.1.17'"
        ),
        session(9017, "postgres", "10.0.1.18", "realtime", f'LISTEN "{CHANNEL}"'),
        session(
            9018, "postgres", "10.0.1.18", "realtime", f"NOTIFY \"{CHANNEL}\", 'web2@10.0.1.18'"
        ),
        session(9019, "app_staging", "10.0.1.30", "", f'LISTEN "{CHANNEL}"'),
        session(9020, "postgres", "10.0.2.5", "myapp", 'LISTEN "MyApp"'),
        session(9021, "postgres", "10.0.2.5", "myapp", "NOTIFY MyApp, 'myapp@10.0.2.5'"),
        session(9022, "postgres", "10.0.3.9", "worker", "SELECT pg_notify($1, $2)"),
        session(9023, "postgres", "10.6.6.6", "[link=http://x]evil", 'LISTEN "[bold]evil"'),
        Session(9024, "app_staging", "realtime", "", "10.0.1.31", "idle", None),
    ]
    return Activity("postgres", 'GRANT pg_read_all_stats TO "postgres";', sessions)


def _reachable(alive: str, host: str) -> tuple[Step, ...]:
    """The first three steps of a node that a peer can reach."""
    return (
        Step(StepName.RESOLVE, True, f"{host} → IPv4 {host}"),
        Step(
            StepName.EPMD,
            True,
            f"EPMD at {host}:4369 knows {alive}: distribution port 41201 (normal node, protocol "
            "versions 5-6)",
        ),
        Step(StepName.CONNECT, True, f"{host}:41201 accepts TCP connections"),
    )


def doctor_reports() -> list[tuple[Report, float]]:
    """A node that passes, one whose EPMD does not run, one whose cookie is another."""
    accepted = (
        "cookie accepted: connected as hidden node pgcluster_doctor_783f1f83@10.0.1.5, then closed"
    )
    rejected = "cookie rejected: the node closed the connection on our digest (another cookie)"
    no_epmd = (
        "nothing listens on 10.0.1.20:4369: EPMD does not run there (or a firewall rejects it)"
    )
    return [
        (
            Report(
                "web1@10.0.1.17",
                (*_reachable("web1", "10.0.1.17"), Step(StepName.HANDSHAKE, True, accepted)),
            ),
            NOW - 4.0,
        ),
        (
            Report(
                "worker@10.0.1.20",
                (
                    Step(StepName.RESOLVE, True, "10.0.1.20 → IPv4 10.0.1.20"),
                    Step(StepName.EPMD, False, no_epmd),
                ),
            ),
            NOW - 3.0,
        ),
        (
            Report(
                "batch@10.0.1.21",
                (*_reachable("batch", "10.0.1.21"), Step(StepName.HANDSHAKE, False, rejected)),
            ),
            NOW - 2.0,
        ),
    ]
