"""The footer keeps no keys it drew before: changes of bindings do not add up in memory."""

from __future__ import annotations

import gc

from tests.tui.conftest import SIZE
from tests.tui.replay import cluster, make_app


def footer_keys_alive() -> int:
    """FooterKey widgets still in memory."""
    gc.collect()
    return sum(type(o).__name__ == "FooterKey" for o in gc.get_objects())


async def test_changes_of_bindings_leave_no_old_footer_keys_behind() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.replay(cluster())
        await pilot.pause()
        shown = footer_keys_alive()
        for _ in range(40):
            app.refresh_bindings()
            await pilot.pause()
        assert footer_keys_alive() <= 2 * shown, "each recompose kept its keys alive"
