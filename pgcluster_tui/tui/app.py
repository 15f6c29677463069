"""The dashboard: its keys and what they do, over the monitor shown by the base."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.actions import ActionParseResult
from textual.app import SystemCommand
from textual.binding import BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input

from pgcluster_tui.core.events import Event, NodeState, iso
from pgcluster_tui.core.format import plural
from pgcluster_tui.core.protocol import ProtocolError
from pgcluster_tui.export import export_rows, write_export
from pgcluster_tui.pg.census import read_activity
from pgcluster_tui.pg.errors import WorkerError
from pgcluster_tui.tui.dashboard import Dashboard
from pgcluster_tui.tui.doctoring import ALL_AT_MOST, verdict
from pgcluster_tui.tui.keys import BINDINGS, key_help, keys_of, palette_commands
from pgcluster_tui.tui.messages import DoctorReported
from pgcluster_tui.tui.screens.announce import AnnounceScreen
from pgcluster_tui.tui.screens.census import CensusScreen, named_database
from pgcluster_tui.tui.screens.details import DetailsScreen, node_details
from pgcluster_tui.tui.text import cells
from pgcluster_tui.tui.widgets.help_panel import HelpPanel
from pgcluster_tui.tui.widgets.status_line import not_connected

__all__ = ["PgClusterApp"]


class PgClusterApp(Dashboard):
    """Watch the cluster channel: who heartbeats, how fresh, who is junk; announce and forget."""

    BINDINGS: ClassVar[list[BindingType]] = list(BINDINGS)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("announce", "announce_as"):
            return True if self.link.phase == "connected" else None
        if action in ("forget", "details"):
            return True if self.table.selected_name is not None else None
        if action == "forget_stale":
            return True if self.model.counts()[NodeState.STALE] else None
        if action == "clear_filter":
            return bool(self.table.filter_words) or self.filter_bar.shown
        if action in ("doctor", "doctor_all", "census"):
            return True if self._cannot(action) is None else None
        return True

    def _cannot(self, action: str) -> str | None:
        """Why the doctor or the census cannot run now, if so."""
        if action == "census":
            if self.conninfo is None:
                return "This dashboard has no database to read a census from."
            return "Switching channels: wait a moment." if self._switching else None
        if self.doctoring.problem is not None:
            return self.doctoring.problem
        if action == "doctor_all":
            return None if self.table.order else "No node is shown."
        name = self.table.selected_name
        if name is None:
            return "No node is selected."
        return f"Already checking {name}." if name in self.doctoring.running else None

    # Actions

    def action_announce(self) -> None:
        """Send our node name once."""
        self._announce(None)

    def action_announce_as(self) -> None:
        """Ask for a name, then send it once."""

        def chosen(name: str | None) -> None:
            if name:
                self._announce(name)

        self.push_screen(AnnounceScreen(self.channel_shown, self.settings.node), chosen)

    @work(group="announce", exit_on_error=False)
    async def _announce(self, name: str | None) -> None:
        try:
            sent = await self.monitor.announce(name)
        except (WorkerError, ProtocolError) as exc:
            self.notify(str(exc), title="Not announced", severity="error", markup=False)
            return
        self.notify(f"Announced {cells(sent)}", markup=False)

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
            read = partial(node_details, self.model, self.history, self.clock, name, self.doctoring)
            check = partial(self.doctor, [name]) if self.doctoring.doctor is not None else None
            key = keys_of("doctor", self.settings.keys, self.get_key_display)
            self.push_screen(DetailsScreen(read, check, key))

    # The doctor: only on a key, paced and bounded by the one Doctor

    def action_doctor(self) -> None:
        """Check whether a peer can connect to the selected node."""
        name = self.table.selected_name
        if name is not None:
            self.doctor([name])

    def action_doctor_all(self) -> None:
        """Check every node the table shows, at most ALL_AT_MOST a press."""
        order = self.table.order
        started = self.doctor(order[:ALL_AT_MOST])
        more = (
            f", the first {ALL_AT_MOST} of {len(order)} shown" if len(order) > ALL_AT_MOST else ""
        )
        self.notify(f"Doctor: checking {plural(len(started), 'node')}{more}", markup=False)

    def doctor(self, names: Sequence[str]) -> list[str]:
        """Start checking these nodes (not those being checked); return the ones started."""
        if self.doctoring.doctor is None:
            return []
        started = self.doctoring.start(names)
        if started:
            self._doctor(started)
            self._redraw_now()
        return started

    @work(group="doctor", exit_on_error=False)
    async def _doctor(self, names: list[str]) -> None:
        doctor = self.doctoring.doctor
        assert doctor is not None

        async def check(name: str) -> None:
            try:
                report = await doctor.check(name)
            except Exception as exc:  # a broken check must end, or its node stays "checking"
                self.post_message(DoctorReported(name, None, f"{type(exc).__name__}: {exc}"))
            else:
                self.post_message(DoctorReported(name, report))

        await asyncio.gather(*(check(name) for name in names))

    def on_doctor_reported(self, message: DoctorReported) -> None:
        if self._torn_down():
            return
        now, report = self.clock(), message.report
        self.doctoring.done(message.name, report, now)
        said = verdict(report) if report is not None else f"the check broke: {message.error}"
        self.events_log.note(now, f"{'doctor':<10} {message.name} {said}")
        self._redraw_now()
        if isinstance(self.screen, DetailsScreen):
            self.screen.show()

    # The census, and watching another channel

    def action_census(self) -> None:
        """Show who listens and who sends on which channel; choosing one watches it."""
        if self.conninfo is None:
            return

        def chosen(channel: str | None) -> None:
            if channel is not None:
                self.switch_channel(channel)

        settings, conninfo = self.settings, self.conninfo
        read = partial(
            read_activity,
            conninfo,
            timeout=settings.connect_timeout,
            application_name=settings.application_name,
        )
        screen = CensusScreen(settings, read, lambda: self.link, named_database(conninfo))
        self.push_screen(screen, chosen)

    def action_toggle_heartbeat(self) -> None:
        """Switch between observing and heartbeating."""
        on = not self.link.heartbeat
        self.monitor.set_heartbeat(on)
        mode = "heartbeating every" if on else "observing; was heartbeating every"
        self.events_log.note(self.clock(), f"{mode} {self.settings.interval:g}s")
        self.frames.want(status_only=True)

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
        """Show the keys and the states over the table, or hide them."""
        self._show_help(not self.help_panel.display)

    @on(HelpPanel.Closed)
    def _help_closed(self) -> None:
        self._show_help(False)

    def _show_help(self, shown: bool) -> None:
        # Laid over the table, not in its place: the table keeps its size and drawn lines.
        self.help_panel.display = shown
        (self.help_panel if shown else self.table).focus()

    async def action_quit(self) -> None:
        """Stop the worker and the demo (bounded), then exit."""
        await self.shutdown()
        self.exit(0)

    # Export

    def export(self, directory: Path) -> tuple[int, tuple[Path, Path]]:
        """Write the table as shown (filter and order) as `pgcluster-nodes-<time>.json` and
        `.csv`, one row per node as `nodes --json` has it; return the count and both paths."""
        rows = export_rows(self.model, self.table.order, self.table.now)
        now, settings = self.clock(), self.settings
        header = {"exported_at": iso(now), "channel": self.channel_shown, "node": settings.node}
        return len(rows), write_export(rows, directory, now, header)

    # Keys, help and the command palette

    def over_table(self) -> Iterable[Widget]:
        join = f"pgcluster-tui --dsn '{self.embedded_dsn}'" if self.embedded_dsn else None
        self.help_panel = HelpPanel(self.key_help(), self.settings.thresholds(), join)
        return (self.help_panel,)

    def key_help(self) -> list[tuple[str, str]]:
        """(keys as bound now, description) for every dashboard key."""
        return key_help(self.settings.keys, self.get_key_display)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette_commands(self)

    async def run_action(self, action: str | ActionParseResult, *args: Any, **kwargs: Any) -> bool:
        done = await super().run_action(action, *args, **kwargs)
        if done:
            return done
        # Greyed in the footer, but a key press must still say why nothing happens.
        if action in ("announce", "announce_as"):
            reason = not_connected(self.link)
            self.notify(reason, title="Not announced", severity="warning", markup=False)
        elif action in ("doctor", "doctor_all", "census") and (why := self._cannot(action)):
            self.notify(why, severity="warning", markup=False)
        return done
