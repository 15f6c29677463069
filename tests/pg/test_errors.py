"""Connection problems in one line, without the password, and where a DSN points."""

from __future__ import annotations

import psycopg
import pytest

from pgcluster_tui.pg.errors import Redactor, conninfo_is_valid, describe_target
from pgcluster_tui.pg.worker import WorkerConfig

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
