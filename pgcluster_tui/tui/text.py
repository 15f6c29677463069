"""Untrusted strings made safe to show: control characters become visible escapes."""

from __future__ import annotations

import re

from rich.style import Style
from rich.text import Text

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def literal(value: str) -> str:
    """Return `value` with every control and bidi-override character shown as an escape."""
    return _UNSAFE.sub(_escape, value)


def plain(value: str, style: str | Style = "") -> Text:
    """Wrap an untrusted string as Rich Text, never parsed as markup, escapes made visible."""
    return Text(literal(value), style=style, no_wrap=True, overflow="ellipsis")
