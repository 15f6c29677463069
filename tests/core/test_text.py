"""Untrusted text shows itself or an escape, one way only, whatever Unicode it holds."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgcluster_tui.core.text import mixed_scripts, visible

_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})")


def read_back(shown: str) -> str:
    """Undo visible(): possible only because every escape reads one way."""
    return _ESCAPE.sub(
        lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1)[1:], 16)), shown
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("app@10.0.0.1\U000e0041\U000e0042", "app@10.0.0.1\\U000e0041\\U000e0042"),  # tag chars
        ("a\u200bb", "a\\u200bb"),  # a real zero-width space
        ("a\\u200bb", "a\\\\u200bb"),  # the six characters \u200b, not the same thing
        ("x\u00a0y", "x\\xa0y"),  # a non-space separator
        ("soft\u00adhyphen", "soft\\xadhyphen"),
        ("e\ufe0f", "e\\ufe0f"),  # variation selector
        ("cgj\u034f", "cgj\\u034f"),
        ("h\u115f\u1160", "h\\u115f\\u1160"),
        ("mongolian\u180e", "mongolian\\u180e"),
        ("filler\u3164\uffa0", "filler\\u3164\\uffa0"),
        ("braille\u2800", "braille\\u2800"),
        ("private\ue000", "private\\ue000"),
        ("unassigned\U000e0fff", "unassigned\\U000e0fff"),
        ("a\x1b]52;c;x\x07", "a\\x1b]52;c;x\\x07"),
        ("tab\there", "tab\\x09here"),
        ("plain café@h", "plain café@h"),
        ("[bold]red[/]", "[bold]red[/]"),  # markup is not ours to interpret, only to show
    ],
)
def test_what_does_not_show_itself_is_escaped(text: str, shown: str) -> None:
    assert visible(text) == shown


@settings(deadline=None, max_examples=500)
@given(st.text())
def test_every_text_reads_back_exactly_from_what_is_shown(text: str) -> None:
    assert read_back(visible(text)) == text


def test_a_cut_is_marked() -> None:
    assert visible("abcdef", 4) == "abc…"


def test_names_that_mix_scripts_are_confusable() -> None:
    assert mixed_scripts("\u0430pp@10.0.0.1")  # Cyrillic а
    assert mixed_scripts("\u03bfk@host")  # Greek ο
    assert not mixed_scripts("app@10.0.0.1")
    assert not mixed_scripts("café@héte")
    assert not mixed_scripts("приложение@хост")
    assert mixed_scripts("\uff41pp@host")  # a fullwidth ａ
    assert not mixed_scripts("漢字@h")  # no letter of one passes for the other's
