"""The libcluster_postgres 0.2.0 wire protocol: channels, node names and payload classes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_IDENTIFIER_BYTES = 63
"""PostgreSQL truncates identifiers beyond NAMEDATALEN - 1 bytes."""

MAX_PAYLOAD_BYTES = 7999
"""NOTIFY refuses payloads of 8000 bytes or more."""

MAX_NODE_NAME_CHARS = 255
"""An Erlang atom holds at most 255 characters; longer payloads crash every libcluster node."""

_NON_WORD_BYTE = re.compile(rb"[^A-Za-z0-9_]")
_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
"""Control, line-separator and bidi characters, and lone surrogates (which no client can send)."""
_CONTROL_OR_SPACE = re.compile(_CONTROL.pattern[:-1] + r"\s]")
"""The above or whitespace as str.isspace() has it (re's \\s for str patterns is the same set):
one search clears a valid name."""


class JunkReason(StrEnum):
    """Why a payload is not a node name that a libcluster node could connect to."""

    EMPTY = "empty"
    TOO_LONG = "too long"
    NO_AT = "no @"
    EMPTY_PART = "empty name or host"
    CONTROL = "control characters"
    WHITESPACE = "whitespace"


class ProtocolError(ValueError):
    """A channel or node name that the protocol cannot carry."""


@dataclass(frozen=True, slots=True)
class NodeName:
    """A payload that names an Erlang node: `name@host`."""

    name: str
    host: str

    def __str__(self) -> str:
        return f"{self.name}@{self.host}"


@dataclass(frozen=True, slots=True)
class Junk:
    """A payload that is not a node name, with the reason."""

    reason: JunkReason


_JUNK = {reason: Junk(reason) for reason in JunkReason}


def channel_from_cookie(cookie: str) -> str:
    """Derive the channel as libcluster_postgres does: every non-word byte becomes `_`."""
    # surrogateescape: undecodable argv bytes arrive as lone surrogates, one per byte.
    raw = cookie.encode("utf-8", "surrogateescape")
    return _NON_WORD_BYTE.sub(b"_", raw).decode("ascii")


def cookie_warning(cookie: str) -> str | None:
    """Why nodes cannot use the channel derived from this cookie, if they cannot."""
    if cookie.isascii():
        return None
    return (
        "the cookie has non-ASCII characters: libcluster_postgres 0.2.0 derives an invalid "
        "UTF-8 channel from it, so its LISTEN and NOTIFY fail while it still logs "
        '"Connected"; set channel_name on every node and --channel here'
    )


def is_long_name(node: str) -> bool:
    """Whether a node name is an Erlang long name: its host has a dot or is an IP address."""
    host = node.partition("@")[2]
    return "." in host or ":" in host


def validate_channel(channel: str) -> str:
    """Return the channel unchanged, or raise ProtocolError if PostgreSQL would not carry it."""
    if not channel:
        raise ProtocolError("the channel is empty")
    try:
        size = len(channel.encode("utf-8"))
    except UnicodeEncodeError:
        raise ProtocolError("the channel is not valid UTF-8 text") from None
    if size > MAX_IDENTIFIER_BYTES:
        raise ProtocolError(
            f"the channel is {size} bytes; PostgreSQL truncates identifiers to "
            f"{MAX_IDENTIFIER_BYTES}, so nothing sent to it would ever arrive"
        )
    if "\x00" in channel:
        raise ProtocolError("the channel contains a NUL character")
    return channel


def junk_reason(payload: str) -> JunkReason | None:
    """Why a payload is not a node name a libcluster node accepts; None when it is one."""
    if not payload:
        return JunkReason.EMPTY
    if len(payload) > MAX_NODE_NAME_CHARS:
        return JunkReason.TOO_LONG
    if payload.isascii():
        # The same verdict without a regex: in ASCII the control set is what isprintable()
        # refuses, and every whitespace but the space is a control character.
        if not payload.isprintable():
            return JunkReason.CONTROL
        return _parts_reason(payload, " " in payload)
    return _general_reason(payload)


def _general_reason(payload: str) -> JunkReason | None:
    suspicious = _CONTROL_OR_SPACE.search(payload) is not None
    if suspicious and _CONTROL.search(payload):
        return JunkReason.CONTROL
    return _parts_reason(payload, suspicious)


def _parts_reason(payload: str, spaced: bool) -> JunkReason | None:
    name, at, host = payload.partition("@")
    if not at:
        return JunkReason.NO_AT
    if not name or not host:
        return JunkReason.EMPTY_PART
    if spaced:
        return JunkReason.WHITESPACE
    return None


def classify(payload: str) -> NodeName | Junk:
    """Classify a payload: a node name a libcluster node accepts, or junk with its reason."""
    reason = junk_reason(payload)
    if reason is not None:
        return _JUNK[reason]
    name, _, host = payload.partition("@")
    return NodeName(name, host)


def validate_node_name(candidate: str) -> str:
    """Return the name unchanged if every libcluster node can take it, else raise ProtocolError."""
    verdict = classify(candidate)
    if isinstance(verdict, Junk):
        if verdict.reason is JunkReason.TOO_LONG:
            raise ProtocolError(
                f"the node name is {len(candidate)} characters; over {MAX_NODE_NAME_CHARS} "
                "crashes the libcluster_postgres strategy on every node"
            )
        raise ProtocolError(f"not a node name ({verdict.reason}); expected name@host")
    return candidate


def notify_statement(channel: str, node: str) -> str:
    """Show the statement a libcluster_postgres node sends, for humans (never executed)."""
    quoted_channel = '"' + channel.replace('"', '""') + '"'
    quoted_node = "'" + node.replace("'", "''") + "'"
    return f"NOTIFY {quoted_channel}, {quoted_node}"
