"""The census: who listens and who sends on which channel, server-wide; choose one to watch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import ClassVar

from psycopg.conninfo import conninfo_to_dict
from rich.console import Group, RenderableType
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from pgcluster_tui.core.census import Census, Channel, Member, Session, take_census
from pgcluster_tui.core.format import plural
from pgcluster_tui.core.link import LinkState
from pgcluster_tui.core.protocol import ProtocolError, validate_channel
from pgcluster_tui.diagnose import Mask, expected_channels
from pgcluster_tui.pg.census import Activity
from pgcluster_tui.pg.errors import WorkerError
from pgcluster_tui.settings import Settings
from pgcluster_tui.tui.text import cells

MEMBERS_SHOWN = 20
"""Sessions listed per side of a channel; the rest are counted."""

WATCHES = "enter watches this channel: the table, history and log start fresh"


def named_database(conninfo: str) -> str:
    """The database a connection string names ('' when it names none)."""
    try:
        return str(conninfo_to_dict(conninfo).get("dbname") or "")
    except Exception:  # an unparseable string: the census itself then fails to connect
        return ""


def as_watching(
    sessions: Sequence[Session], listener_pid: int | None, channel: str
) -> list[Session]:
    """The sessions, our listener's as a LISTEN on the channel watched."""
    # The worker LISTENs on the channel watched last, so the server shows that; a census read
    # between its two LISTENs (as it connects) would show the private probe channel instead.
    statement = 'LISTEN "{}"'.format(channel.replace('"', '""'))
    return [replace(s, query=statement) if s.pid == listener_pid else s for s in sessions]


def our_database(sessions: Sequence[Session], listener_pid: int | None, named: str) -> str:
    """The database our listener is in: its session's, else the one named ('' unknown)."""
    return next((s.database for s in sessions if s.pid == listener_pid), named)


