"""The wire protocol: channel derivation and validation, payload classification, statements."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgcluster_tui.core.protocol import (
    MAX_IDENTIFIER_BYTES,
    MAX_NODE_NAME_CHARS,
    Junk,
    JunkReason,
    NodeName,
    ProtocolError,
    _general_reason,
    channel_from_cookie,
    classify,
    junk_reason,
    notify_statement,
    validate_channel,
    validate_node_name,
)

# Cookie -> channel


@pytest.mark.parametrize(
    ("cookie", "channel"),
    [
        ("my-random-#123-long-cookie", "my_random__123_long_cookie"),
        ("plain_cookie_123", "plain_cookie_123"),
        ("MixedCase", "MixedCase"),
        ("a b.c", "a_b_c"),
        # Byte-wise: every byte of a multibyte character becomes its own `_`.
        ("café", "caf__"),  # é is 2 bytes
        ("日本", "______"),  # 3 bytes each
        ("a😀b", "a____b"),  # 4 bytes
        ("", ""),
    ],
)
def test_channel_from_cookie_replaces_every_non_word_byte(cookie: str, channel: str) -> None:
    assert channel_from_cookie(cookie) == channel


def test_channel_from_cookie_keeps_undecodable_argv_bytes_one_to_one() -> None:
    # sys.argv carries undecodable bytes as lone surrogates; each is one byte of the cookie.
    cookie = b"ab\xff\xfecd".decode("utf-8", "surrogateescape")
    assert channel_from_cookie(cookie) == "ab__cd"


@settings(deadline=None)  # no flakes on a loaded machine
@given(st.text())
def test_channel_from_cookie_is_one_word_byte_per_input_byte(cookie: str) -> None:
    channel = channel_from_cookie(cookie)
    assert len(channel) == len(cookie.encode("utf-8"))
    assert re.fullmatch(r"[A-Za-z0-9_]*", channel)


# Channel validation


@pytest.mark.parametrize(
    "channel",
    ["cluster", "Cluster_MixedCase", "123_oops", "x" * MAX_IDENTIFIER_BYTES, "é" * 31 + "a"],
)
def test_valid_channels_are_returned_unchanged(channel: str) -> None:
    assert validate_channel(channel) == channel


def test_empty_channel_is_refused() -> None:
    with pytest.raises(ProtocolError, match="empty"):
        validate_channel("")


def test_channel_of_64_bytes_is_refused_with_its_size() -> None:
    with pytest.raises(ProtocolError, match=r"64 bytes.*63"):
        validate_channel("x" * 64)


def test_channel_limit_counts_bytes_not_characters() -> None:
    assert validate_channel("é" * 31) == "é" * 31  # 62 bytes
    with pytest.raises(ProtocolError, match="64 bytes"):
        validate_channel("é" * 32)  # 32 characters, 64 bytes


def test_channel_with_nul_is_refused() -> None:
    with pytest.raises(ProtocolError, match="NUL"):
        validate_channel("a\x00b")


def test_channel_that_cannot_be_encoded_is_refused_as_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        validate_channel("a\udcffb")


# Payload classification


@pytest.mark.parametrize(
    ("payload", "name", "host"),
    [
        ("a@10.0.0.1", "a", "10.0.0.1"),
        ("realtime@10.0.1.17", "realtime", "10.0.1.17"),
        ("app@host.internal", "app", "host.internal"),
        ("a@::1", "a", "::1"),
        ("node@fe80::1%eth0", "node", "fe80::1%eth0"),
        ("a@b@c", "a", "b@c"),  # split on the first @
        ("ünï@hôst", "ünï", "hôst"),
        ("[bold]@x", "[bold]", "x"),
    ],
)
def test_node_names_are_split_on_the_first_at(payload: str, name: str, host: str) -> None:
    verdict = classify(payload)
    assert verdict == NodeName(name, host)
    assert str(verdict) == payload


def test_255_characters_is_a_node_name_and_256_is_too_long() -> None:
    at_limit = "n@" + "h" * (MAX_NODE_NAME_CHARS - 2)
    assert isinstance(classify(at_limit), NodeName)
    assert classify(at_limit + "h") == Junk(JunkReason.TOO_LONG)


def test_length_limit_counts_characters_not_bytes() -> None:
    assert isinstance(classify("é@" + "é" * 253), NodeName)  # 255 characters, 510 bytes


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("", JunkReason.EMPTY),
        ("x" * 256, JunkReason.TOO_LONG),
        ("x" * 7999, JunkReason.TOO_LONG),
        ("no_at_sign", JunkReason.NO_AT),
        ("[bold]", JunkReason.NO_AT),
        ("[link=https://example.com]x[/link]", JunkReason.NO_AT),
        ("@host", JunkReason.EMPTY_PART),
        ("name@", JunkReason.EMPTY_PART),
        ("@", JunkReason.EMPTY_PART),
        ("\x1b[2J", JunkReason.CONTROL),
        ("a\x1b[31m@h", JunkReason.CONTROL),
        ("a@h\n", JunkReason.CONTROL),
        ("a@h\t", JunkReason.CONTROL),
        ("a\x00@h", JunkReason.CONTROL),
        ("a@h\x7f", JunkReason.CONTROL),
        ("a@h\x85", JunkReason.CONTROL),  # C1 next line
        ("a@\u202eh", JunkReason.CONTROL),  # right-to-left override
        ("a@h\u2028", JunkReason.CONTROL),
        ("a\udcff@h", JunkReason.CONTROL),  # lone surrogate: cannot be sent at all
        ("a b@h", JunkReason.WHITESPACE),
        ("a@h\u00a0", JunkReason.WHITESPACE),
        (" a@h", JunkReason.WHITESPACE),
    ],
)
def test_every_junk_reason(payload: str, reason: JunkReason) -> None:
    assert classify(payload) == Junk(reason)


@settings(deadline=None)  # no flakes on a loaded machine
@given(st.text(max_size=300))
def test_classify_never_raises_and_names_round_trip(payload: str) -> None:
    verdict = classify(payload)
    if isinstance(verdict, NodeName):
        assert str(verdict) == payload
        assert 1 <= len(payload) <= MAX_NODE_NAME_CHARS
        assert verdict.name
        assert verdict.host
        assert "@" not in verdict.name
    else:
        assert isinstance(verdict.reason, JunkReason)


# Node names we send


def test_validate_node_name_returns_a_valid_name() -> None:
    assert validate_node_name("pgcluster_tui@host") == "pgcluster_tui@host"
    assert validate_node_name("a@::1") == "a@::1"


def test_validate_node_name_explains_a_name_that_is_too_long() -> None:
    with pytest.raises(ProtocolError) as info:
        validate_node_name("a@" + "h" * 254)
    message = str(info.value)
    assert "256 characters" in message
    assert "255" in message
    assert "crash" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        ("", "empty"),
        ("nope", "no @"),
        ("@h", "empty name or host"),
        ("a\x1b@h", "control characters"),
        ("a b@h", "whitespace"),
    ],
)
def test_validate_node_name_names_the_reason(candidate: str, reason: str) -> None:
    with pytest.raises(ProtocolError) as info:
        validate_node_name(candidate)
    assert str(info.value) == f"not a node name ({reason}); expected name@host"


# The statement a node sends


def test_notify_statement_is_what_libcluster_postgres_sends() -> None:
    assert notify_statement("cluster", "a@10.0.0.1") == "NOTIFY \"cluster\", 'a@10.0.0.1'"


def test_notify_statement_keeps_case_and_leading_digits() -> None:
    assert notify_statement("MyCluster", "a@h") == "NOTIFY \"MyCluster\", 'a@h'"
    assert notify_statement("123_oops", "a@h") == "NOTIFY \"123_oops\", 'a@h'"


def test_notify_statement_doubles_quotes() -> None:
    assert notify_statement('we"ird', "o'brien@h") == "NOTIFY \"we\"\"ird\", 'o''brien@h'"


ASCII_TEMPLATES = ("a{}@h", "{}a@h", "a@h{}", "a@{}", "{}@h", "ab{}", "{}", "a{}b@h{}")


@pytest.mark.parametrize("char", [chr(c) for c in range(128)])
def test_the_ascii_verdict_is_the_general_one(char: str) -> None:
    # ASCII payloads skip the regexes: each character, anywhere, must get the same verdict.
    for template in ASCII_TEMPLATES:
        payload = template.format(char, char)
        assert junk_reason(payload) is _general_reason(payload), repr(payload)


@settings(deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), min_size=1, max_size=40))
def test_any_ascii_verdict_is_the_general_one(payload: str) -> None:
    assert junk_reason(payload) is _general_reason(payload)
