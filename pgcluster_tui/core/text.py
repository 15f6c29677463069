"""Make untrusted text safe and unambiguous to show: what cannot be seen becomes an escape."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_ASCII_HIDDEN = re.compile(r"[\x00-\x1f\x7f\\]")
"""ASCII controls, and the backslash itself so that every escape reads one way only."""

_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp", "Zs"})
"""Control, format, unassigned, private use, surrogate and separator characters."""

_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
"""Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt): shown as nothing."""

_BLANK_LOOKING = frozenset({0x2800})
"""Characters that draw as blank although Unicode calls them symbols (Braille blank)."""


@lru_cache(maxsize=4096)
def _hidden(char: str) -> bool:
    code = ord(char)
    if code in _BLANK_LOOKING or unicodedata.category(char) in _HIDDEN_CATEGORIES:
        return code != 0x20
    return any(low <= code <= high for low, high in _DEFAULT_IGNORABLE)


def _escape(char: str) -> str:
    if char == "\\":
        return "\\\\"
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str, limit: int | None = None) -> str:
    """Escape every character that does not show itself (and `\\`); cut to `limit` characters."""
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    if text.isascii():
        return _ASCII_HIDDEN.sub(lambda m: _escape(m.group()), text)
    return "".join(_escape(c) if c == "\\" or _hidden(c) else c for c in text)


LOOKALIKE_SCRIPTS = frozenset(
    {"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "COPTIC", "CHEROKEE", "FULLWIDTH", "MATHEMATICAL"}
)
"""Scripts with letters that pass for each other's (а and a, ο and o, ａ and a)."""


def mixed_scripts(text: str) -> bool:
    """Whether `text` mixes letters of look-alike scripts (`аpp` with a Cyrillic а)."""
    if text.isascii():
        return False
    scripts = {_script(c) for c in text if c.isalpha()}
    return len(scripts & LOOKALIKE_SCRIPTS) > 1


@lru_cache(maxsize=4096)
def _script(char: str) -> str:
    # The first word of a letter's Unicode name is its script for every script a node name
    # could be confused in (LATIN, CYRILLIC, GREEK, ARMENIAN, ...).
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else "COMMON"
