"""The announce-as dialog: send any valid node name once, after saying what it will cause."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from pgcluster_tui.core.protocol import ProtocolError, validate_node_name
from pgcluster_tui.tui.text import cells


def problem(candidate: str) -> str | None:
    """Why libcluster nodes could not take this name, or None if they can."""
    try:
        validate_node_name(candidate)
    except ProtocolError as exc:
        return str(exc)
    return None


class AnnounceScreen(ModalScreen[str | None]):
    """Ask for a node name, validate it as libcluster nodes need, and return it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="announce_cancel"),
    ]

    def __init__(self, channel: str, default: str) -> None:
        super().__init__()
        self.channel = channel
        self.default = default

    def compose(self) -> ComposeResult:
        warning = Text()
        warning.append("Every libcluster node on channel ")
        warning.append(cells(self.channel), style="bold")
        warning.append(
            " will try to connect to this name. A name nobody answers to makes every "
            "node log a failed connection attempt."
        )
        with Vertical(id="announce-dialog"):
            yield Static(Text("Announce as…", style="bold"), id="announce-title")
            yield Static(warning, id="announce-warning")
            yield Input(value=self.default, placeholder="name@host", id="announce-name")
            yield Static(Text(""), id="announce-problem")
            with Horizontal(id="announce-buttons"):
                yield Button("Announce", variant="primary", id="announce-send")
                yield Button("Cancel", id="announce-cancel")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show(problem(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "announce-send":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        """Close without sending."""
        self.dismiss(None)

    def _submit(self) -> None:
        name = self.query_one("#announce-name", Input).value
        reason = problem(name)
        if reason is not None:
            self._show(reason)
            self.query_one("#announce-name", Input).focus()
            return
        self.dismiss(name)

    def _show(self, reason: str | None) -> None:
        widget = self.query_one("#announce-problem", Static)
        widget.set_class(reason is not None, "-invalid")
        widget.update(Text(cells(reason)) if reason else Text("✓ a valid node name"))
