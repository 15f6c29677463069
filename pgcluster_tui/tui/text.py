"""Untrusted strings for the terminal: never markup, escapes visible, one width everywhere."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rich.cells import get_character_cell_size
from rich.style import Style
from rich.text import Text

from pgcluster_tui.core.text import visible

_REGIONAL_INDICATORS = (0x1F1E6, 0x1F1FF)
"""Flag letters: a pair is 1, 2 or 4 cells and a lone one 1 or 2, depending on the terminal."""

_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@lru_cache(maxsize=4096)
def _disputed(char: str) -> bool:
    code = ord(char)
    if _REGIONAL_INDICATORS[0] <= code <= _REGIONAL_INDICATORS[1]:
        return True
    category = unicodedata.category(char)
    if category == "Me":
        return True  # enclosing marks: the keycap U+20E3, circles, screens
    # Zero cells for Rich (it joins them to the character before) but a cell of their own for
    # tmux and wcwidth: emoji skin-tone modifiers, spacing combining marks.
    return category in ("Mc", "Sk") and get_character_cell_size(char) == 0


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def cells(value: str) -> str:
    """`visible(value)`, with every character terminals disagree on the width of escaped too.

    `visible` already escapes joiners, variation selectors, fillers and controls; this adds the
    rest of the emoji sequences (skin tones, keycaps, flags) and the marks Rich measures apart
    from terminals, so a row padded by Rich's cell count keeps its borders in any terminal.
    """
    text = visible(value)
    if text.isascii():
        return text
    return _NON_ASCII.sub(lambda m: _escape(c) if _disputed(c := m.group()) else c, text)


def plain(value: str, style: str | Style = "") -> Text:
    """Wrap an untrusted string as Rich Text, never parsed as markup, escapes made visible."""
    return Text(cells(value), style=style, no_wrap=True, overflow="ellipsis")
