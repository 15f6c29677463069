"""EPMD and distribution-handshake messages, byte for byte (erts "Distribution Protocol")."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

EPMD_PORT = 4369
"""EPMD's well-known TCP port."""

PORT_PLEASE2_REQ = 122
PORT2_RESP = 119
NAMES_REQ = 110

NODE_TYPE_NORMAL = 77
NODE_TYPE_HIDDEN = 72

DFLAG_PUBLISHED = 0x1
DFLAG_EXTENDED_REFERENCES = 0x4
DFLAG_FUN_TAGS = 0x10
DFLAG_NEW_FUN_TAGS = 0x80
DFLAG_EXTENDED_PIDS_PORTS = 0x100
DFLAG_EXPORT_PTR_TAG = 0x200
DFLAG_BIT_BINARIES = 0x400
DFLAG_NEW_FLOATS = 0x800
DFLAG_UTF8_ATOMS = 0x10000
DFLAG_MAP_TAG = 0x20000
DFLAG_BIG_CREATION = 0x40000
DFLAG_HANDSHAKE_23 = 0x1000000
DFLAG_UNLINK_ID = 0x2000000
DFLAG_V4_NC = 1 << 34
DFLAG_MANDATORY_25_DIGEST = 1 << 36

MANDATORY_FLAGS = (
    DFLAG_EXTENDED_REFERENCES
    | DFLAG_FUN_TAGS
    | DFLAG_NEW_FUN_TAGS
    | DFLAG_EXTENDED_PIDS_PORTS
    | DFLAG_EXPORT_PTR_TAG
    | DFLAG_BIT_BINARIES
    | DFLAG_NEW_FLOATS
    | DFLAG_UTF8_ATOMS
    | DFLAG_MAP_TAG
    | DFLAG_BIG_CREATION
    | DFLAG_HANDSHAKE_23
)
"""Flags an OTP 25 node refuses a peer without (the doc's "mandatory" list)."""

HIDDEN_FLAGS = MANDATORY_FLAGS | DFLAG_UNLINK_ID | DFLAG_V4_NC | DFLAG_MANDATORY_25_DIGEST
"""What we announce: OTP 25's mandatory set, OTP 26's and 27's additions, never PUBLISHED."""

_PORT2_OK = struct.Struct(">BBHBBHHH")
_NAME = struct.Struct(">cQIH")
_CHALLENGE = struct.Struct(">cQIIH")
_REPLY = struct.Struct(">cI16s")


class WireError(ValueError):
    """Bytes that do not form the message the protocol says comes next."""


def frame(body: bytes) -> bytes:
    """Prefix a request or handshake message with its 2-byte big-endian length."""
    if len(body) > 0xFFFF:
        raise WireError(f"a {len(body)}-byte message does not fit a 2-byte length")
    return struct.pack(">H", len(body)) + body


# EPMD


def port_please2_req(alive: str) -> bytes:
    """PORT_PLEASE2_REQ: which distribution port does node `alive` (the part before @) use?"""
    return frame(bytes([PORT_PLEASE2_REQ]) + alive.encode())


def names_req() -> bytes:
    """NAMES_REQ: every name this EPMD has registered."""
    return frame(bytes([NAMES_REQ]))


@dataclass(frozen=True, slots=True)
class PortInfo:
    """A PORT2_RESP with result 0: where and how the node listens."""

    port: int
    node_type: int
    protocol: int
    highest_version: int
    lowest_version: int
    name: str

    @property
    def hidden(self) -> bool:
        """Whether the node registered as hidden (a C node or `-hidden`)."""
        return self.node_type == NODE_TYPE_HIDDEN


def parse_port2_resp(data: bytes) -> PortInfo | None:
    """Decode a whole PORT2_RESP; None when EPMD does not know the name (result > 0)."""
    if len(data) < 2 or data[0] != PORT2_RESP:
        raise WireError(f"not a PORT2_RESP: {data[:8]!r}")
    if data[1] != 0:
        return None
    if len(data) < _PORT2_OK.size:
        raise WireError("PORT2_RESP cut short")
    _, _, port, node_type, protocol, high, low, nlen = _PORT2_OK.unpack_from(data)
    name = data[_PORT2_OK.size : _PORT2_OK.size + nlen]
    if len(name) != nlen:
        raise WireError("PORT2_RESP cut short in the node name")
    return PortInfo(port, node_type, protocol, high, low, name.decode("utf-8", "replace"))