class CensusScreen(ModalScreen[str | None]):
    """The census of the server; enter on a channel of our database returns it, to be watched."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="census_close"),
        Binding("r", "read", "Read again", id="census_read"),
    ]

    class Taken(Message):
        """The census was read, with the database our listener is in."""

        def __init__(self, census: Census, database: str) -> None:
            super().__init__()
            self.census = census
            self.database = database

    class Failed(Message):
        """The census could not be read, said in one line."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def __init__(
        self,
        settings: Settings,
        read: Callable[[], Awaitable[Activity]],
        link: Callable[[], LinkState],
        named: str = "",
    ) -> None:
        super().__init__()
        self.settings = settings
        self.read = read
        """Reads pg_stat_activity (WorkerError when it cannot)."""
        self.link = link
        """Our link now: which sessions are ours."""
        self.ours: set[int] = set()
        """The backend pids of our own sessions when the census was read."""
        self.named = named
        """The database the connection string names, if our listener's session is not seen."""
        self.mask = Mask(settings)
        self.census: Census | None = None
        self.database = ""
        """The database our listener is in: the only one whose channels we can watch."""
        self.head = Static(Text("reading pg_stat_activity…"), id="census-head")
        self.channels = OptionList(id="census-channels")
        self.body = Static(id="census-body")
        self.message = Static(Text(""), id="census-message")

    def compose(self) -> ComposeResult:
        dialog = Vertical(id="census-dialog")
        dialog.border_title = "Census: who listens and who sends, server-wide"
        dialog.border_subtitle = "enter watches a channel · r reads again · escape closes"
        with dialog:
            yield self.head
            yield self.channels
            with VerticalScroll(id="census-detail"):
                yield self.body
            yield self.message

    def on_mount(self) -> None:
        self.channels.focus()
        self.action_read()

    def show(self, text: str, limit: int = 200) -> str:
        """Untrusted text as shown: our cookie masked, escapes visible, cut to `limit`."""
        shown = cells(self.mask(text))
        return shown if len(shown) <= limit else shown[: limit - 1] + "…"

    # Reading

    def action_read(self) -> None:
        """Read the census again."""
        self.head.update(Text("reading pg_stat_activity…"))
        link = self.link()
        self.ours = {pid for pid in (link.listener_pid, link.sender_pid) if pid is not None}
        self._read(link.listener_pid)

    @work(exclusive=True, group="census", exit_on_error=False)
    async def _read(self, listener_pid: int | None) -> None:
        try:
            activity = await self.read()
            sessions = as_watching(activity.sessions, listener_pid, self.settings.channel)
            census = take_census(
                sessions,
                user=activity.user,
                grant=activity.grant,
                expected=expected_channels(self.settings),
            )
        except WorkerError as exc:
            self.post_message(self.Failed(str(exc)))
            return
        except Exception as exc:  # the screen must say why nothing came, not wait forever
            self.post_message(self.Failed(f"{type(exc).__name__}: {exc}"))
            return
        database = our_database(activity.sessions, listener_pid, self.named)
        self.post_message(self.Taken(census, database))

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.head.update(Text(f"the census could not be read: {cells(message.error)}"))

    @on(Taken)
    def _taken(self, message: Taken) -> None:
        census = self.census = message.census
        self.database = message.database
        self.head.update(self._head(census))
        self.channels.clear_options()
        self.channels.add_options(
            [Option(self._prompt(entry), id=str(i)) for i, entry in enumerate(census.channels)]
        )
        watched = next((i for i, e in enumerate(census.channels) if self._watched(e)), 0)
        if census.channels:
            self.channels.highlighted = watched
        else:
            self.body.update(Text("no session's last statement is a LISTEN or NOTIFY"))

    def _watched(self, entry: Channel) -> bool:
        return entry.database == self.database and entry.channel == self.settings.channel

    # Drawing

    def _head(self, census: Census) -> RenderableType:
        count = census.problem_count()
        head = Text(
            f"{plural(census.sessions, 'client session')} as role {self.show(census.user, 63)}"
            f" · visibility {census.visibility} · "
        )
        head.append(f"{plural(count, 'problem')}" if count else "no problem", style="bold")
        watching = Text(f'the dashboard watches "{self.show(self.settings.channel, 80)}"')
        if self.database:
            watching.append(f" in database {self.show(self.database, 63)}")
        lines: list[RenderableType] = [head, watching]
        for hidden in census.hidden:
            roles = ", ".join(self.show(role, 63) for role in hidden.roles)
            lines.append(
                Text(
                    f"hidden: {plural(hidden.sessions, 'session')} in database "
                    f"{self.show(hidden.database, 63)} (roles {roles})"
                )
            )
        if census.grant:
            lines.append(Text(f"to see every session, a superuser runs: {self.show(census.grant)}"))
        lines.extend(
            Text(f"! {p.code}: {self.show(p.message, 400)}", style="bold") for p in census.problems
        )
        return Group(*lines)

    def _prompt(self, entry: Channel) -> Text:
        prompt = Text(no_wrap=True, overflow="ellipsis")
        prompt.append("● " if self._watched(entry) else "  ", style="bold")
        prompt.append("! " if entry.problems else "  ", style="bold")
        prompt.append(self.show(entry.database, 24), style="dim")
        name = f'"{self.show(entry.channel, 80)}"' if entry.channel else "channel not visible"
        prompt.append(f"  {name}  ")
        prompt.append(
            f"{len(entry.listeners)} listening · {len(entry.senders)} sending", style="dim"
        )
        if self._only_ours(entry):
            prompt.append(" · this dashboard's own", style="dim")
        return prompt

    def _only_ours(self, entry: Channel) -> bool:
        return all(m.session.pid in self.ours for m in (*entry.listeners, *entry.senders))

    def _channel(self, entry: Channel) -> RenderableType:
        head = Text(f"database {self.show(entry.database, 63)} · ", style="bold")
        if entry.channel is None:
            head.append("channel not visible", style="bold")
        else:
            head.append("channel ", style="bold")
            head.append(f'"{self.show(entry.channel, 80)}"')
        lines: list[RenderableType] = [head]
        counts = f"{len(entry.listeners)} listening, {len(entry.senders)} sending"
        nodes = entry.nodes
        if nodes:
            shown = ", ".join(self.show(node, 80) for node in nodes[:MEMBERS_SHOWN])
            more = f" and {len(nodes) - MEMBERS_SHOWN} more" if len(nodes) > MEMBERS_SHOWN else ""
            counts += f"; nodes: {shown}{more}"
        lines.append(Text(counts, overflow="fold"))
        for verb, members in (("listens", entry.listeners), ("sends", entry.senders)):
            lines.extend(self._member(verb, member) for member in members[:MEMBERS_SHOWN])
            if len(members) > MEMBERS_SHOWN:
                lines.append(Text(f"  … and {len(members) - MEMBERS_SHOWN} more", style="dim"))
        lines.extend(
            Text(f"! {p.code}: {self.show(p.message, 400)}", style="bold", overflow="fold")
            for p in entry.problems
        )
        return Group(*lines)

    def _member(self, verb: str, member: Member) -> Text:
        s = member.session
        who = [f"pid {s.pid}", self.show(s.address or "-", 40)]
        if s.application:
            who.append(f"app {self.show(s.application, 40)}")
        who.append(f"user {self.show(s.user, 40)}")
        if s.pid in self.ours:
            who.append("(this dashboard)")
        text = Text(f"  {verb:<7} {' '.join(who)}: ", overflow="fold")
        text.append(self.show(s.query or "", 200), style="dim")
        return text

    @on(OptionList.OptionHighlighted, "#census-channels")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        entry = self._entry(event.option)
        if entry is not None:
            self.body.update(self._channel(entry))
            self.query_one("#census-detail", VerticalScroll).scroll_home(animate=False)
            self._say(self.why_not(entry) or WATCHES)

    # Choosing

    def _entry(self, option: Option) -> Channel | None:
        if self.census is None or option.id is None:
            return None
        return self.census.channels[int(option.id)]

    def why_not(self, entry: Channel) -> str | None:
        """Why this channel cannot be watched from here, if it cannot."""
        if entry.channel is None:
            return "Its channel is not visible (a bound parameter, or not read): nothing to watch."
        if self._watched(entry):
            return "The dashboard watches this channel."
        if self._only_ours(entry):
            return "Only the dashboard's own sessions use this channel (its listener's probe)."
        if not self.database:
            return "Which database the dashboard is in is not known yet: read again once connected."
        if entry.database != self.database:
            return (
                f"LISTEN/NOTIFY is per database: this channel is in database "
                f"{self.show(entry.database, 63)}, the dashboard in {self.show(self.database, 63)}."
                " Start it with a connection to that database to watch it."
            )
        try:
            validate_channel(entry.channel)
        except ProtocolError as exc:
            return f"It cannot be watched: {cells(str(exc))}"
        return None

    @on(OptionList.OptionSelected, "#census-channels")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        entry = self._entry(event.option)
        if entry is None:
            return
        reason = self.why_not(entry)
        if reason is not None:
            self._say(reason, problem=True)
            return
        self.dismiss(entry.channel)

    def _say(self, text: str, *, problem: bool = False) -> None:
        self.message.set_class(problem, "-invalid")
        self.message.update(Text(text))

    def action_close(self) -> None:
        """Close without switching."""
        self.dismiss(None)
