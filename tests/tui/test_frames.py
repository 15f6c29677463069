"""Frames: a row that appears on screen is drawn within a frame period, everything else within
SOON_SECONDS, and neither more often than its period (Frames on a clock of the test's own)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from typing import Any, cast

from textual.message_pump import MessagePump

from pgcluster_tui.core.events import Notification
from pgcluster_tui.tui.app import PgClusterApp
from pgcluster_tui.tui.frames import FRAME_SECONDS, SOON_SECONDS, Frames
from pgcluster_tui.tui.widgets.scrolling import drawn
from tests.tui.conftest import SIZE, shown
from tests.tui.replay import NOW, make_app
from tests.waiting import wait_until


class Pump:
    """Timers asked for, fired by the test."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, Callable[[], Any]]] = []

    def set_timer(self, delay: float, callback: Callable[[], Any], name: str) -> None:
        self.timers.append((delay, callback))

    def call_later(self, callback: Callable[..., Any], *args: Any) -> None:
        self.timers.append((0.0, lambda: callback(*args)))


class Drawn:
    """Frames on a fake clock, and what each of their calls drew."""

    def __init__(self, rows_on_screen: bool = False) -> None:
        self.now = 100.0
        self.pump = Pump()
        self.calls: list[str] = []
        self.rows_on_screen = rows_on_screen
        self.frames = Frames(
            cast(MessagePump, self.pump), self.draw, self.draw_rows, self.draw_status, self.clock
        )

    def clock(self) -> float:
        return self.now

    def draw(self) -> None:
        self.calls.append("all")
        self.frames.drawn(self.now)

    def draw_rows(self) -> bool:
        self.calls.append("rows")
        if self.rows_on_screen:
            self.draw()
        return self.rows_on_screen

    def draw_status(self) -> None:
        self.calls.append("status")

    def run_timers(self, at: float) -> None:
        """Move the clock to `at`, firing every timer due by then in order."""
        while True:
            due = [(self.now + d, cb) for d, cb in self.pump.timers if self.now + d <= at]
            if not due:
                break
            when, callback = min(due, key=lambda t: t[0])
            self.pump.timers = [
                (self.now + d - when, cb) for d, cb in self.pump.timers if cb is not callback
            ]
            self.now = when
            callback()
        self.pump.timers = [(self.now + d - at, cb) for d, cb in self.pump.timers]
        self.now = at


def test_a_row_on_screen_draws_the_whole_frame_within_a_frame_period() -> None:
    d = Drawn(rows_on_screen=True)
    d.draw()
    d.calls.clear()
    start = d.now
    d.frames.want()
    d.run_timers(start + FRAME_SECONDS - 0.01)
    assert d.calls == []
    d.run_timers(start + FRAME_SECONDS + 0.001)
    assert d.calls == ["rows", "all"]
    assert not d.frames.dirty
    d.run_timers(start + 1.0)
    assert d.calls == ["rows", "all"], "nothing left to draw"


def test_rows_off_screen_wait_for_the_soon_frame_and_are_looked_at_once_a_period() -> None:
    d = Drawn(rows_on_screen=False)
    d.draw()
    d.calls.clear()
    start = d.now
    for k in range(12):  # a join every 20 ms, none of them on screen
        d.run_timers(start + 0.02 * k)
        d.frames.want()
    d.run_timers(start + SOON_SECONDS - 0.01)
    looks = d.calls.count("rows")
    assert "all" not in d.calls
    assert 2 <= looks <= SOON_SECONDS / FRAME_SECONDS, d.calls
    d.run_timers(start + SOON_SECONDS + 0.001)
    assert d.calls[-1] == "all"
    assert not d.frames.dirty


def test_soon_changes_never_look_at_the_rows_and_draw_once_per_soon_period() -> None:
    d = Drawn(rows_on_screen=True)
    d.draw()
    d.calls.clear()
    start = d.now
    for k in range(50):  # a node turning alive every 20 ms for a second
        d.run_timers(start + 0.02 * k)
        d.frames.want(soon=True)
    d.run_timers(start + 1.3)
    assert "rows" not in d.calls
    assert d.calls == ["all"] * 4 or d.calls == ["all"] * 5, d.calls


def test_a_status_change_is_drawn_within_a_frame_period_without_the_rest() -> None:
    d = Drawn()
    d.draw()
    d.calls.clear()
    start = d.now
    d.frames.want(status_only=True)
    d.run_timers(start + FRAME_SECONDS + 0.001)
    assert d.calls == ["status"]
    d.frames.want(soon=True)
    d.frames.want(status_only=True)
    d.run_timers(start + 2 * FRAME_SECONDS + 0.001)
    assert d.calls == ["status", "status"]
    d.run_timers(start + SOON_SECONDS + 0.001)
    assert d.calls == ["status", "status", "all"]


def names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:03d}@10.0.0.1" for i in range(count)]


