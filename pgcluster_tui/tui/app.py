"""The dashboard: the membership model fed by the channel worker, shown as widgets."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.actions import ActionParseResult
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Footer, Input

from pgcluster_tui.core.events import Event, Fact, NodeState, iso
from pgcluster_tui.core.format import plural
from pgcluster_tui.core.link import LinkState
from pgcluster_tui.core.membership import Membership
from pgcluster_tui.core.monitor import Monitor, Update
from pgcluster_tui.core.protocol import ProtocolError
from pgcluster_tui.demo import DemoCluster
from pgcluster_tui.export import export_rows, write_export
from pgcluster_tui.pg.errors import WorkerError
from pgcluster_tui.settings import Settings
from pgcluster_tui.tui.alerts import Alerts
from pgcluster_tui.tui.frames import Frames
from pgcluster_tui.tui.history import History
from pgcluster_tui.tui.keys import BINDINGS, key_help, palette_commands
from pgcluster_tui.tui.messages import ChannelClosed
from pgcluster_tui.tui.screens.announce import AnnounceScreen
from pgcluster_tui.tui.screens.details import DetailsScreen, node_details
from pgcluster_tui.tui.screens.help import HelpScreen
from pgcluster_tui.tui.widgets.event_log import EventLog
from pgcluster_tui.tui.widgets.filter_bar import FilterBar
from pgcluster_tui.tui.widgets.node_cells import SORT_LABELS
from pgcluster_tui.tui.widgets.node_table import NodeTable
from pgcluster_tui.tui.widgets.status_line import STATUS_ONLY, Status, StatusLine, not_connected

GATED = ("announce", "forget", "forget_stale", "clear_filter")
"""The actions check_action enables by the state (announce_as and details follow two of them)."""

QUIT_GRACE = 1.2
"""Seconds the worker and the demo get to stop on quit (the whole quit stays under 2 s)."""


class PgClusterApp(App[int]):
    """Watch the cluster channel: who heartbeats, how fresh, who is junk; announce and forget."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "pgcluster-tui"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS: ClassVar[list[BindingType]] = list(BINDINGS)
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]  # noqa: RUF012 (Textual's own type)

    def __init__(
        self,
        settings: Settings,
        monitor: Monitor,
        *,
        demo: DemoCluster | None = None,
        embedded_dsn: str | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.monitor = monitor
        self.clock = monitor.clock
        self.embedded_dsn = embedded_dsn
        self.embedded = embedded_dsn is not None
        self.demo = demo
        self.table = NodeTable(id="nodes")
        self.table.border_title = "Nodes"
        self.events_log = EventLog(settings.log_size, id="events")
        self.events_log.border_title = "Events"
        self.status_line = StatusLine(id="status")
        self.filter_bar = FilterBar()
        self.paused = False
        self.frames = Frames(self, self._redraw_facts, self._redraw_status)
        self._abilities: tuple[object, ...] = ()
        self._stopped = False
        self._channel_error: str | None = None
        self.alerts = Alerts()
        self.history = History(settings.max_nodes)
        """Each node's recent events, for its details."""
        self._counts = self.model.counts()
        """The counts per state as the table shows them (held while paused)."""

    @property
    def model(self) -> Membership:
        """The membership model the monitor keeps."""
        return self.monitor.model

    @property
    def link(self) -> LinkState:
        """Our link to the server, as the monitor knows it."""
        return self.monitor.link

    # Layout

    def compose(self) -> ComposeResult:
        yield self.status_line
        yield self.filter_bar
        yield self.table
        yield self.events_log
        yield Footer()

    def on_mount(self) -> None:
        if self.settings.keys:
            self.set_keymap(self.settings.keys)
        self.table.focus()
        self._listen()
        if self.demo is not None:
            self.demo.start()
        self._redraw()

    @work(exclusive=True, group="channel", exit_on_error=False)
    async def _listen(self) -> None:
        error: str | None = None
        try:
            # Shown here, on the app's loop, not posted: a message per batch of plain
            # heartbeats would cost more than showing it.
            async for update in self.monitor.updates():
                self.show(update)
        except Exception as exc:  # the dashboard must say why data stopped, not die
            error = f"{type(exc).__name__}: {exc}"
        self.post_message(ChannelClosed(error))

    # What the monitor reports

    def show(self, update: Update) -> None:
        """Log what happened and ask for the frame it needs; a tick redraws ages too."""
        if self._torn_down():
            return
        events = update.events
        self._speak_up(events)
        self.events_log.add(events)
        self.history.add(events)
        if update.ticked:
            self._redraw()
        elif any(not isinstance(event, STATUS_ONLY) for event in events):
            # Plain beats change counts and ages only: the 1 Hz tick draws those.
            self.frames.want()
        elif events or update.repeats:
            self.frames.want(status_only=True)

    def replay(self, facts: Sequence[Fact]) -> None:
        """Apply recorded facts through the monitor, as if its source had sent them now."""
        self.show(Update(self.monitor.apply(facts)))

    def tick(self) -> None:
        """Age every node by the clock and redraw: what the monitor's 1 Hz tick does."""
        self.show(Update(self.monitor.tick(), ticked=True))

    def _speak_up(self, events: Sequence[Event]) -> None:
        for alert in self.alerts.raised(events):
            self.notify(alert.message, title=alert.title, severity=alert.severity, markup=False)

    def on_channel_closed(self, message: ChannelClosed) -> None:
        if self._torn_down():
            return
        if message.error is not None:
            self._channel_error = message.error
            self.events_log.note(self.clock(), f"the channel worker failed: {message.error}")
        self.frames.want()

    def _torn_down(self) -> bool:
        # On exit Textual removes the widgets while timers and messages still arrive.
        widgets = (self.table, self.events_log, self.status_line)
        return not all(widget.is_attached for widget in widgets)

    def _redraw_facts(self) -> None:
        if not self._torn_down():  # a frame's timer can fire while the app exits
            self._redraw(ages=False)

    def _redraw_status(self) -> None:
        if not self._torn_down():
            self.events_log.flush()
            self._show_status(self.clock())

    def _redraw(self, now: float | None = None, *, force: bool = False, ages: bool = True) -> None:
        started = time.monotonic()
        now = self.clock() if now is None else now
        self.events_log.flush()
        table = self.table
        if force or not self.paused:
            table.sync(self.model, now, ages=ages)
            self._counts = self.model.counts()
        self._show_status(now)
        self._refresh_abilities()
        self.frames.drawn(started)

    def _show_status(self, now: float) -> None:
        table, settings = self.table, self.settings
        status = Status(self.link, settings.channel_shown, settings.node, now, self._counts)
        status.paused, status.filter_text = self.paused, self.filter_bar.value
        status.sort_label, status.reverse = SORT_LABELS[table.sort_by], table.reverse
        status.embedded, status.failure = self.embedded, self._channel_error
        self.status_line.show(status)

    def _refresh_abilities(self) -> None:
        # Each call rebuilds the footer: only when what check_action says has changed.
        abilities = tuple(self.check_action(action, ()) for action in GATED)
        if abilities != self._abilities:
            self._abilities = abilities
            self.refresh_bindings()

    @on(NodeTable.Highlighted)
    def _selection_moved(self) -> None:
        self._refresh_abilities()

    @on(NodeTable.HeaderClicked)
    def _header_clicked(self, event: NodeTable.HeaderClicked) -> None:
        if self.table.sort_on(event.column):
            self._redraw_now()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("announce", "announce_as"):
            return True if self.link.phase == "connected" else None
        if action in ("forget", "details"):
            return True if self.table.selected_name is not None else None
        if action == "forget_stale":
            return True if self.model.counts()[NodeState.STALE] else None
        if action == "clear_filter":
            return bool(self.table.filter_words) or self.filter_bar.shown
        return True

    # Actions

    def action_announce(self) -> None:
        """Send our node name once."""
        self._announce(None)

    def action_announce_as(self) -> None:
        """Ask for a name, then send it once."""

        def chosen(name: str | None) -> None:
            if name:
                self._announce(name)

        self.push_screen(AnnounceScreen(self.settings.channel_shown, self.settings.node), chosen)

    @work(group="announce", exit_on_error=False)
    async def _announce(self, name: str | None) -> None:
        try:
            sent = await self.monitor.announce(name)
        except (WorkerError, ProtocolError) as exc:
            self.notify(str(exc), title="Not announced", severity="error", markup=False)
            return
        self.notify(f"Announced {sent}", markup=False)

    def action_forget(self) -> None:
        """Forget the selected node until it beats again."""
        name = self.table.selected_name
        if name is not None:
            self._record(self.monitor.forget(name))
            self._redraw_now()

    def action_forget_stale(self) -> None:
        """Forget every stale node."""
        forgotten = self.monitor.forget_stale()
        self._record(forgotten)
        self.notify(f"Forgot {plural(len(forgotten), 'stale node')}", markup=False)
        self._redraw_now()

    def _record(self, events: Sequence[Event]) -> None:
        self.events_log.add(events)
        self.history.add(events)

    def action_details(self) -> None:
        """Show the selected node in full."""
        name = self.table.selected_name
        if name is not None:
            read = partial(node_details, self.model, self.history, self.clock, name)
            self.push_screen(DetailsScreen(read))

    def action_toggle_heartbeat(self) -> None:
        """Switch between observing and heartbeating."""
        on = not self.link.heartbeat
        self.monitor.set_heartbeat(on)
        mode = "heartbeating every" if on else "observing; was heartbeating every"
        self.events_log.note(self.clock(), f"{mode} {self.settings.interval:g}s")
        self.frames.want()

    def action_filter(self) -> None:
        """Show the filter field and focus it."""
        self.filter_bar.open()
        self._refresh_abilities()

    def action_clear_filter(self) -> None:
        """Clear and hide the filter."""
        self.filter_bar.close()
        self.table.set_filter("")
        self.table.focus()
        self._redraw_now()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)
        self._redraw_now()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def action_sort(self) -> None:
        """Sort by the next column."""
        self.table.next_sort()
        self._redraw_now()

    def action_reverse(self) -> None:
        """Reverse the sort order."""
        self.table.reverse = not self.table.reverse
        self._redraw_now()

    def action_pause(self) -> None:
        """Freeze or resume the view; the model keeps taking data."""
        self.paused = not self.paused
        self.events_log.hold(self.paused)
        self._redraw()

    def action_clear_log(self) -> None:
        """Clear the event log."""
        self.events_log.clear()

    def action_export(self) -> None:
        """Write the table as shown to JSON and CSV in the export directory."""
        try:
            count, paths = self.export(self.settings.export_dir)
        except OSError as exc:
            self.notify(str(exc), title="Export failed", severity="error", markup=False)
            return
        shown = ", ".join(str(p) for p in paths)
        self.notify(f"Exported {plural(count, 'node')} to {shown}", markup=False)

    def action_help(self) -> None:
        """Show the keys and the states."""
        join = f"pgcluster-tui --dsn '{self.embedded_dsn}'" if self.embedded_dsn else None
        self.push_screen(HelpScreen(self.key_help(), self.settings.thresholds(), join))

    async def action_quit(self) -> None:
        """Stop the worker and the demo (bounded), then exit."""
        await self.shutdown()
        self.exit(0)

    def _redraw_now(self) -> None:
        # A user action redraws the table at once, even while paused, so the key visibly acts.
        self._redraw(force=True)

    # Export

    def export(self, directory: Path) -> tuple[int, tuple[Path, Path]]:
        """Write the table as shown (filter and order) as `pgcluster-nodes-<time>.json` and
        `.csv`, one row per node as `nodes --json` has it; return the count and both paths."""
        rows = export_rows(self.model, self.table.order, self.table.now)
        now, settings = self.clock(), self.settings
        header = {"exported_at": iso(now), "channel": settings.channel_shown, "node": settings.node}
        return len(rows), write_export(rows, directory, now, header)

    # Keys, help and the command palette

    def key_help(self) -> list[tuple[str, str]]:
        """(keys as bound now, description) for every dashboard key."""
        return key_help(self.settings.keys, self.get_key_display)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette_commands(self)

    async def run_action(self, action: str | ActionParseResult, *args: Any, **kwargs: Any) -> bool:
        done = await super().run_action(action, *args, **kwargs)
        if not done and action in ("announce", "announce_as"):
            # Greyed in the footer, but a key press must still say why nothing happens.
            self.notify(not_connected(self.link), title="Not announced", severity="warning")
        return done

    # Shutdown

    async def shutdown(self) -> None:
        """Stop the demo peers and the worker, within about QUIT_GRACE seconds."""
        if self._stopped:
            return
        self._stopped = True
        stops = [self.monitor.stop(grace=QUIT_GRACE - 0.4)]
        if self.demo is not None:
            stops.append(self.demo.stop(grace=QUIT_GRACE - 0.4))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*stops), timeout=QUIT_GRACE)

    async def on_unmount(self) -> None:
        await self.shutdown()
