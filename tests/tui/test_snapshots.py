"""Snapshots of the dashboard: frozen clock, fixed size, no cursor blink, no outside env."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from pgcluster_tui.core.events import Fact
from pgcluster_tui.pg.census import Activity
from pgcluster_tui.tui.app import PgClusterApp
from pgcluster_tui.tui.screens.census import CensusScreen
from tests.tui.replay import (
    NOW,
    census_activity,
    cluster,
    doctor_reports,
    make_app,
    next_beat,
    outage,
)
from tests.waiting import wait_until

SIZE = (150, 34)

SnapCompare = Callable[..., bool]


@pytest.fixture(autouse=True)
def _deterministic(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """UTC clock times, and none of the machine's terminal or Textual settings."""
    for name in list(os.environ):
        if (name.startswith("TEXTUAL") and not name.startswith("TEXTUAL_SNAPSHOT")) or name in (
            "NO_COLOR",
            "COLORTERM",
            "FORCE_COLOR",
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def _settle(pilot: Pilot[int]) -> None:
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    app = pilot.app
    assert isinstance(app, PgClusterApp)
    app.tick()
    await pilot.pause()
    for field in app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def _replaying(
    *batches: Callable[[], list[Fact]], press: str = ""
) -> Callable[[Pilot[int]], Awaitable[None]]:
    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, PgClusterApp)
        for batch in batches:
            app.replay(batch())
            await _settle(pilot)
        # The selection follows its node across re-sorts, so where it lands depends on when
        # the first redraw ran; put it on the top row for a stable picture.
        app.table.move_cursor(0)
        await _settle(pilot)
        if press:
            screens = len(app.screen_stack)
            await pilot.press(press)
            # A dialog is a screen of its own; the help is a panel over the table.
            await wait_until(
                lambda: (
                    app.help_panel.display
                    or (len(app.screen_stack) > screens and app.screen.is_mounted)
                )
            )
            await _settle(pilot)

    return run_before


def test_main_view_with_every_state(snap_compare: SnapCompare) -> None:
    app = make_app()
    assert snap_compare(app, terminal_size=SIZE, run_before=_replaying(cluster, next_beat))
    states = {v.state.value for v in app.model.views(NOW)}
    assert states == {"new", "alive", "late", "suspect", "stale"}


def test_help_screen(snap_compare: SnapCompare) -> None:
    run_before = _replaying(cluster, next_beat, press="question_mark")
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_announce_dialog(snap_compare: SnapCompare) -> None:
    run_before = _replaying(cluster, next_beat, press="A")
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_disconnected_state(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_replaying(cluster, outage))


def test_node_details(snap_compare: SnapCompare) -> None:
    run_before = _replaying(cluster, next_beat, press="enter")
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(
        make_app(), terminal_size=(80, 24), run_before=_replaying(cluster, next_beat)
    )


def _doctored(press: str = "") -> Callable[[Pilot[int]], Awaitable[None]]:
    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, PgClusterApp)
        app.replay(cluster() + next_beat())
        for report, at in doctor_reports():
            app.doctoring.done(report.node, report, at)
        app.doctoring.start(["web2@10.0.1.18"])  # a check under way: no probe runs here
        await _settle(pilot)
        app.table.select("web1@10.0.1.17")
        await _settle(pilot)
        if press:
            await pilot.press(press)
            await wait_until(lambda: len(app.screen_stack) > 1 and app.screen.is_mounted)
            await _settle(pilot)

    return run_before


def test_doctor_marks(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_doctored())


def test_doctor_report_in_the_details(snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_doctored("enter"))


def test_census_screen(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, PgClusterApp)
        app.replay(cluster() + next_beat())
        await _settle(pilot)

        async def read() -> Activity:
            return census_activity()

        screen = CensusScreen(app.settings, read, lambda: app.link, "postgres")
        await app.push_screen(screen)
        await wait_until(lambda: screen.census is not None)
        await _settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)
