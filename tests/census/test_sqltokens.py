"""The statement reader, checked against the server's own reading of the same text."""

from __future__ import annotations

import secrets

import psycopg
import pytest
from psycopg import sql

from pgcluster_tui.core.sqltokens import Kind, Verb, read_actions, tokenize

# What the server makes of a LISTEN: the oracle for identifiers.

SUFFIX = secrets.token_hex(4)

LISTEN_SPELLINGS = [
    f'LISTEN "MyCluster_{SUFFIX}"',
    f"LISTEN MyCluster_{SUFFIX}",
    f"listen   mycluster_{SUFFIX} ;",
    f'LISTEN "a""b_{SUFFIX}"',
    f"LISTEN ÄBC_{SUFFIX}",
    f"/* a /* nested */ comment */ LISTEN -- a comment\n  Foo_{SUFFIX}",
    f"LISTEN {'L' * 60}_{SUFFIX}",
    f'LISTEN "{"é" * 40}{SUFFIX}"',
    f"LISTEN x$y_{SUFFIX}",
]


@pytest.mark.parametrize("statement", LISTEN_SPELLINGS)
def test_a_listen_names_the_channel_the_server_listens_on(dsn: str, statement: str) -> None:
    [action] = read_actions(statement)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement.encode())
        row = conn.execute("SELECT array_agg(c) FROM pg_listening_channels() c").fetchone()
    assert row is not None
    assert [action.channel] == row[0]
    assert action.verb is Verb.LISTEN


LITERALS = ["'plain'", "'it''s'", "'a'\n'b'", "$$a@b$$", "$t$x$$y$t$", "'back\\slash'", "''"]


@pytest.mark.parametrize("literal", LITERALS)
def test_a_literal_reads_as_the_server_reads_it(dsn: str, literal: str) -> None:
    [action] = read_actions(f"NOTIFY c, {literal}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(sql.SQL("SELECT {}").format(sql.SQL(literal))).fetchone()
    assert row is not None
    assert action.payload == row[0]


def test_an_unquoted_notify_lands_on_the_folded_channel(dsn: str) -> None:
    name = f"Mixed_{SUFFIX}"
    [action] = read_actions(f"NOTIFY {name}, 'n@h'")
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(name.lower())))
        with psycopg.connect(dsn, autocommit=True) as sender:
            sender.execute(f"NOTIFY {name}, 'n@h'".encode())
        notes = list(listener.notifies(timeout=2, stop_after=1))
    assert [n.channel for n in notes] == [action.channel] == [name.lower()]
    assert action.how == "unquoted"
    assert action.spelled == name


# Without a server


@pytest.mark.parametrize(
    ("statement", "channel", "payload", "how"),
    [
        ("NOTIFY \"my_cookie_1\", 'a@10.0.0.1'", "my_cookie_1", "a@10.0.0.1", "quoted"),
        ("NOTIFY MyCluster", "mycluster", "", "unquoted"),
        ("SELECT pg_notify('Chan', 'p@h')", "Chan", "p@h", "function"),
        ("select pg_catalog.pg_notify('Chan'::text, 'p@h'::text);", "Chan", "p@h", "function"),
    ],
)
def test_senders(statement: str, channel: str, payload: str, how: str) -> None:
    [action] = read_actions(statement)
    assert (action.verb, action.channel, action.payload, action.how) == (
        Verb.NOTIFY,
        channel,
        payload,
        how,
    )
    assert action.note == ""


def test_a_bound_parameter_hides_the_channel() -> None:
    [action] = read_actions("SELECT pg_notify($1, $2)")
    assert action.channel is None
    assert action.how == "parameter"
    assert action.note.startswith("channel not visible")


def test_a_bound_payload_keeps_the_channel() -> None:
    [action] = read_actions("SELECT pg_notify('c', $2)")
    assert (action.channel, action.payload) == ("c", None)
    assert "bound parameter" in action.note


@pytest.mark.parametrize(
    ("statement", "note"),
    [
        ("NOTIFY c, E'a\\'b'", "payload not read: E'a\\'b'"),
        ("NOTIFY c, 'cut sh", "payload not read: a string literal cut short"),
        ("SELECT pg_notify(E'x', 'y')", "channel not read: E'x'"),
        ('NOTIFY "cut', "not read: a quoted identifier cut short"),
        ("SELECT pg_notify('a', 'b', 'c')", "not read: pg_notify with other arguments"),
        ("SELECT pg_notify(lower('A'), 'b')", "not read: pg_notify with other arguments"),
    ],
)
def test_what_is_not_decoded_is_marked_never_guessed(statement: str, note: str) -> None:
    [action] = read_actions(statement)
    assert action.note == note
    assert action.payload is None


def test_pg_notify_takes_its_channel_verbatim_and_fails_past_63_bytes() -> None:
    [action] = read_actions(f"SELECT pg_notify('{'y' * 70}', 'x')")
    assert action.channel is None
    assert action.note == "fails: the channel name is 70 bytes, over 63"
    [long_listen] = read_actions(f"LISTEN {'y' * 70}")
    assert long_listen.channel == "y" * 63
    assert long_listen.truncated


def test_several_statements_in_one_query() -> None:
    actions = read_actions("LISTEN a; select 1; NOTIFY a, 'n@h'")
    assert [(a.verb, a.channel) for a in actions] == [(Verb.LISTEN, "a"), (Verb.NOTIFY, "a")]


@pytest.mark.parametrize(
    "statement", ["select 1", "UNLISTEN *", "", "BEGIN", "SELECT 'LISTEN x'", "-- NOTIFY x"]
)
def test_other_statements_are_no_action(statement: str) -> None:
    assert read_actions(statement) == []


def test_tokens() -> None:
    kinds = [t.kind for t in tokenize("LISTEN \"A\" 'b' $1 1.5 :: , ; U&'x'")]
    assert kinds == [
        Kind.WORD,
        Kind.QUOTED,
        Kind.STRING,
        Kind.PARAM,
        Kind.NUMBER,
        Kind.PUNCT,
        Kind.PUNCT,
        Kind.PUNCT,
        Kind.UNREAD,
    ]
