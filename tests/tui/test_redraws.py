"""What triggers a frame: events draw at once, plain beats wait for the 1 Hz tick."""

from __future__ import annotations

import psycopg

from pgcluster_tui.settings import Settings
from tests.tui.conftest import SIZE, dashboard
from tests.waiting import wait_until

NAME = "a@10.0.0.1"


async def test_plain_beats_wait_for_the_tick_and_joins_draw_at_once(
    dsn: str, channel: str, settings: Settings
) -> None:
    app = dashboard(settings, dsn)
    async with (
        app.run_test(size=SIZE),
        await psycopg.AsyncConnection.connect(dsn, autocommit=True) as peer,
    ):
        await wait_until(lambda: app.link.phase == "connected", what="connected")

        async def beat() -> None:
            before = app.model.beats_total
            await peer.execute("SELECT pg_notify(%s, %s)", (channel, NAME))
            await wait_until(lambda: app.model.beats_total > before, what="the beat applied")

        await beat()
        await wait_until(lambda: NAME in app.table.order, what="the join drawn")
        await beat()  # new -> alive: a state change, drawn within a frame
        pid = peer.info.backend_pid
        await wait_until(lambda: app.model.sender(pid) is not None, what="the sender attributed")
        await wait_until(
            lambda: not app.frames.dirty and "alive" in str(app.table.get_cell(NAME, "state")),
            what="the state change drawn",
        )
        await beat()  # a plain beat of a live node from the same backend
        assert not app.frames.dirty, "a plain beat asks for no immediate frame"
        await wait_until(
            lambda: str(app.table.get_cell(NAME, "beats")) == "3",
            timeout=3,
            what="the tick draws the count",
        )