async def test_the_dashboard_draws_a_join_on_screen_at_once_and_one_below_later() -> None:
    app = make_app()
    looked: list[tuple[bool, list[str]]] = []  # each look: whether it drew, the order after it
    rows = app._redraw_rows

    def recording() -> bool:
        drew = rows()
        looked.append((drew, list(app.table.order)))
        return drew

    app.frames._draw_rows = recording
    async with app.run_test(size=SIZE) as pilot:
        app.replay([Notification(name, 4000 + i, NOW) for i, name in enumerate(names("m", 60))])
        await wait_until(lambda: len(app.table.order) == 60, what="60 rows")
        await pilot.pause()
        looked.clear()
        app.replay([Notification("a-first@10.0.0.2", 5000, NOW)])  # sorts first: on screen
        await wait_until(lambda: looked, what="a look at the rows")
        assert looked[0][0], "drawn with the rows"
        assert looked[0][1][0] == "a-first@10.0.0.2"
        looked.clear()
        app.replay([Notification("z-last@10.0.0.2", 5001, NOW)])  # sorts last: below
        await wait_until(lambda: looked, what="a look at the rows")
        assert not looked[0][0], "nothing on screen changed: the rest waits"
        assert "z-last@10.0.0.2" not in looked[0][1]
        await wait_until(lambda: app.table.order[-1] == "z-last@10.0.0.2", what="drawn soon")
        assert "62 nodes" in app.query_one("#status").render_line(1).text, "the count follows"


async def test_a_new_node_turning_alive_waits_for_the_tick_and_a_recovery_does_not() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.replay([Notification("solo@10.0.0.3", 4000, NOW - 60)])
        await wait_until(lambda: app.table.order == ["solo@10.0.0.3"], what="the join")
        await pilot.pause()
        app.replay([Notification("solo@10.0.0.3", 4000, NOW - 55)])
        # Its second beat confirms it, as expected: drawn with the ages, like a plain beat.
        assert not app.frames.dirty
        app.tick()
        await wait_until(
            lambda: "alive" not in str(app.table.get_cell("solo@10.0.0.3", "state")),
            what="silent for 55 s",
        )
        app.replay([Notification("solo@10.0.0.3", 4000, NOW)])
        assert app.frames.dirty, "a recovery is news: drawn within the soon period"
        await wait_until(
            lambda: "alive" in str(app.table.get_cell("solo@10.0.0.3", "state")),
            what="the recovery drawn",
        )


def stale_lines(app: PgClusterApp) -> list[str]:
    """Table lines on screen that differ from what the table draws now (a line whose change
    was never asked to be redrawn)."""
    region = app.table.scrollable_content_region
    screen = shown(app)
    stale = []
    for i in range(region.height):
        on_screen = screen[region.y + i][region.x : region.right]
        fresh = app.table.render_line(i).text[: region.width]
        if on_screen != fresh:
            at = next(x for x, (a, b) in enumerate(zip(on_screen, fresh, strict=False)) if a != b)
            stale.append(
                f"line {i} at {at}: {on_screen[at : at + 30]!r} != {fresh[at : at + 30]!r}"
            )
    return stale


async def test_rows_that_move_are_redrawn_and_nothing_stale_stays_on_screen() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        first = names("m", 40)
        app.replay([Notification(name, 4000 + i, NOW - 5) for i, name in enumerate(first)])
        await wait_until(lambda: len(app.table.order) == 40, what="40 rows")
        steps: list[list[Notification]] = [
            [Notification("m005x@10.0.0.1", 6000, NOW - 4)],  # joins in the middle of the screen
            [Notification("zz@10.0.0.1", 6001, NOW - 4)],  # joins below the screen
            [Notification(first[3], 4003, NOW - 3)],  # alive: moves down, the rest moves up
            [Notification(first[0], 4000, NOW - 3), Notification(first[1], 4001, NOW - 3)],
            [Notification("a@10.0.0.1", 6002, NOW - 2)],  # joins at the top
        ]
        for number, step in enumerate(steps):
            app.replay(step)
            await wait_until(lambda: not app.frames.dirty, what="the frame drawn")
            await pilot.pause()
            assert stale_lines(app) == [], number
        await pilot.press("down", "down", "down")
        app.replay([Notification(first[10], 4010, NOW - 1)])  # the cursor's neighbour moves
        await wait_until(lambda: not app.frames.dirty, what="the frame drawn")
        await pilot.pause()
        assert stale_lines(app) == []


async def test_scroll_bars_redrawn_only_when_their_thumb_moves_still_show_the_truth() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        bars = [app.table.vertical_scrollbar, app.events_log.vertical_scrollbar]
        redrawn: dict[int, list[object]] = {id(bar): [] for bar in bars}
        for bar in bars:
            original = bar.refresh

            def recording(*args: Any, _bar: Any = bar, _original: Any = original, **kw: Any) -> Any:
                if sys._getframe(1).f_code.co_name == "_redraw_if_moved":  # ours, not Textual's
                    redrawn[id(_bar)].append(drawn(_bar))
                return _original(*args, **kw)

            bar.refresh = recording  # type: ignore[method-assign]
        for i, name in enumerate(names("g", 90)):  # a join a frame: the table and the log grow
            app.replay([Notification(name, 4000 + i, NOW)])
            await wait_until(lambda: not app.frames.dirty, what="the frame drawn")
        await pilot.press("end")  # the table scrolls to its last row
        await pilot.pause()
        for bar in bars:
            thumbs = redrawn[id(bar)]
            assert thumbs, "the thumb moved: the bar was redrawn"
            assert all(a != b for a, b in itertools.pairwise(thumbs)), "a redraw changed nothing"
        assert len(redrawn[id(bars[1])]) < 45, "most lines the log adds leave its thumb alone"
        for widget, bar in ((app.table, bars[0]), (app.events_log, bars[1])):
            assert bar.window_virtual_size == widget.virtual_size.height
            assert bar.position == widget.scroll_y
        before = shown(app)
        for bar in bars:
            bar.refresh()  # Textual's own redraw, from the bars' figures as they are now
        await pilot.pause()
        assert shown(app) == before, "a bar on screen was stale"
