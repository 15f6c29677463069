"""The filter bar: words in the name or a state, shown on demand above the table."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label


class FilterBar(Horizontal):
    """A one-line field whose words filter the node table; hidden until asked for."""

    def __init__(self) -> None:
        super().__init__(id="filter-bar")
        self.field = Input(placeholder="words in the name, or a state: late, stale…", id="filter")

    def compose(self) -> ComposeResult:
        yield Label("Filter", id="filter-label")
        yield self.field

    @property
    def shown(self) -> bool:
        """Whether the bar is on screen."""
        return self.has_class("-shown")

    @property
    def value(self) -> str:
        """The filter as typed."""
        return self.field.value

    def open(self) -> None:
        """Show the bar and put the cursor in it."""
        self.add_class("-shown")
        self.field.focus()

    def close(self) -> None:
        """Clear and hide the bar."""
        self.field.value = ""
        self.remove_class("-shown")
