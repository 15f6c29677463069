"""The view apart from the producer: recorded worker facts replayed on a frozen clock."""

from __future__ import annotations

from pgcluster_tui.core.events import (
    Connected,
    Disconnected,
    ListenerSilent,
    Notification,
    QueueUsageMeasured,
    RetryScheduled,
    SenderAttributed,
)
from pgcluster_tui.core.text import visible as literal
from tests.tui.conftest import NODE, SIZE, cell, make_settings, rows, status
from tests.tui.replay import NOW, TARGET, cluster, make_app, replay_app
from tests.waiting import wait_until


def test_literal_makes_every_control_character_visible() -> None:
    assert literal("a\x1b[31mb") == "a\\x1b[31mb"
    assert literal("\x1b]0;t\x07") == "\\x1b]0;t\\x07"
    assert literal("x\u202ey\x9b") == "x\\u202ey\\x9b"
    assert literal("[bold]ok@host") == "[bold]ok@host"


async def test_a_full_queue_is_loud() -> None:
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True):
        app.replay([*cluster(), QueueUsageMeasured(NOW, 0.07)])
        await wait_until(lambda: "QUEUE 7.0% FULL" in status(app))
        assert any("every NOTIFY fails" in str(n.message) for n in app._notifications)


async def test_a_silent_listener_is_loud() -> None:
    app = make_app()
    async with app.run_test(size=SIZE):
        app.replay([*cluster(), ListenerSilent(NOW, 7.5)])
        await wait_until(lambda: "probe LOST" in status(app))
        assert "listener silent for 7.5s" in "\n".join(s.text for s in app.events_log.lines)


async def test_the_disconnected_state_freezes_ages_and_counts_down() -> None:
    now = [NOW]
    app = replay_app(make_settings("c"), clock=lambda: now[0])
    async with app.run_test(size=SIZE):
        app.replay(
            [
                Connected(NOW - 10, TARGET, "18.1", "postgres", 1, 2),
                Notification("a@h", 7, NOW - 1),
                Disconnected(NOW, "boom [bold]x"),
                RetryScheduled(NOW, 9.5, 2),
            ]
        )
        await wait_until(lambda: "retry in 10s (attempt 2)" in status(app))
        assert "boom [bold]x" in status(app)
        assert app.check_action("announce", ()) is None
        now[0] += 30
        app.tick()
        assert cell(app, "a@h", "age").endswith("1.0s"), "our outage is not the node's silence"
        assert "retry in 0s" in status(app)
        app.replay([Connected(now[0], TARGET, "18.1", "postgres", 3, 4)])
        await wait_until(lambda: "reconnects 1" in status(app))


async def test_the_log_is_bounded_and_follows_unless_scrolled_up() -> None:
    app = replay_app(make_settings("c", log_size=10))
    async with app.run_test(size=SIZE) as pilot:
        app.replay([Notification(f"n{i}@h", i, NOW) for i in range(40)])
        await wait_until(lambda: len(rows(app)) == 40)
        log = app.events_log
        assert len(log.lines) == 10
        assert log.lines[-1].text.rstrip().endswith("n39@h from pid 39")
        await pilot.pause()
        assert log.is_vertical_scroll_end
        log.scroll_home(animate=False, immediate=True)
        app.replay([Notification(f"m{i}@h", i, NOW) for i in range(5)])
        await wait_until(lambda: log.lines[-1].text.rstrip().endswith("m4@h from pid 4"))
        await pilot.pause()
        assert log.scroll_offset.y == 0, "scrolled up: the log stays where the user is"


async def test_sender_attribution_shows_literally() -> None:
    app = make_app()
    async with app.run_test(size=SIZE):
        app.replay(
            [
                *cluster(),
                Notification("x@h", 9000, NOW),
                SenderAttributed(NOW, 9000, "10.0.0.9", "\x1b[2J[bold]app", "u", ""),
            ]
        )
        await wait_until(lambda: "x@h" in rows(app))
        await wait_until(lambda: "app" in cell(app, "x@h", "senders"))
        assert cell(app, "x@h", "senders") == "9000 10.0.0.9 \\x1b[2J[bold]app"
        assert cell(app, NODE, "name").startswith("★ ")


async def test_a_theme_change_recolours_every_cell() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.replay(cluster())
        await wait_until(lambda: "web1@10.0.1.17" in rows(app))
        app.tick()
        before = app.table.get_cell("web1@10.0.1.17", "state").style
        before_alive = app.status_line._style("alive")  # the status line recolours too
        app.theme = "textual-light"
        await pilot.pause()
        app.tick()
        after = app.table.get_cell("web1@10.0.1.17", "state").style
        assert before != after
        status = app.status_line
        assert status._style("alive") != before_alive
        assert status.render_line(0).text.strip().startswith("●")


def test_literal_escapes_zero_width_and_lone_surrogates() -> None:
    assert literal("a\u200bb") == "a\\u200bb"
    assert literal("x\udcff") == "x\\udcff"
