"""The footer is recomposed only when its keys change, and keeps no keys it drew before."""

from __future__ import annotations

import gc

from pgcluster_tui.tui.widgets.footer import Footer
from tests.tui.conftest import NODE, SIZE
from tests.tui.replay import cluster, make_app
from tests.waiting import wait_until


def footer_keys_alive() -> int:
    """FooterKey widgets still in memory."""
    gc.collect()
    return sum(type(o).__name__ == "FooterKey" for o in gc.get_objects())


async def test_changes_of_bindings_leave_no_old_footer_keys_behind() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.replay(cluster())
        await wait_until(lambda: NODE in app.table.order, what="the cluster shown")
        await pilot.pause()
        shown = footer_keys_alive()
        bar = app.query_one(Footer)
        before = bar.recomposed
        for _ in range(20):
            # No node shown greys out forget and details; the cluster back enables them.
            for words in ("no-such-node", ""):
                app.table.set_filter(words)
                app._redraw_now()
                await pilot.pause()
        assert bar.recomposed - before >= 20, "the keys changed: the footer must follow"
        assert footer_keys_alive() <= 2 * shown, "each recompose kept its keys alive"


async def test_the_footer_is_not_recomposed_when_its_keys_stay_the_same() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.replay(cluster())
        await wait_until(lambda: NODE in app.table.order, what="the cluster shown")
        await pilot.pause()
        bar = app.query_one(Footer)
        # Recomposes already asked for find the keys they would draw drawn.
        await wait_until(lambda: bar._composed == bar.shown(), what="the footer up to date")
        before = bar.recomposed
        for _ in range(10):
            app.refresh_bindings()
            await pilot.pause()
        assert bar.recomposed == before
        # A real change still gets through.
        app.table.set_filter("no-such-node")
        app._redraw_now()
        await wait_until(lambda: bar.recomposed > before, what="the footer recomposed")
