"""The help panel: the keys as currently bound, and what each node state means.

It lies over the table in the main screen rather than opening a screen of its own: pushing and
popping a modal screen restyles and repaints every widget, a visible wait under load."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from pgcluster_tui.core.events import NodeState
from pgcluster_tui.core.format import GLYPHS
from pgcluster_tui.core.membership import Thresholds
from pgcluster_tui.tui.text import cells


def state_meanings(t: Thresholds) -> list[tuple[NodeState, str]]:
    """One sentence per state, with the configured thresholds."""
    return [
        (NodeState.NEW, "heard once; its interval is not known yet"),
        (NodeState.ALIVE, f"heartbeat within {t.late:g} of its intervals"),
        (NodeState.LATE, f"silent for over {t.late:g} intervals"),
        (NodeState.SUSPECT, f"silent for over {t.suspect:g} intervals"),
        (NodeState.STALE, f"silent for over {t.stale:g} intervals: probably gone"),
    ]


DOCTOR_MARKS = Text(
    "The doctor marks a node's senders: ✓ a peer can connect, ✓? reachable but the cookie was "
    "not checked (none configured), ✗ and the step that failed, ⋯ being checked. It probes "
    "only on its keys, only port 4369 and the port EPMD gives, never a name that is not "
    "name@host with a plain host."
)


class HelpPanel(VerticalScroll):
    """Keys and states over the table; any of escape, ? or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help_close"),
    ]

    def __init__(
        self, keys: Sequence[tuple[str, str]], thresholds: Thresholds, join: str | None = None
    ) -> None:
        super().__init__(id="help-dialog")
        self.keys = keys
        self.thresholds = thresholds
        self.join = join
        self.border_title = "Help"
        self.border_subtitle = "escape, ? or q closes"

    class Closed(Message):
        """The user closed the help."""

    def compose(self) -> ComposeResult:
        keys = Table.grid(padding=(0, 2))
        keys.add_column(style="bold", no_wrap=True)
        keys.add_column()
        for key, description in self.keys:
            keys.add_row(Text(key), Text(description))
        states = Table.grid(padding=(0, 2))
        states.add_column(no_wrap=True)
        states.add_column()
        for state, meaning in state_meanings(self.thresholds):
            states.add_row(Text(f"{GLYPHS[state]} {state.value}"), Text(meaning))
        intro = Text(
            "An interval is each node's own mean gap between heartbeats, learned from its "
            f"beats ({self.thresholds.interval:g}s assumed until then, marked (cfg)). φ is the "
            "phi-accrual suspicion: above 8 a node is very probably gone.",
        )
        yield Static(Text("Keys", style="bold"), classes="help-heading")
        yield Static(keys)
        yield Static(Text("Node states", style="bold"), classes="help-heading", id="help-states")
        yield Static(states)
        yield Static(intro, id="help-intro")
        yield Static(DOCTOR_MARKS, id="help-doctor")
        if self.join is not None:
            join = Text("This is a private embedded server. Join it with: ")
            join.append(cells(self.join), style="bold")
            yield Static(join, id="help-join")

    def action_close(self) -> None:
        """Close the help."""
        self.post_message(self.Closed())
