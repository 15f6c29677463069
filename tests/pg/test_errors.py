"""Connection problems in one line, without the password, and where a DSN points."""

from __future__ import annotations

import socket

import psycopg
import psycopg.errors
import pytest

from pgcluster_tui.core.backoff import Failure
from pgcluster_tui.pg.connection import ConnectionLost
from pgcluster_tui.pg.embedded import EmbeddedServer
from pgcluster_tui.pg.errors import Redactor, classify, conninfo_is_valid, describe_target
from pgcluster_tui.pg.worker import WorkerConfig
from tests.reliability.harness import require_password

PASSWORD = "sekrit_pw"


@pytest.mark.parametrize(
    ("conninfo", "written"),
    [
        (f"host=db user=u password={PASSWORD}", PASSWORD),
        (f"host=db password = '{PASSWORD}' user=u", PASSWORD),
        (f"postgresql://u:{PASSWORD}@db:5432/app", PASSWORD),
        # Unparseable: libpq quotes the token (or the whole string) as written.
        (f"postgresql://u:{PASSWORD}%zz@db/app", f"{PASSWORD}%zz"),
        (f"postgresql://u:{PASSWORD}@[::1/db", PASSWORD),
        (f"host=db password='{PASSWORD}", PASSWORD),
        (f"host=db password={PASSWORD} port", PASSWORD),
    ],
)
def test_redactor_removes_the_password_parsed_or_not(conninfo: str, written: str) -> None:
    redact = Redactor(conninfo)
    text = f'error near "{written}" in "{conninfo}"; {written}'
    assert PASSWORD not in redact(text)
    assert redact(text).count("***") == 3


def test_redactor_finds_a_percent_encoded_password_in_both_forms() -> None:
    redact = Redactor("postgresql://u:sek%20rit@db/app")
    assert redact("sek rit and sek%20rit") == "*** and ***"


def test_redactor_makes_one_line() -> None:
    redact = Redactor(f"password={PASSWORD}")
    exc = psycopg.OperationalError(f"connection failed:\n\tsomething {PASSWORD}\n\n  hint  here")
    assert redact.one_line(exc) == "connection failed:; something ***; hint here"
    assert redact.one_line(ValueError()) == "ValueError"
    assert len(redact.one_line(ValueError("x" * 10_000))) == 500


def test_redactor_without_a_conninfo_changes_nothing() -> None:
    assert Redactor("")("text") == "text"


@pytest.mark.parametrize(
    ("conninfo", "target"),
    [
        (f"host=db port=6543 user=app password={PASSWORD} dbname=prod", "app@db:6543/prod"),
        (f"postgresql://app:{PASSWORD}@db:6543/prod", "app@db:6543/prod"),
        ("host=/tmp/pg port=5432 user=postgres", "postgres@socket /tmp/pg:5432"),
        ("", "(libpq default)"),
        (f"host=db password={PASSWORD} port", "(unparseable connection string)"),
    ],
)
def test_describe_target_never_shows_the_password(conninfo: str, target: str) -> None:
    assert describe_target(conninfo) == target
    assert repr(WorkerConfig(conninfo, "cluster", "a@b")).count(PASSWORD) == 0


def test_conninfo_is_valid() -> None:
    assert conninfo_is_valid("host=db")
    assert not conninfo_is_valid("host=db port")


# Why a connection attempt failed, for the reconnect timing


def failed_connect(dsn: str) -> psycopg.Error:
    """The exception a real connection attempt raises."""
    try:
        psycopg.connect(dsn, connect_timeout=2).close()
    except psycopg.Error as exc:
        return exc
    raise AssertionError(f"{dsn} connected")


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_server_that_is_not_there_is_refused() -> None:
    refused = failed_connect(f"host=127.0.0.1 port={closed_port()} user=postgres")
    assert "Connection refused" in str(refused)
    assert classify(refused) is Failure.REFUSED
    no_socket = failed_connect(f"host=/nonexistent-{closed_port()} user=postgres")
    assert "No such file or directory" in str(no_socket)
    assert classify(no_socket) is Failure.REFUSED


def test_what_a_server_that_answers_refuses_is_load_or_configuration(
    private_server: EmbeddedServer,
) -> None:
    require_password(private_server, "secret_user", PASSWORD)
    with psycopg.connect(private_server.dsn, autocommit=True) as admin:
        admin.execute("CREATE ROLE limited LOGIN CONNECTION LIMIT 0")
    base = f"host={private_server.socket_dir} port={private_server.port}"
    cases = {
        f"{base} dbname=no_such_db user=postgres": Failure.CONFIG,
        f"{base} dbname=postgres user=no_such_role": Failure.CONFIG,
        f"{base} dbname=postgres user=secret_user password={PASSWORD}x": Failure.CONFIG,
        f"{base} dbname=postgres user=limited": Failure.LOAD,
    }
    for dsn, expected in cases.items():
        exc = failed_connect(dsn)
        assert classify(exc) is expected, str(exc)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (psycopg.errors.TooManyConnections("sorry"), Failure.LOAD),
        (psycopg.errors.InvalidPassword("no"), Failure.CONFIG),
        (psycopg.errors.InvalidAuthorizationSpecification("no"), Failure.CONFIG),
        (psycopg.errors.InvalidCatalogName("no"), Failure.CONFIG),
        (psycopg.errors.InsufficientPrivilege("no"), Failure.CONFIG),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), Failure.REFUSED),
        (psycopg.errors.AdminShutdown("terminating connection"), Failure.REFUSED),
    ],
)
def test_an_sqlstate_decides_first(exc: psycopg.Error, expected: Failure) -> None:
    assert classify(exc) is expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("FATAL:  sorry, too many clients already", Failure.LOAD),
        ("FATAL:  remaining connection slots are reserved for superuser", Failure.LOAD),
        ('FATAL:  no pg_hba.conf entry for host "10.0.0.1", user "u"', Failure.CONFIG),
        ('FATAL:  permission denied for database "app"', Failure.CONFIG),
        ("FATAL:  the database system is starting up", Failure.REFUSED),
        ("FATAL:  the database system is shutting down", Failure.REFUSED),
        ("FATAL:  the database system is in recovery mode", Failure.REFUSED),
        ("server closed the connection unexpectedly", Failure.REFUSED),
        ("connection timeout expired", Failure.REFUSED),
        ("something nobody has seen before", Failure.REFUSED),
    ],
)
def test_a_libpq_message_decides_without_an_sqlstate(message: str, expected: Failure) -> None:
    assert classify(psycopg.OperationalError(f"connection failed: {message}")) is expected


def test_a_deadline_or_an_unknown_error_counts_as_refused() -> None:
    assert classify(ConnectionLost("connect got no answer within 3 s")) is Failure.REFUSED
    assert classify(OSError("network is unreachable")) is Failure.REFUSED
    assert classify(ValueError()) is Failure.REFUSED
