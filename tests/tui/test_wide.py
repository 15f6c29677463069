"""Wide and disputed characters: every cell padded by the width the terminal really draws."""

from __future__ import annotations

import re
from pathlib import Path

from rich.cells import cell_len

from pgcluster_tui.tui.text import cells
from tests.tui.terminal import measure, needs_tmux, tmux

DISPUTED = {
    "👍🏽": "👍\\U0001f3fd",  # a skin-tone modifier: 2 cells for Rich, 4 for tmux
    "1️⃣": "1\\ufe0f\\u20e3",  # a keycap
    "🇫🇷": "\\U0001f1eb\\U0001f1f7",  # a flag: 1, 2 or 4 cells depending on the terminal
    "का": "क\\u093e",  # a spacing vowel sign: 0 cells for Rich, 1 for tmux
    "👩🏻‍💻": "👩\\U0001f3fb\\u200d💻",  # a ZWJ sequence with a modifier
    "a\u3164b": "a\\u3164b",  # the Hangul filler that looks like a space
}

TIME = re.compile(r"\d\d:\d\d:\d\d")

AGREED = ["é", "e\u0301", "漢字", "Ａ", "각", "👍", "⌚", "[bold]ok@host"]
"""Characters every terminal draws as Rich measures them: shown as they are."""


def test_characters_terminals_disagree_on_are_escaped() -> None:
    for raw, escaped in DISPUTED.items():
        assert cells(raw) == escaped, raw
    for text in AGREED:
        assert cells(text) == text
    assert cells("a\x1b[2Jb\\") == "a\\x1b[2Jb\\\\", "what visible() escapes still is"


@needs_tmux
def test_tmux_draws_every_shown_name_as_wide_as_rich_measures_it(tmp_path: Path) -> None:
    samples = [cells(text) for text in [*DISPUTED, *AGREED]]
    assert measure(samples, tmp_path) == [cell_len(sample) for sample in samples]


@needs_tmux
def test_rows_with_emoji_names_keep_their_borders_in_tmux() -> None:
    names = [f"{raw}@10.0.0.{i}" for i, raw in enumerate(DISPUTED)]
    with tmux(["dashboard", *names], width=120, height=32) as pane:
        lines = pane.wait_for("@10.0.0.5")
        rows = [line for line in lines if line.startswith("│ ") and TIME.search(line)]
        assert len(rows) > len(names), "\n".join(lines)
        # After the last column's time only spaces, the scroll bar and the border: as many
        # cells on every row, unless a name took more cells than Rich padded it for.
        tails = {len(line.rstrip()) - list(TIME.finditer(line))[-1].end() for line in rows}
        assert len(tails) == 1, "\n".join(lines)
        pane.keys("q")
