"""The details of one node: its full name, every sender, what was learned, its recent history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from pgcluster_tui.core.events import SenderAttributed
from pgcluster_tui.core.format import GLYPHS, clock_time, format_age, format_seconds, plural
from pgcluster_tui.core.membership import Membership, NodeView
from pgcluster_tui.core.text import mixed_scripts
from pgcluster_tui.tui.doctoring import Checked, Doctoring, verdict
from pgcluster_tui.tui.history import ENTRIES, History, NodeEvent, entry
from pgcluster_tui.tui.text import cells

REFRESH_SECONDS = 1.0
"""How often the open details read the model again."""


@dataclass(frozen=True, slots=True)
class NodeDetails:
    """What the details show of one node at one instant."""

    name: str
    now: float
    view: NodeView | None
    """None once the node is no longer tracked (forgotten or evicted)."""
    senders: Sequence[tuple[int, SenderAttributed | None]] = ()
    history: Sequence[NodeEvent] = ()
    checked: Checked | None = None
    """The node's last doctor report, if it was checked."""
    checking: bool = False


def node_details(
    model: Membership,
    history: History,
    clock: Callable[[], float],
    name: str,
    doctoring: Doctoring | None = None,
) -> NodeDetails:
    """What the details show of a node now."""
    now = clock()
    view = model.view(name, now) if name in model else None
    senders = [(pid, model.sender(pid)) for pid in (view.pids if view else ())]
    if doctoring is None:
        return NodeDetails(name, now, view, senders, history.of(name))
    checking = name in doctoring.running
    return NodeDetails(name, now, view, senders, history.of(name), doctoring.last(name), checking)


def _text(value: str, style: str = "") -> Text:
    # Untrusted: literal, escaped, and folded anywhere so that nothing is ever cut.
    return Text(cells(value), style=style, overflow="fold")


def flags(v: NodeView) -> list[str]:
    """What is unusual about a node, in words."""
    out: list[str] = []
    if v.is_self:
        out.append("our own node")
    if v.duplicate:
        out.append("DUPLICATE: two backends send this name")
    if mixed_scripts(v.name):
        out.append("CONFUSABLE: its letters mix scripts, so it can pass for another name")
    if v.claimed_by_other:
        out.append("OUR NAME is also sent by a backend that is not ours")
    if v.churning:
        out.append("churning: its sender opens a new session for every beat")
    if v.sessions:
        out.append(f"restarted {plural(v.sessions, 'time')} (a new backend after a closed one)")
    return out


def render_details(d: NodeDetails) -> RenderableType:
    """The details as one renderable; every outside string goes in literally."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("Node", _text(d.name))
    v = d.view
    if v is None:
        grid.add_row("State", Text("no longer tracked (forgotten, or evicted over the node cap)"))
    else:
        state = Text(f"{GLYPHS[v.state]} {v.state.value}", style="bold")
        state.append(f" since {clock_time(v.state_since)} ({format_age(d.now - v.state_since)})")
        grid.add_row("State", state)
        grid.add_row(
            "Heartbeat",
            Text(
                f"last {format_age(v.age)} ago · {plural(v.beats, 'beat')} · "
                f"joined {clock_time(v.first_seen)}"
            ),
        )
        if v.interval_estimated:
            interval = f"{v.interval:.2f}s learned, jitter ±{v.jitter:.2f}s"
        else:
            interval = f"{format_seconds(v.interval)}s configured (not learned yet)"
        grid.add_row("Interval", Text(interval))
        grid.add_row(
            "φ",
            Text(
                f"{min(v.phi, 99.9):.1f} · late after {format_age(v.late_after)}, suspect after "
                f"{format_age(v.suspect_after)}, stale after {format_age(v.stale_after)}"
            ),
        )
        grid.add_row("Flags", _text("; ".join(flags(v)) or "none"))
    grid.add_row("Senders", _senders(d.senders))
    grid.add_row("Doctor", _doctor(d))
    return Group(grid, Text(""), Text(f"History (last {ENTRIES})", style="bold"), _history(d))


def _senders(senders: Sequence[tuple[int, SenderAttributed | None]]) -> RenderableType:
    if not senders:
        return Text("none heard recently")
    table = Table("pid", "address", "application", "user", "backend start", box=None)
    table.padding = (0, 1, 0, 0)
    for pid, who in senders:
        if who is None:
            table.add_row(Text(str(pid)), Text("not looked up yet", style="dim"))
            continue
        row = (who.client_addr, who.application_name, who.usename, who.backend_start)
        table.add_row(Text(str(pid)), *(_text(part) for part in row))
    return table


STEP_WORDS = {True: "ok", False: "FAIL", None: "skip"}


def _doctor(d: NodeDetails) -> RenderableType:
    checked = d.checked
    if checked is None:
        what = "checking…" if d.checking else "not checked"
        return Text(what, style="dim")
    report = checked.report
    head = Text(f"checked {clock_time(checked.at)}: ")
    head.append(cells(verdict(report)), style="bold")
    if d.checking:
        head.append(" · checking again…", style="dim")
    steps = Table.grid(padding=(0, 1))
    steps.add_column(no_wrap=True)
    steps.add_column(no_wrap=True)
    steps.add_column(overflow="fold")
    for step in report.steps:
        word = Text(STEP_WORDS[step.ok], style="" if step.ok else "bold")
        steps.add_row(word, Text(step.step.value), _text(step.detail))
    return Group(head, steps)


def _history(d: NodeDetails) -> RenderableType:
    if not d.history:
        return Text("nothing since the dashboard started", style="dim")
    lines = Table.grid(padding=(0, 2))
    lines.add_column(style="dim", no_wrap=True)
    lines.add_column(overflow="fold")
    for event in d.history:
        lines.add_row(Text(clock_time(event.at)), Text(entry(event)))
    return lines


class DetailsScreen(ModalScreen[None]):
    """One node in full; read again every second while open. Escape, enter or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Close", id="details_close"),
        # The app's doctor key, here too (a remap of its id moves both).
        Binding("D", "doctor", "Doctor", id="doctor"),
    ]

    def __init__(
        self,
        read: Callable[[], NodeDetails],
        doctor: Callable[[], object] | None = None,
        doctor_key: str = "D",
    ) -> None:
        super().__init__()
        self.read = read
        self.doctor = doctor
        self.doctor_key = doctor_key
        self.body = Static(id="details-body")

    def compose(self) -> ComposeResult:
        dialog = VerticalScroll(id="details-dialog")
        dialog.border_title = "Node details"
        closes = "escape, enter or q closes"
        runs = f" · {self.doctor_key} runs the doctor" if self.doctor else ""
        dialog.border_subtitle = Text(closes + runs)
        with dialog:
            yield self.body

    def on_mount(self) -> None:
        self.show()
        self.set_interval(REFRESH_SECONDS, self.show, name="details")
        self.query_one("#details-dialog").focus()

    def show(self) -> None:
        """Read the node again and show it."""
        self.body.update(render_details(self.read()))

    def action_close(self) -> None:
        """Close the details."""
        self.dismiss(None)

    def action_doctor(self) -> None:
        """Check whether a peer can connect to this node; the result shows here."""
        if self.doctor is not None:
            self.doctor()
            self.show()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.doctor is not None if action == "doctor" else True