def port2_resp_size(data: bytes) -> int | None:
    """How long the PORT2_RESP starting `data` is, once its first bytes tell; junk: as is."""
    if not data:
        return None
    if data[0] != PORT2_RESP:
        return len(data)
    if len(data) < 2:
        return None
    if data[1] != 0:
        return 2
    if len(data) < _PORT2_OK.size:
        return None
    name_end = _PORT2_OK.size + int.from_bytes(data[_PORT2_OK.size - 2 : _PORT2_OK.size], "big")
    if len(data) < name_end + 2:
        return None
    return name_end + 2 + int.from_bytes(data[name_end : name_end + 2], "big")


def parse_names_resp(data: bytes) -> list[tuple[str, int]]:
    """Decode a NAMES_RESP: EPMD's port, then lines `name N at port P`."""
    if len(data) < 4:
        raise WireError("NAMES_RESP cut short")
    names = []
    for line in data[4:].decode("utf-8", "replace").splitlines():
        words = line.split()
        if len(words) == 5 and words[0] == "name" and words[4].isdigit():
            names.append((words[1], int(words[4])))
    return names


# Handshake (version 6, OTP 23+)


def digest(challenge: int, cookie: bytes) -> bytes:
    """gen_digest: MD5 of the cookie followed by the challenge as decimal text."""
    return hashlib.md5(cookie + str(challenge).encode(), usedforsecurity=False).digest()


def cookie_bytes(cookie: str) -> bytes:
    """The bytes Erlang digests for a cookie atom (its characters, one byte each)."""
    try:
        return cookie.encode("latin-1")
    except UnicodeEncodeError:
        raise WireError(
            "the cookie has characters beyond U+00FF, which Erlang cannot digest"
        ) from None


def send_name(flags: int, creation: int, name: str) -> bytes:
    """The 'N' name message that opens the handshake, framed."""
    raw = name.encode()
    return frame(_NAME.pack(b"N", flags, creation, len(raw)) + raw)


def parse_status(body: bytes) -> str:
    """Decode a status message ('s' + status text): ok, nok, not_allowed, alive, ..."""
    if not body or body[:1] != b"s":
        raise WireError(f"not a status message: {body[:8]!r}")
    return body[1:].decode("ascii", "replace")


def send_status(status: str) -> bytes:
    """A status message from the connecting side (after `alive`: true or false), framed."""
    return frame(b"s" + status.encode("ascii"))


@dataclass(frozen=True, slots=True)
class Challenge:
    """The accepting node's 'N' challenge: its flags, challenge, creation and full name."""

    flags: int
    challenge: int
    creation: int
    name: str


def parse_challenge(body: bytes) -> Challenge:
    """Decode a version-6 challenge message (extra bytes after the name are ignored)."""
    if body[:1] != b"N" or len(body) < _CHALLENGE.size:
        raise WireError(f"not a version 6 challenge: {body[:8]!r}")
    _, flags, challenge, creation, nlen = _CHALLENGE.unpack_from(body)
    name = body[_CHALLENGE.size : _CHALLENGE.size + nlen]
    if len(name) != nlen:
        raise WireError("challenge cut short in the node name")
    return Challenge(flags, challenge, creation, name.decode("utf-8", "replace"))


def challenge_reply(challenge: int, answer: bytes) -> bytes:
    """The 'r' reply: our challenge for the peer and our digest of theirs, framed."""
    return frame(_REPLY.pack(b"r", challenge, answer))


def parse_challenge_ack(body: bytes) -> bytes:
    """Decode the 'a' ack: the peer's digest of our challenge."""
    if body[:1] != b"a" or len(body) != 17:
        raise WireError(f"not a challenge ack: {body[:8]!r}")
    return body[1:]
