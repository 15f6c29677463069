"""Untrusted strings as Rich Text cells (never markup), escapes made visible."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from pgcluster_tui.core.text import visible


def plain(value: str, style: str | Style = "") -> Text:
    """Wrap an untrusted string as Rich Text, never parsed as markup, escapes made visible."""
    return Text(visible(value), style=style, no_wrap=True, overflow="ellipsis")
