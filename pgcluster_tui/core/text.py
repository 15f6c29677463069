"""Make untrusted text safe to show: every control character becomes a visible escape."""

from __future__ import annotations

import re

_INVISIBLE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\t\n"
    r"\ud800-\udfff]"  # lone surrogates (e.g. undecodable argv bytes) cannot be written
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, limit: int | None = None) -> str:
    """Escape control, bidi and zero-width characters; cut to `limit` characters."""
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return _INVISIBLE.sub(_escape, text)
