"""The dashboard's base: the monitor's model and link shown as widgets, and its life cycle."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.driver import Driver
from textual.screen import Screen
from textual.widget import Widget

from pgcluster_tui import runtime
from pgcluster_tui.core.events import (
    DuplicateNameCleared,
    DuplicateNameDetected,
    Event,
    Fact,
    NodeJoined,
    NodeReincarnated,
)
from pgcluster_tui.core.format import confirms
from pgcluster_tui.core.link import LinkState
from pgcluster_tui.core.membership import Membership
from pgcluster_tui.core.monitor import Monitor, Update
from pgcluster_tui.demo import DemoCluster
from pgcluster_tui.diagnose import Mask
from pgcluster_tui.settings import Settings
from pgcluster_tui.tui.alerts import Alerts
from pgcluster_tui.tui.compositor import BandedScreen
from pgcluster_tui.tui.doctoring import Doctoring
from pgcluster_tui.tui.driver import driver_class
from pgcluster_tui.tui.frames import Frames
from pgcluster_tui.tui.history import History
from pgcluster_tui.tui.messages import ChannelClosed, ChannelStopped
from pgcluster_tui.tui.widgets.event_log import EventLog
from pgcluster_tui.tui.widgets.filter_bar import FilterBar
from pgcluster_tui.tui.widgets.footer import Footer
from pgcluster_tui.tui.widgets.node_cells import SORT_LABELS
from pgcluster_tui.tui.widgets.node_table import NodeTable
from pgcluster_tui.tui.widgets.status_line import (
    STATUS_ONLY,
    Status,
    StatusLine,
    worth_a_frame,
)

ROW_EVENTS = (NodeJoined, NodeReincarnated, DuplicateNameDetected, DuplicateNameCleared)
"""Events that put a row on screen or change what it says of the node's identity: drawn
within a frame period when their row is on screen. Recoveries, junk and the link's events
wait for the slower SOON_SECONDS; ages, plain beats and new nodes turning alive for the 1 Hz
tick."""

GATED = ("announce", "forget", "forget_stale", "clear_filter", "doctor", "doctor_all", "census")
"""The actions check_action enables by the state (announce_as and details follow two of them)."""

QUIT_GRACE = 1.2
"""Seconds the worker and the demo get to stop on quit (the whole quit stays under 2 s)."""


class Dashboard(App[int]):
    """The monitor's model and link as widgets, fed on the app's loop; keys come with the app."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "pgcluster-tui"
    ENABLE_COMMAND_PALETTE = True

    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]  # noqa: RUF012 (Textual's own type)

    def __init__(
        self,
        settings: Settings,
        monitor: Monitor,
        *,
        demo: DemoCluster | None = None,
        embedded_dsn: str | None = None,
        conninfo: str | None = None,
        monitor_for: Callable[[Settings], Monitor] | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.monitor = monitor
        self.conninfo = conninfo
        """Where the census reads from (None: no census, e.g. a replay)."""
        self.monitor_for = monitor_for
        """Builds the monitor of another channel (None: the channel cannot be switched)."""
        self.mask = Mask(settings)
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
        self.frames = Frames(self, self._redraw_facts, self._redraw_rows, self._redraw_status)
        self._abilities: tuple[object, ...] = ()
        self._stopped = False
        self._channel_error: str | None = None
        self.alerts = Alerts()
        self.history = History(settings.max_nodes)
        """Each node's recent events, for its details."""
        self._counts = self.model.counts()
        """The counts per state as the table shows them (held while paused)."""
        self.doctoring = Doctoring(settings.cookie, settings.max_nodes)
        self.table.cells.marks = self.doctoring.mark
        self._switching = False
        self._row_names: set[str] = set()
        """Nodes whose rows changed by more than a beat since the last frame (ROW_EVENTS)."""

    @property
    def model(self) -> Membership:
        """The membership model the monitor keeps."""
        return self.monitor.model

    @property
    def link(self) -> LinkState:
        """Our link to the server, as the monitor knows it."""
        return self.monitor.link

    @property
    def channel_shown(self) -> str:
        """The channel watched, as output may show it: masked when it is the cookie."""
        return self.mask(self.settings.channel)

    def get_driver_class(self) -> type[Driver]:
        return driver_class(super().get_driver_class())

    def get_default_screen(self) -> Screen[object]:
        return BandedScreen(id="_default")

    # Layout

    def compose(self) -> ComposeResult:
        yield self.status_line
        yield self.filter_bar
        with Vertical(id="table-area"):
            yield self.table
            yield from self.over_table()
        yield self.events_log
        yield Footer()

    def over_table(self) -> Iterable[Widget]:
        """Widgets laid over the table when shown (none here)."""
        return ()

    def on_mount(self) -> None:
        if self.settings.keys:
            self.set_keymap(self.settings.keys)
        self.table.focus()
        self._listen()
        if self.demo is not None:
            self.demo.start()
        self._redraw()
        self.call_after_refresh(runtime.settled)

    @work(exclusive=True, group="channel", exit_on_error=False)
    async def _listen(self) -> None:
        monitor, error = self.monitor, None
        try:
            # Shown here, on the app's loop, not posted: a message per batch of plain
            # heartbeats would cost more than showing it.
            async for update in monitor.updates():
                self.show(update)
        except Exception as exc:  # the dashboard must say why data stopped, not die
            error = f"{type(exc).__name__}: {exc}"
        self.post_message(ChannelClosed(error, monitor))

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
        elif rows := [event.node for event in events if isinstance(event, ROW_EVENTS)]:
            self._row_names.update(rows)
            self.frames.want()
        elif any(not isinstance(event, STATUS_ONLY) and not confirms(event) for event in events):
            # Plain beats change counts and ages only, and so does a new node's second beat:
            # the 1 Hz tick draws those.
            self.frames.want(soon=True)
        elif update.repeats or any(worth_a_frame(event) for event in events):
            # A probe's round trip, the queue's usage: idle work the tick shows soon enough.
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
        if self._torn_down() or message.monitor is not self.monitor:
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

    def _redraw_rows(self) -> bool:
        """Show the model in the table alone; if a row on screen changed, draw the whole frame."""
        if self._torn_down() or self.paused:
            return False
        if not self.table.shows_change(self.model, self._row_names):
            return False
        self._redraw(ages=False)
        return True

    def _redraw_status(self) -> None:
        if not self._torn_down():
            self.events_log.flush()
            self._show_status(self.clock())

    def _redraw(self, now: float | None = None, *, force: bool = False, ages: bool = True) -> None:
        started = time.monotonic()
        now = self.clock() if now is None else now
        if force or not self.paused:
            self.table.sync(self.model, now, ages=ages)
            self._counts = self.model.counts()
        self._redraw_rest(now, started)

    def _redraw_rest(self, now: float, started: float) -> None:
        """Everything but the table: the log's new lines, the status line, the key bar."""
        self._row_names.clear()
        self.events_log.flush()
        self._show_status(now)
        self._refresh_abilities()
        self.frames.drawn(started)

    def _show_status(self, now: float) -> None:
        table, settings = self.table, self.settings
        status = Status(self.link, self.channel_shown, settings.node, now, self._counts)
        status.paused, status.filter_text = self.paused, self.filter_bar.value
        status.sort_label, status.reverse = SORT_LABELS[table.sort_by], table.reverse
        status.embedded, status.failure = self.embedded, self._channel_error
        status.untracked = self.model.untracked
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

    def _redraw_now(self) -> None:
        # A user action redraws the table at once, even while paused, so the key visibly acts.
        self._redraw(force=True)

    # Watching another channel

    def switch_channel(self, channel: str) -> None:
        """Stop the monitor (bounded), then watch `channel` from scratch, observing."""
        if self.monitor_for is None or self._switching or channel == self.settings.channel:
            return
        self._switching = True
        self._refresh_abilities()
        self._stop_monitor(self.monitor, channel)

    @work(group="switch", exit_on_error=False)
    async def _stop_monitor(self, monitor: Monitor, channel: str) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(monitor.stop(grace=QUIT_GRACE - 0.4), timeout=QUIT_GRACE)
        self.post_message(ChannelStopped(channel))

    def on_channel_stopped(self, message: ChannelStopped) -> None:
        if self._torn_down() or self._stopped or self.monitor_for is None:
            return
        was = self.channel_shown
        # Never heartbeat on a channel just chosen: every node there would try to connect to us.
        self.settings = self.settings.with_channel(message.channel).model_copy(
            update={"heartbeat": False}
        )
        self.monitor = self.monitor_for(self.settings)
        self.clock = self.monitor.clock
        self.history, self.alerts = History(self.settings.max_nodes), Alerts()
        self._channel_error, self._switching, self.paused = None, False, False
        self.doctoring.forget()
        self.table.reset()
        self.events_log.clear()
        self.events_log.hold(False)
        self.events_log.note(
            self.clock(),
            f"watching channel {self.channel_shown} now (was {was}), observing: the table, "
            "history and log start fresh",
        )
        self._listen()
        self._redraw_now()

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
