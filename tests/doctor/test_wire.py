"""EPMD and handshake messages, byte for byte as erts' "Distribution Protocol" gives them."""

from __future__ import annotations

import struct

import pytest

from pgcluster_tui.erlang import wire

# EPMD


def test_port_please2_req_is_length_tag_and_name() -> None:
    assert wire.port_please2_req("realtime") == b"\x00\x09\x7arealtime"


def test_names_req_is_one_tag_byte() -> None:
    assert wire.names_req() == b"\x00\x01\x6e"


def test_port2_resp_with_an_error_means_unknown_name() -> None:
    assert wire.parse_port2_resp(b"\x77\x01") is None


def test_port2_resp_ok_gives_port_type_versions_and_name() -> None:
    data = b"\x77\x00" + b"\xa0\xf1" + b"\x4d" + b"\x00" + b"\x00\x06" + b"\x00\x05"
    data += b"\x00\x02t1" + b"\x00\x00"
    info = wire.parse_port2_resp(data)
    assert info == wire.PortInfo(41201, 77, 0, 6, 5, "t1")
    assert not info.hidden


@pytest.mark.parametrize(
    "data",
    [b"", b"\x78\x00", b"\x77\x00\xa0", b"\x77\x00\xa0\xf1\x4d\x00\x00\x06\x00\x05\x00\x09t1"],
)
def test_a_port2_resp_cut_short_or_mistagged_is_refused(data: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.parse_port2_resp(data)


def test_names_resp_lists_names_and_ports() -> None:
    data = b"\x00\x00\x11\x11name t1 at port 41201\nname rabbit at port 25672\ngarbage\n"
    assert wire.parse_names_resp(data) == [("t1", 41201), ("rabbit", 25672)]


# Handshake


def test_send_name_is_n_flags_creation_length_name() -> None:
    message = wire.send_name(wire.HIDDEN_FLAGS, 0x01020304, "d@127.0.0.1")
    body = b"N" + struct.pack(">Q", wire.HIDDEN_FLAGS) + b"\x01\x02\x03\x04\x00\x0bd@127.0.0.1"
    assert message == struct.pack(">H", len(body)) + body


def test_our_flags_are_hidden_and_carry_every_mandatory_flag() -> None:
    assert wire.HIDDEN_FLAGS & wire.DFLAG_PUBLISHED == 0
    assert wire.HIDDEN_FLAGS & wire.MANDATORY_FLAGS == wire.MANDATORY_FLAGS
    for flag in (0x4, 0x10, 0x80, 0x100, 0x200, 0x400, 0x800, 0x10000, 0x20000, 0x40000):
        assert wire.HIDDEN_FLAGS & flag
    assert wire.HIDDEN_FLAGS & 0x1000000  # DFLAG_HANDSHAKE_23
    assert wire.HIDDEN_FLAGS & (1 << 34)  # DFLAG_V4_NC, mandatory from OTP 26
    assert wire.HIDDEN_FLAGS & (1 << 36)  # DFLAG_MANDATORY_25_DIGEST, mandatory from OTP 27


def test_status_messages() -> None:
    assert wire.parse_status(b"sok") == "ok"
    assert wire.parse_status(b"snot_allowed") == "not_allowed"
    assert wire.send_status("false") == b"\x00\x06sfalse"
    with pytest.raises(wire.WireError):
        wire.parse_status(b"xok")


def test_challenge_is_n_flags_challenge_creation_name_and_extra_is_ignored() -> None:
    body = b"N" + struct.pack(">QIIH", 0x1_0000_0004, 0xDEADBEEF, 7, 13) + b"t1@127.0.0.1x"
    assert wire.parse_challenge(body + b"extra") == wire.Challenge(
        0x1_0000_0004, 0xDEADBEEF, 7, "t1@127.0.0.1x"
    )
    with pytest.raises(wire.WireError):
        wire.parse_challenge(body[:-3])
    with pytest.raises(wire.WireError):
        wire.parse_challenge(b"n" + body[1:])


def test_digest_matches_what_erlang_computes() -> None:
    # erlang:md5(["Secret1" | integer_to_list(3735928559)]) on OTP 25
    expected = bytes.fromhex("0D06ED5EA2E6F558EEA25EEA09510DF7")
    assert wire.digest(3735928559, b"Secret1") == expected


def test_challenge_reply_carries_our_challenge_and_the_digest_never_the_cookie() -> None:
    answer = wire.digest(42, b"Secret1")
    message = wire.challenge_reply(0xCAFEBABE, answer)
    assert message == b"\x00\x15r\xca\xfe\xba\xbe" + answer
    assert b"Secret1" not in message


def test_challenge_ack_is_a_and_sixteen_bytes() -> None:
    assert wire.parse_challenge_ack(b"a" + bytes(range(16))) == bytes(range(16))
    with pytest.raises(wire.WireError):
        wire.parse_challenge_ack(b"a" + bytes(15))


def test_cookie_bytes_are_latin1_as_erlang_digests_atoms() -> None:
    assert wire.cookie_bytes("café") == b"caf\xe9"
    with pytest.raises(wire.WireError, match="U\\+00FF"):
        wire.cookie_bytes("cookie€")


def test_a_message_over_64_kib_cannot_be_framed() -> None:
    with pytest.raises(wire.WireError):
        wire.frame(bytes(70000))


def test_port2_resp_size_tells_when_the_answer_is_whole() -> None:
    whole = b"\x77\x00\xa0\xf1\x4d\x00\x00\x06\x00\x05\x00\x02t1\x00\x01x"
    assert [wire.port2_resp_size(whole[:n]) for n in (0, 1, 2, 11, 13, 14)] == [None] * 6
    assert wire.port2_resp_size(whole[:16]) == len(whole) == wire.port2_resp_size(whole)
    assert wire.port2_resp_size(b"\x77\x01") == 2
    assert wire.port2_resp_size(b"HTTP/1.1") == 8
