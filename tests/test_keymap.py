"""The key table the command line checks without Textual is the one the dashboard binds."""

from __future__ import annotations

from pgcluster_tui.keymap import KEY_DEFAULTS, keymap_problem
from pgcluster_tui.tui.keys import BINDINGS


def test_the_headless_key_table_matches_the_dashboard_bindings() -> None:
    assert {b.id: b.key for b in BINDINGS} == KEY_DEFAULTS


def test_a_remap_may_swap_keys_but_never_give_one_key_two_actions() -> None:
    assert keymap_problem({"announce": "n"}) is None
    assert keymap_problem({"sort": "p", "pause": "s"}) is None
    assert keymap_problem({"announce": "h"}) == (
        "invalid setting keys: 'h' would be both 'announce' and 'heartbeat'"
    )
    assert keymap_problem({"forget": "x, "}) == "invalid setting keys: an empty key for 'forget'"
