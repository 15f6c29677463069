"""The footer is recomposed only when its keys change, and keeps no keys it drew before."""

from __future__ import annotations

import gc

from textual.pilot import Pilot

from pgcluster_tui.tui.app import PgClusterApp
from pgcluster_tui.tui.widgets.footer import Footer
from tests.tui.conftest import NODE, SIZE
from tests.tui.replay import cluster, make_app
from tests.waiting import wait_until


async def cluster_shown(app: PgClusterApp, pilot: Pilot[int]) -> Footer:
    """Replay the cluster; return the footer once the table shows it."""
    app.replay(cluster())
    await wait_until(lambda: NODE in app.table.order, what="the cluster shown")
    await pilot.pause()
    return app.query_one(Footer)


def filter_rows(app: PgClusterApp, words: str) -> None:
    """Filter the table at once (no node shown greys out forget and details)."""
    app.table.set_filter(words)
    app._redraw_now()


def footer_keys_alive() -> int:
    """FooterKey widgets still in memory."""
    gc.collect()
    return sum(type(o).__name__ == "FooterKey" for o in gc.get_objects())


async def test_changes_of_bindings_leave_no_old_footer_keys_behind() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        bar = await cluster_shown(app, pilot)
        shown = footer_keys_alive()
        before = bar.recomposed
        for _ in range(20):
            for words in ("no-such-node", ""):
                filter_rows(app, words)
                await pilot.pause()
        assert bar.recomposed - before >= 20, "the keys changed: the footer must follow"
        assert footer_keys_alive() <= 2 * shown, "each recompose kept its keys alive"


async def test_the_footer_is_not_recomposed_when_its_keys_stay_the_same() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        bar = await cluster_shown(app, pilot)
        # Recomposes already asked for find the keys they would draw drawn.
        await wait_until(lambda: bar._composed == bar.shown(), what="the footer up to date")
        before = bar.recomposed
        for _ in range(10):
            app.refresh_bindings()
            await pilot.pause()
        assert bar.recomposed == before
        # A real change still gets through.
        filter_rows(app, "no-such-node")
        await wait_until(lambda: bar.recomposed > before, what="the footer recomposed")
