"""The dashboard's keys: every one a Binding with a stable id, a description and a help line."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding

BINDINGS: tuple[Binding, ...] = (
    Binding("question_mark", "help", "Help", id="help"),
    Binding("q", "quit", "Quit", id="quit"),
    Binding("a", "announce", "Announce", id="announce", tooltip="Send our node name now"),
    Binding("A", "announce_as", "Announce as…", id="announce_as"),
    Binding("enter", "details", "Details", id="details"),
    Binding("D", "doctor", "Doctor", id="doctor", tooltip="Can a peer connect to this node?"),
    Binding("ctrl+d", "doctor_all", "Doctor all", show=False, id="doctor_all"),
    Binding("C", "census", "Census", id="census"),
    Binding("f,delete", "forget", "Forget", id="forget"),
    Binding("F", "forget_stale", "Forget stale", show=False, id="forget_stale"),
    Binding("h", "toggle_heartbeat", "Heartbeat", id="heartbeat"),
    Binding("slash", "filter", "Filter", id="filter"),
    Binding("escape", "clear_filter", "Clear filter", id="clear_filter"),
    Binding("s", "sort", "Sort", id="sort"),
    Binding("S", "reverse", "Reverse", show=False, id="reverse"),
    Binding("p", "pause", "Pause", id="pause"),
    Binding("c", "clear_log", "Clear log", show=False, id="clear_log"),
    Binding("e", "export", "Export", id="export"),
    Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="quit_now"),
)
"""Every key of the dashboard, in the order the footer shows them: help and quit first, so that
a narrow terminal never cuts them off."""

COMMANDS_HELP: dict[str, str] = {
    "announce": "Send our node name on the channel once, now",
    "announce_as": "Send any valid node name once (every node will try to connect to it)",
    "details": "Show the selected node in full: every sender, what was learned, its history",
    "doctor": "Can a peer connect to the selected node? (resolve, EPMD, TCP, cookie)",
    "doctor_all": "Run the doctor on every node the table shows (the filter narrows it)",
    "forget": "Remove the selected node until it beats again",
    "forget_stale": "Remove every stale node",
    "toggle_heartbeat": "Switch between observing and heartbeating as a peer",
    "filter": "Show only nodes whose name or state matches",
    "clear_filter": "Show every node again",
    "sort": "Sort by the next column",
    "reverse": "Reverse the sort order",
    "pause": "Freeze the view (data keeps flowing in) or resume it",
    "clear_log": "Remove every line from the event log",
    "export": "Write the table as shown (filter and order) to JSON and CSV",
    "census": "Who listens and sends where, server-wide; choose a channel to watch",
    "help": "Show the keys and what each state means",
}
"""What each action does, for the help screen and the command palette."""


Display = Callable[[Binding], str]


def dashboard_bindings() -> list[Binding]:
    """The bindings a user sees and may remap (not the hidden ctrl+c twin of quit), help and
    quit last as the help screen and the README list them."""
    shown = [binding for binding in BINDINGS if binding.id != "quit_now"]
    return sorted(shown, key=lambda binding: binding.id in ("help", "quit"))


def binding_ids() -> set[str]:
    """The ids `settings.keys` may remap."""
    return {binding.id for binding in BINDINGS if binding.id}


def shown_keys(binding: Binding, remaps: Mapping[str, str], display: Display) -> str:
    """The keys of a binding as bound now, as the footer shows them."""
    keys = remaps.get(binding.id or "", binding.key)
    return ", ".join(
        display(dataclasses.replace(binding, key=key.strip())) for key in keys.split(",")
    )


def keys_of(binding_id: str, remaps: Mapping[str, str], display: Display) -> str:
    """The keys a dashboard binding has now, as shown."""
    binding = next(b for b in BINDINGS if b.id == binding_id)
    return shown_keys(binding, remaps, display)


def key_help(remaps: Mapping[str, str], display: Display) -> list[tuple[str, str]]:
    """(keys as bound now, description) for every dashboard key."""
    out: list[tuple[str, str]] = []
    for binding in dashboard_bindings():
        shown = shown_keys(binding, remaps, display)
        if binding.id == "quit":
            shown += ", ctrl+c"
        out.append((shown, COMMANDS_HELP.get(binding.action, binding.description)))
    return out


def palette_commands(app: App[Any]) -> Iterator[SystemCommand]:
    """The command palette's entry for every dashboard action the app can do now (not quit)."""
    for binding in dashboard_bindings():
        if binding.action == "quit" or app.check_action(binding.action, ()) is not True:
            continue
        yield SystemCommand(
            binding.description,
            COMMANDS_HELP.get(binding.action, binding.description),
            partial(app.run_action, binding.action),
        )
