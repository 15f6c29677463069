"""What the dashboard says: why a key does nothing, that the view is paused, and 1 node, not 1
nodes."""

from __future__ import annotations

from pathlib import Path

from pgcluster_tui.core.events import Disconnected, Notification, RetryScheduled
from tests.tui.conftest import log_text, make_settings, rows, shown, status
from tests.tui.replay import CHANNEL, NOW, cluster, make_app, replay_app
from tests.waiting import wait_until


def toasts(app: object) -> list[str]:
    """The title and message of every notification so far."""
    return [f"{n.title}: {n.message}" for n in app._notifications]  # type: ignore[attr-defined]


async def test_announcing_while_disconnected_says_why() -> None:
    app = make_app()
    async with app.run_test(size=(150, 34), notifications=True) as pilot:
        app.replay(
            [
                *cluster(),
                Disconnected(NOW, "server closed the connection"),
                RetryScheduled(NOW, 3.0, 2),
            ]
        )
        await wait_until(lambda: "retry in" in status(app))
        assert app.check_action("announce", ()) is None, "greyed in the footer"
        await pilot.press("a")
        await wait_until(lambda: toasts(app))
        (said,) = toasts(app)
        assert said.startswith("Not announced: Not connected to the database (server closed")
        assert "the next attempt is at 00:00:03" in said
        await pilot.press("A")
        await wait_until(lambda: len(toasts(app)) == 2)
        assert len(app.screen_stack) == 1, "no dialog for a name that cannot be sent"


async def test_a_paused_view_holds_its_counts_and_says_so_first() -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        app.replay(cluster())
        app.tick()
        await wait_until(lambda: "9 nodes" in status(app))
        await pilot.press("p")
        app.replay([Notification("during@pause", 9, NOW)])
        app.tick()
        await pilot.pause()
        assert "during@pause" in app.model
        second = status(app).splitlines()[1]
        assert second.startswith(" PAUSED  9 nodes"), second
        # Every state is counted at 120 columns, and the badge is still on screen.
        assert all(state in second for state in ("new", "alive", "late", "suspect", "stale"))
        assert any(line.startswith("  PAUSED ") for line in shown(app)), shown(app)[:3]
        await pilot.press("p")
        await wait_until(lambda: "10 nodes" in status(app))
        assert "PAUSED" not in status(app)


async def test_one_is_singular(tmp_path: Path) -> None:
    app = replay_app(make_settings(CHANNEL, tmp_path))
    async with app.run_test(size=(150, 34), notifications=True) as pilot:
        app.replay([Notification("old@h", 1, NOW - 60), Notification("x", 2, NOW)])
        app.tick()
        await wait_until(lambda: "1 node ✕1 stale" in status(app))
        assert "pid 2 sent 1 char (no @)" in log_text(app)
        await pilot.press("e")
        await wait_until(lambda: any("Exported 1 node to" in t for t in toasts(app)))
        await pilot.press("F")
        await wait_until(lambda: any("Forgot 1 stale node" in t for t in toasts(app)))
        assert rows(app) == []


async def test_names_left_untracked_at_the_cap_are_said_in_the_status_line() -> None:
    app = replay_app(make_settings(CHANNEL, max_nodes=3))
    async with app.run_test(size=(160, 40)):
        app.replay([Notification(f"n{i}@10.0.0.{i}", 100 + i, NOW) for i in range(5)])
        app.tick()
        await wait_until(lambda: "cap reached: 2 not tracked" in status(app))
        assert len(rows(app)) == 3
        second = status(app).splitlines()[1]
        assert second.index("probe") < second.index("cap reached"), "the probe is never pushed off"
